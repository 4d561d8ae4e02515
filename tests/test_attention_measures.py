"""The attention measures of the study: region mass against area, and how much a map depends on the query."""
from __future__ import annotations

import numpy as np

from valstudy.analysis.attention import image_dependence, region_summary


def _maps(arrays, lv="low"):
    return [{"spatial": {lv: a}} for a in arrays]


def test_identical_maps_are_fully_image_independent():
    ramp = np.outer(np.arange(4.0), np.ones(4)) + 1
    t = image_dependence(_maps([ramp] * 5), ["low"])
    assert np.isclose(t.loc["low", "map_correlation"], 1.0) and t.loc["low", "spread"] == 0.0


def test_unrelated_maps_have_no_correlation_and_flat_maps_are_counted():
    rng = np.random.default_rng(0)
    arrays = [rng.random((4, 4)) for _ in range(300)] + [np.full((4, 4), 0.5)]
    t = image_dependence(_maps(arrays), ["low"])
    assert abs(t.loc["low", "map_correlation"]) < 0.02
    assert t.loc["low", "flat"] == 1 and t.loc["low", "queries"] == 301


def test_anti_correlated_maps():
    a = np.outer(np.arange(4.0), np.ones(4))
    t = image_dependence(_maps([a, -a]), ["low"])
    assert np.isclose(t.loc["low", "map_correlation"], -1.0)


def test_region_ratio_is_one_for_uniform_maps_and_above_one_when_the_map_favours_the_region():
    mask = np.zeros((4, 4), bool)
    mask[:2] = True  # half the image
    uniform = region_summary(_maps([np.ones((4, 4))]), [mask], ["low"])
    assert np.isclose(uniform.loc["low", "ratio"], 1.0)
    focused = np.where(mask, 3.0, 1.0)
    t = region_summary(_maps([focused]), [mask], ["low"])
    assert np.isclose(t.loc["low", "attention_mass"], 0.75) and np.isclose(t.loc["low", "ratio"], 1.5)
