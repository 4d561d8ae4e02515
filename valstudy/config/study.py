"""The study's profiles (``PROFILES``: how much of the study to run) and the ablations of VAL it compares."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import ValstudyError
from .rules import METHODS

# ---------------------------------------------------------------------------------------------------- the study
PROFILE_ENV = "VALSTUDY_PROFILE"  # the environment variable that picks the profile of a notebook or command
FIGURES_ENV = "VALSTUDY_FIGURES_DIR"  # the environment variable that sends a notebook's figures and numbers elsewhere
DEFAULT_PROFILE = "synthetic"     # the profile a notebook or command runs when neither it nor the environment names one
SYNTH_SEED = 0                    # the random seed of the synthetic world the study trains and tests on


@dataclass(frozen=True)
class Profile:
    """Everything that differs between profiles, in one place: how much of the study to run, where its data, runs,
    records and figures live, and what its notebooks print.

    Step budgets come from each dataset's named configuration (``*_synth`` or ``*_paper``); only ``smoke`` and
    ``rehearsal`` shorten them. Folders are relative to the repository.
    """

    name: str
    data_size: str                       # synthetic dataset size (tiny | small | medium); "real" for real data
    seeds: tuple[int, ...]               # random seeds of every run (method comparison and ablations)
    methods: tuple[str, ...]
    ablations: tuple[str, ...]
    evaluations: int = 0                 # evaluations during training of every run (validation curves); 0 = none
    steps: int | None = None             # None = the named configuration's steps (smoke: a few)
    snapshots: tuple[float, ...] = ()    # fractions of the steps at which VAL's method runs keep ckpt_<step>.pt
    overrides: dict = field(default_factory=dict)  # further settings for every run
    data_dir: str = "data/synthetic"     # synthetic: where the generated worlds go (<data_dir>/<dataset>); real: the default root
    runs_dir: str = "runs/synthetic"     # run folders: <runs_dir>/<dataset>/<variant>/seed<k>
    records_dir: str = "records/synthetic"  # one record per finished run (committed for the synthetic study)
    figures_dir: str = "figures"         # figures, tables and each notebook's numbers
    executed_dir: str | None = None      # where executed notebooks are kept (None: build/notebooks/<profile> only)
    speed_guess: float = 5.0             # steps per second of one run on one core, before any record of its data exists
    banner: str = ""                     # printed first by every notebook run under this profile
    data_seed: int = SYNTH_SEED          # random seed of the synthetic world
    train_scale: int = 1                 # multiplies the synthetic world's training counts (data/README.md)
    seed_plan: dict = field(default_factory=dict)  # dataset -> variant -> number of random seeds (default: len(seeds))
    exported: tuple[str, ...] = ("val/seed0",)  # runs whose weights are kept beside their record (per dataset)
    train_missing: bool = False          # a notebook trains the runs it reads that have no record (smoke: cheap)

    @property
    def real_data(self) -> bool:
        """Whether the profile reads real data (``<data root>/<dataset>``, checked, never generated)."""
        return self.data_size == "real"

    @property
    def config_kind(self) -> str:
        """Which named configurations the profile trains: ``paper`` (real data) or ``synth``."""
        return "paper" if self.real_data else "synth"

    def seeds_of(self, dataset: str, variant: str) -> tuple[int, ...]:
        """The random seeds of one variant (a method, or an ablation's name) on one dataset: the first n of
        ``range``, n from ``seed_plan``, or ``seeds``."""
        n = self.seed_plan.get(dataset, {}).get(variant)
        return self.seeds if n is None else tuple(range(n))


ABLATIONS: dict[str, dict] = {  # name -> overrides on top of VAL; the paper's ablations (its Tables 5-6)
    "no_sa": {"model.use_sa": False},
    # Without JA the authors' start (w_ja = 1, w_sa = 0) would make the output exactly zero, so the remaining SA
    # stream starts at weight 1, as in the authors' first release (w_ja = 0, w_sa = 1).
    "no_ja": {"model.use_ja": False, "model.init_w_sa": 1.0},
    "low": {"model.levels": ("low",)},
    "mid": {"model.levels": ("mid",)},
    "high": {"model.levels": ("high",)},
    "lvs": {},                # L_vv + L_vs: per dataset, see lvs_overrides
    "softmax": {"loss": "softmax"},
}


# The ablations the synthetic study trains (over every random seed): the paper's (w/o SA, w/o JA, one level at a
# time, L_vv + L_vs). TIRG's softmax loss ("softmax") stays available as a configuration but is not trained by default.
STUDY_ABLATIONS = ("no_sa", "no_ja", "low", "mid", "high", "lvs")

# Ablations that learn more slowly than VAL train for this many times their dataset's L_vv steps in the synthetic
# study (their L_vs pre-training keeps its length), so that they too end on a plateau; the factor is per dataset, and
# set from validation curves only (docs/convergence.md). Every such ablation is compared with VAL trained as long
# (the variant ``val_x<factor>``, same seeds), so every comparison is at equal budgets. The real-data
# configurations keep the paper's iteration counts for every variant.
SLOW_ABLATIONS: dict[str, dict[str, int]] = {}


def slow_factor(ablation: str | None, dataset: str) -> int:
    """How many times its dataset's L_vv steps an ablation trains in the synthetic study (1 for VAL, the baselines
    and the ablations that learn as fast as VAL; k for ``val_x<k>``, VAL trained as long as a slow ablation); see
    ``SLOW_ABLATIONS``."""
    if ablation and ablation.startswith("val_x") and ablation[5:].isdigit():
        return int(ablation[5:])
    return SLOW_ABLATIONS.get(ablation or "", {}).get(dataset, 1)


def long_vals(dataset: str, ablations) -> tuple[str, ...]:
    """The ``val_x<k>`` variants a dataset needs: one per factor of its slow ablations among ``ablations``."""
    return tuple(f"val_x{k}" for k in sorted({slow_factor(a, dataset) for a in ablations} - {1}))


def lvs_overrides(dataset: str, steps: int, side_info_root: str, paper: bool) -> dict:
    """The L_vv + L_vs ablation per dataset (the supplementary, Section 2): Fashion200k trains L_vv and L_vs
    jointly with its product descriptions; Shoes pre-trains L_vs on tagged images, FashionIQ on Fashion200k, then
    L_vv. The pre-training lasts a third of the L_vv steps (10k iterations with the paper's configurations)."""
    if dataset == "fashion200k":
        return {"side_info": "joint"}
    out = {"side_info": "pretrain", "pretrain_steps": 10_000 if paper else max(steps // 3, 1)}
    return out if dataset == "shoes" else {**out, "side_info_root": side_info_root}


# Dataset -> variant -> random seeds of the synthetic study, planned from its pilot (the first three seeds of every
# variant) by bench/seeds.py from the spread of the paired differences of final validation R@10, never from a verdict
# (valstudy/study/seeds.py); a copy of docs/seeds.json's plans (tests/test_seed_plan.py), each made from a pilot at
# its dataset's current budget. A dataset or variant not named keeps the pilot's three seeds. The plans of the
# 1,200-step pilots are void since the budgets were revised (docs/seeds_1200_steps.json).
SEED_PLAN: dict[str, dict[str, int]] = {
    "shoes": {"tirg": 5, "no_sa": 8, "no_ja": 8, "low": 8, "mid": 7, "high": 8, "lvs": 8, "val": 8},
    "fashion200k": {"tirg": 5, "no_sa": 3, "no_ja": 5, "low": 8, "mid": 4, "high": 4, "lvs": 8, "val": 8},
    "fashioniq": {"tirg": 8, "no_sa": 5, "no_ja": 4, "low": 7, "mid": 8, "high": 8, "lvs": 8, "val": 8},
}

WIRING_CHECK = ("WIRING CHECK (smoke profile): tiny data and 12-step runs test that every cell works; the numbers "
                "below say nothing about VAL. Unset $VALSTUDY_PROFILE (`make lab` without PROFILE=smoke) for the "
                "study's results.")
_REHEARSAL = ("REHEARSAL (real annotation files, stand-in images allowed, a tiny model for 2 steps): the numbers "
              "below measure the route only.")

PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", "tiny", (0,), ("val", "tirg", "image_only"), ("no_sa", "high"), evaluations=2,
                     steps=12, overrides={"batch_size": 8, "checkpoint_every": 6, "log_every": 2,
                                          "model.small_width": 8, "model.lstm_hidden": 64, "model.text_dim": 64,
                                          "model.word_dim": 32},
                     data_dir="build/smoke/data", runs_dir="build/smoke/runs", records_dir="build/smoke/records",
                     figures_dir="build/smoke/figures", speed_guess=5.0, banner=WIRING_CHECK, train_missing=True),
    # The study. Random seeds: the first three of every variant are the pilot; SEED_PLAN adds the seeds its spread
    # asks for. Evaluations: every eighth of the steps.
    "synthetic": Profile("synthetic", "small", (0, 1, 2), METHODS, STUDY_ABLATIONS, evaluations=8,
                         snapshots=(0.1, 0.25, 0.5), overrides={"log_every": 10}, seed_plan=SEED_PLAN,
                         executed_dir="notebooks/executed", speed_guess=4.0),
    # A first look (make study-quick): the synthetic study's data and step budgets, one random seed, no ablations;
    # its records and figures go to build/quick/, never records/ or figures/. One seed gives no interval: its tables
    # claim nothing.
    "quick": Profile("quick", "small", (0,), METHODS, (), evaluations=8, overrides={"log_every": 10},
                     runs_dir="build/quick/runs", records_dir="build/quick/records", figures_dir="build/quick/figures",
                     speed_guess=4.0),
    "real": Profile("real", "real", (0,), ("val", "tirg"), ("no_sa", "no_ja", "lvs"), evaluations=32,
                    data_dir="data/real", runs_dir="runs/real", records_dir="records/real", figures_dir="figures/real",
                    executed_dir="notebooks/executed/real", speed_guess=3.0),
    # The real route end to end on a CPU (real annotation files, stand-in images allowed): the paper's configurations
    # with a tiny model and a few steps, evaluated at the real gallery sizes. Its numbers mean nothing.
    "rehearsal": Profile("rehearsal", "real", (0,), ("val", "tirg"), ("no_sa",), steps=2,
                         overrides={"model.backbone": "small", "model.pretrained": False, "data.image_size": 64,
                                    "model.small_width": 8, "model.word_dim": 32, "model.lstm_hidden": 64,
                                    "model.text_dim": 64, "batch_size": 8, "checkpoint_every": 2, "log_every": 1},
                         data_dir="data/real", runs_dir="build/rehearsal/runs", records_dir="build/rehearsal/records",
                         figures_dir="build/rehearsal/figures", speed_guess=0.05, banner=_REHEARSAL,
                         train_missing=True),
}


def resolve_profile(name: str | None = None, environ: dict | None = None) -> Profile:
    """The profile to run: ``name`` when given (not None or ""), else ``$VALSTUDY_PROFILE`` when set, else
    ``DEFAULT_PROFILE``; an unknown name is a one-line error listing the known ones."""
    environ = os.environ if environ is None else environ
    chosen = name or environ.get(PROFILE_ENV) or DEFAULT_PROFILE
    if chosen not in PROFILES:
        where = "profile" if name else f"${PROFILE_ENV}"
        raise ValstudyError(f"{where}: unknown profile {chosen!r}; choose from {', '.join(PROFILES)}")
    return PROFILES[chosen]
