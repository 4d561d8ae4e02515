"""The attention measures of the study: region mass against area, and how much a map depends on the query."""
from __future__ import annotations

import numpy as np
import pytest

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


# ---------------------------------------------------------------------------- calibrated measures (attention_measures)
from valstudy.analysis import attention_measures as am  # noqa: E402


def _quadrant_masks(n: int = 8, size: int = 8) -> np.ndarray:
    """n masks (n, size, size) of differing regions: a quarter of the image, in turn each quadrant."""
    masks = np.zeros((n, size, size), bool)
    h = size // 2
    for i in range(n):
        r, c = divmod(i % 4, 2)
        masks[i, r * h:(r + 1) * h, c * h:(c + 1) * h] = True
    return masks


def test_pool_masks_keeps_each_cells_share_and_the_area():
    mask = np.zeros((1, 4, 4), bool)
    mask[0, :2, :3] = True  # cell (0, 0) fully inside, cell (0, 1) half inside
    cells = am.pool_masks(mask, (2, 2))
    assert cells[0].tolist() == [[1.0, 0.5], [0.0, 0.0]]
    assert cells.mean() == pytest.approx(mask.mean())


def test_a_map_equal_to_the_mask_scores_the_ceiling_and_a_uniform_map_scores_one():
    masks = _quadrant_masks()
    own = am.measure_maps(masks.astype(float), masks)
    assert own["ratio"] == pytest.approx(own["ratio_mask"]) == pytest.approx(4.0)  # 1 / area, area = 1/4
    assert set(own) == set(am.region_keys())
    uniform = am.measure_maps(np.ones((8, 2, 2)), masks)
    assert uniform["ratio"] == pytest.approx(1.0) and uniform["log_ratio"] == pytest.approx(0.0)
    assert uniform["excess"] == pytest.approx(0.0) and uniform["ratio_mask"] == pytest.approx(4.0)
    assert uniform["residual_mask_corr"] is None  # a residual of zero correlates with nothing
    assert uniform["ratio_mask_grid"] == pytest.approx(4.0)  # a quadrant is one cell of the 2 x 2 grid


def test_a_gate_lower_in_the_region_reads_below_one_on_every_measure():
    masks = _quadrant_masks()
    lower = 1.0 - 0.5 * am.pool_masks(masks, (4, 4))  # lets half as much through inside the region
    m = am.measure_maps(lower, masks)
    assert m["ratio"] < 1 and m["log_ratio"] < 0 and m["excess"] < 0
    assert m["residual_mask_corr"] < -0.5 and m["residual_mask_auc"] < 0.5
    assert m["ratio"] == pytest.approx(0.5 / (0.5 * 0.25 + 0.75))  # inside share over area, by hand


def test_a_map_that_ignores_the_query_scores_its_null_and_the_shuffled_null():
    rng = np.random.default_rng(0)
    prior = rng.random((4, 4)) + 0.1
    masks = _quadrant_masks()
    m = am.measure_maps(np.broadcast_to(prior, (8, 4, 4)), masks)
    assert m["ratio"] == pytest.approx(m["ratio_null"]) == pytest.approx(m["ratio_shuffled"])
    assert m["residual_mask_corr"] is None and m["residual_mask_corr_shuffled"] is None


def test_shuffled_masks_break_the_pairing_of_a_localising_map():
    masks = _quadrant_masks()
    m = am.measure_maps(am.blend(np.full((4, 4), 0.5), masks, 0.5), masks)
    assert m["ratio"] > 1.5 > m["ratio_shuffled"] and m["ratio_null"] == pytest.approx(1.0)
    assert m["residual_mask_corr"] > 0.5 > m["residual_mask_corr_shuffled"]
    assert m["residual_mask_auc"] == pytest.approx(1.0)  # every in-region cell above every other


def test_local_and_global_changes_are_measured_apart():
    masks = _quadrant_masks(4)
    masks[2:] = True  # two global changes: the whole image
    masks[2:, 0, 0] = False  # (a region never covers everything: the background)
    kinds = ["local", "local", "global", "global"]
    m = am.measure_maps(masks.astype(float), masks, kinds)
    assert m["n_local"] == 2 and m["n_global"] == 2
    assert m["ratio_local"] == pytest.approx(4.0) and m["ratio_global"] == pytest.approx(64 / 63)
    assert m["ratio"] == pytest.approx(np.sqrt(4.0 * 64 / 63))  # geometric mean over the four


def test_weighted_auc_by_hand():
    s = np.array([1.0, 2.0, 3.0, 4.0])
    assert am.weighted_auc(s, np.array([0.0, 0, 1, 1])) == 1.0
    assert am.weighted_auc(s, np.array([1.0, 1, 0, 0])) == 0.0
    assert am.weighted_auc(np.ones(4), np.array([0.0, 0, 1, 1])) == 0.5  # ties count one half
    # cell 1 is half inside: in-region area {1: 0.5, 3: 1}, out {0: 1, 1: 0.5, 2: 1}; pairs (in above out) weighted:
    # 0.5 * (1 + 0.5 * 0.5) + 1 * (1 + 0.5 + 1) = 3.125 over 1.5 * 2.5
    assert am.weighted_auc(s, np.array([0.0, 0.5, 0, 1])) == pytest.approx(3.125 / 3.75)
    assert np.isnan(am.weighted_auc(s, np.ones(4)))


def test_positive_control_rows_are_known_by_construction():
    masks = _quadrant_masks()
    prior = np.random.default_rng(1).random((4, 4)) + 0.2
    rows = am.positive_control(prior, masks)
    by = {(r["source"], r["strength"]): r for r in rows}
    assert by[("uniform", None)]["ratio"] == pytest.approx(1.0)
    zero = am.measure_maps(np.broadcast_to(prior, (8, 4, 4)), masks)
    assert by[("blend", 0.0)]["ratio"] == pytest.approx(zero["ratio_null"])
    assert by[("blend", 1.0)]["ratio"] == pytest.approx(by[("blend", 1.0)]["ratio_mask_grid"])
    assert by[("mask", None)]["ratio"] == pytest.approx(4.0)
    ratios = [by[("blend", s)]["ratio"] for s in am.STRENGTHS]
    assert ratios == sorted(ratios) and ratios[0] < ratios[-1]
    # correlation measures where, not how much: every blend above 0 has the same residual correlation
    corrs = [by[("blend", s)]["residual_mask_corr"] for s in am.STRENGTHS[1:]]
    assert corrs == pytest.approx([corrs[0]] * len(corrs)) and corrs[0] > 0.5


def test_map_distance_and_pairwise_correlation():
    a = np.zeros((3, 2, 2))
    b = a + 0.25
    assert am.map_distance(a, a)["mad"] == 0.0 and am.map_distance(a, b)["mad"] == pytest.approx(0.25)
    ramp = np.arange(4.0).reshape(1, 2, 2).repeat(3, 0)
    assert am.map_distance(ramp, ramp)["one_minus_corr"] == pytest.approx(0.0)
    assert am.map_distance(ramp, -ramp)["one_minus_corr"] == pytest.approx(2.0)
    assert am.mean_pairwise_correlation(ramp) == pytest.approx(1.0)


def test_derangement_moves_every_index_and_is_fixed_by_its_seed():
    for n in (2, 3, 10):
        p = am.derangement(n, 5)
        assert sorted(p) == list(range(n)) and all(p != np.arange(n))
        assert p.tolist() == am.derangement(n, 5).tolist()


def test_measure_maps_without_regions_gives_none():
    m = am.measure_maps(np.zeros((0, 2, 2)), np.zeros((0, 4, 4), bool))
    assert m["n"] == 0 and m["ratio"] is None and set(m) == set(am.region_keys())


def test_vectorised_auc_equals_the_pairwise_definition():
    rng = np.random.default_rng(0)
    scores, inside = rng.integers(0, 4, (20, 9)).astype(float), rng.random((20, 9))  # many ties, soft cells

    def pairwise(s, w):  # every (in, out) pair of area, weighted; ties one half
        above = (s[:, None] > s[None, :]) + 0.5 * (s[:, None] == s[None, :])
        return (w[:, None] * (1 - w[None, :]) * above).sum() / (w.sum() * (1 - w).sum())

    assert am.weighted_auc_rows(scores, inside) == pytest.approx([pairwise(s, w) for s, w in zip(scores, inside)])
