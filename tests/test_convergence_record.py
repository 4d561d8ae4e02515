"""The committed study's training records: the plateau criterion, recomputed from the recorded curves, and reported.

The training chapter records, per dataset, each variant's mean validation curve over its random seeds and the
criterion's table (``figures/training_<dataset>.json``). This recomputes the criterion from the recorded curves and
checks that the README's generated block names every variant that has not reached a plateau.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import skip_until_the_study_is_recorded

from valstudy.analysis.convergence import PLATEAU_POINTS, plateau_gain
from valstudy.analysis.common import VARIANT_LABELS
from valstudy.analysis.stats import DATASET_NAMES
from valstudy.config import DATASETS

FIGURES = Path(__file__).resolve().parents[1] / "figures"


@pytest.mark.parametrize("dataset", DATASETS)
def test_the_plateau_criterion_is_recomputed_from_the_recorded_curves_and_reported(dataset):
    skip_until_the_study_is_recorded()
    path = FIGURES / f"training_{dataset}.json"
    assert path.is_file(), f"{path} is missing: run make figures"
    record = json.loads(path.read_text())
    assert record["profile"] == "synthetic"
    curves = pd.DataFrame(record["validation_curves"])
    table = {r["variant"]: r for r in record["convergence"]}
    assert set(table) == set(curves["variant"])
    for variant, part in curves.groupby("variant"):
        curve = part.rename(columns={"mean": "R@10"})[["step", "R@10"]].sort_values("step")
        gain = plateau_gain(curve, int(table[variant]["steps"]))
        assert gain == pytest.approx(table[variant]["plateau gain"], abs=1e-9), variant
        assert table[variant]["converged"] == (gain < PLATEAU_POINTS), variant
    readme = (FIGURES.parent / "README.md").read_text()
    line = next(l for l in readme.splitlines() if l.startswith(f"- {DATASET_NAMES[dataset]}: ") and "plateau" in l)
    rising = sorted(v for v, r in table.items() if not r["converged"])
    assert f"{len(table) - len(rising)} of {len(table)} variants on a plateau" in line
    for variant in rising:
        assert f"{VARIANT_LABELS.get(variant, variant)} (" in line, f"README omits {variant} still rising on {dataset}"
