"""Configuration: one home, every named configuration builds with consistent derived values, overrides, the saved
form and the comparison with a saved run."""
import json

import pytest

from valstudy.config import (ABLATIONS, STUDY_ABLATIONS, CONFIGS, DATASETS, METHODS, PROFILES, DataConfig, ModelConfig, TrainConfig,
                             apply_overrides, config_differences, config_from_dict, config_hash, config_to_dict,
                             get_config)
from valstudy.errors import ValstudyError


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_named_configuration_builds_with_consistent_derived_values(name):
    cfg = get_config(name)
    dataset, kind = name.rsplit("_", 1)
    assert cfg.name == name and cfg.data.dataset == dataset and kind in ("paper", "synth")
    assert cfg.data.image_size == cfg.model.image_size  # one input side: the JA kernels cover the maps
    assert cfg.data.root.endswith(dataset) and cfg.steps > 0
    assert config_from_dict(json.loads(json.dumps(config_to_dict(cfg)))) == cfg  # saved and read back unchanged
    for method in METHODS:
        assert get_config(name, {"model.method": method}).model.method == method


def test_registries_name_what_the_code_builds():
    from valstudy.data import DATASETS as LOADERS
    from valstudy.data.synth import DATASETS as SYNTH
    from valstudy.models.build import _MODELS

    assert tuple(LOADERS) == DATASETS == SYNTH and tuple(_MODELS) == METHODS
    assert {c.data.dataset for c in CONFIGS.values()} == set(DATASETS)


def test_image_size_is_one_setting():
    cfg = get_config("shoes_synth", ["data.image_size=96"])
    assert cfg.model.image_size == cfg.data.image_size == 96
    assert get_config("shoes_synth", {"model.image_size": 128}).data.image_size == 128
    with pytest.raises(ValstudyError, match="data.image_size 64 differs from model.image_size 128"):
        TrainConfig(data=DataConfig(image_size=64), model=ModelConfig(image_size=128))
    with pytest.raises(ValstudyError, match="differs"):
        get_config("shoes_synth", {"model.image_size": 128, "data.image_size": 96})


def test_overrides_parse_as_the_field_type():
    cfg = get_config("shoes_synth", ["keep_checkpoints=100,200", "model.levels=low", "lr=1e-3",
                                     'model.extra={"a": 1}', "model.glove_path=none", "side_info_root=x"])
    assert cfg.keep_checkpoints == (100, 200) and cfg.model.levels == ("low",) and cfg.lr == 1e-3
    assert cfg.model.extra == {"a": 1} and cfg.model.glove_path is None and cfg.side_info_root == "x"
    assert get_config("shoes_synth", {"keep_checkpoints": [5]}).keep_checkpoints == (5,)
    assert CONFIGS["shoes_synth"].keep_checkpoints == ()  # overrides never change the named configuration
    with pytest.raises(ValstudyError, match="model.method='nope': not allowed"):
        get_config("shoes_synth", ["model.method=nope"])
    with pytest.raises(ValstudyError, match="--set steps=many"):
        get_config("shoes_synth", ["steps=many"])
    with pytest.raises(ValstudyError, match="unknown configuration key 'colour'"):
        get_config("shoes_synth", {"data.colour": 1})


def test_a_saved_configuration_lacking_a_new_option_at_its_default_is_the_same_run(tmp_path):
    cfg = get_config("shoes_synth", {"seed": 2})
    saved = config_to_dict(cfg)
    del saved["keep_checkpoints"], saved["model"]["gate_bn_relu"]  # options added after the run was trained
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert config_differences(cfg, tmp_path) == []
    assert config_differences(apply_overrides(cfg, {"keep_checkpoints": (5,)}), tmp_path) == ["keep_checkpoints"]
    assert config_differences(apply_overrides(cfg, {"model.gate_bn_relu": True, "steps": 7}), tmp_path) == [
        "model.gate_bn_relu", "steps"]
    assert config_differences(cfg, tmp_path / "empty") is None
    # the short hash ignores settings at their defaults, so it is stable when an option is added
    assert config_hash(cfg) == config_hash(config_from_dict(saved))
    assert config_hash(cfg) != config_hash(apply_overrides(cfg, {"seed": 3}))


def test_paper_configurations_mine_semi_hard_negatives_as_the_authors_code(tmp_path):
    for dataset in DATASETS:
        paper, synth = get_config(f"{dataset}_paper"), get_config(f"{dataset}_synth")
        assert paper.triplet_mining == "code" and synth.triplet_mining == TrainConfig().triplet_mining == "per_anchor"
    # a synthetic study's run folder, saved before the option existed, is still the same run
    saved = config_to_dict(get_config("shoes_synth"))
    del saved["triplet_mining"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert config_differences(get_config("shoes_synth"), tmp_path) == []
    assert config_differences(get_config("shoes_synth", {"triplet_mining": "code"}), tmp_path) == ["triplet_mining"]
    with pytest.raises(ValstudyError, match="triplet_mining='broadcast': not allowed; expected one of per_anchor"):
        get_config("shoes_synth", ["triplet_mining=broadcast"])
    with pytest.raises(ValstudyError, match="triplet_fallback='none': not allowed; expected one of largest, zero"):
        get_config("shoes_synth", {"triplet_fallback": "none"})


def test_an_unknown_key_in_a_saved_configuration_is_named():
    saved = config_to_dict(get_config("shoes_synth"))
    saved["model"]["wings"] = 2
    with pytest.raises(ValstudyError, match=r"run/config.json \[model\]: unknown configuration key\(s\) wings"):
        config_from_dict(saved, "run/config.json")


def test_profiles_take_step_budgets_from_the_named_configurations():
    assert PROFILES["synthetic"].steps is None and PROFILES["real"].steps is None and PROFILES["smoke"].steps
    assert set(PROFILES["synthetic"].ablations) == set(STUDY_ABLATIONS) <= set(ABLATIONS) and PROFILES["synthetic"].seeds == (0, 1, 2)
    for p in PROFILES.values():
        assert set(p.methods) <= set(METHODS) and set(p.ablations) <= set(ABLATIONS)
        for key in p.overrides:  # every profile override is a real key
            apply_overrides(get_config("shoes_synth"), {key: p.overrides[key]})


def test_the_protocol_registry_matches_the_loaders():
    from valstudy.config import PROTOCOLS
    from valstudy.data import DATASETS as LOADERS

    assert {name: loader.protocols for name, loader in LOADERS.items()} == PROTOCOLS
