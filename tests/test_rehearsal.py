"""The rehearsal profile: the real route (paper configurations, real layout, every protocol) with a tiny model."""
import json

import pytest

import valstudy.data.marker as marker
from valstudy.config import PROFILES
from valstudy.data.standin import NOTE, write_standins
from valstudy.data.synth import synthesize
from valstudy.study.plan import plan, profile_paths
from valstudy.study.tasks import ensure_data, run_task


@pytest.fixture(autouse=True)
def forget_loaded_standins():
    yield
    marker._loaded.clear()


def test_rehearsal_runs_the_paper_configurations_tiny_on_stand_ins(tmp_path, capsys):
    root = tmp_path / "real"
    synthesize("fashioniq", root / "fashioniq", size="tiny", seed=0)
    for p in (root / "fashioniq").rglob("*.jpg"):     # real annotation files without their images
        p.unlink()
    write_standins("fashioniq", root / "fashioniq")
    prof = PROFILES["rehearsal"]
    assert prof.real_data and prof.config_kind == "paper"
    ensure_data("fashioniq", prof, root, check_images=True)           # data check, every image decoded
    assert NOTE in capsys.readouterr().out
    specs = plan("fashioniq", prof, root)
    assert {s.config.name for s in specs} == {"fashioniq_paper"}
    assert all(s.config.model.backbone == "small" and s.config.steps == 2 for s in specs)
    assert all(s.config.data.root == str(root / "fashioniq") for s in specs)
    paths = profile_paths(prof, data=root, runs=tmp_path / "runs", records=tmp_path / "records",
                          figures=tmp_path / "figures")
    paths.runs.mkdir(), paths.records.mkdir()  # the study's command makes them before submitting
    for spec in specs:                       # what a study worker does with each run: train, evaluate, record
        assert "train" in run_task(spec, paths)["done"]
        res = json.loads((paths.runs / spec.name / "results.json").read_text())
        assert res["stand_in_images"] is True and res["note"] == NOTE
        assert {(r["protocol"], r["category"]) for r in res["splits"]} == {
            (p, c) for p in ("val", "official") for c in ("dress", "shirt", "toptee")}
