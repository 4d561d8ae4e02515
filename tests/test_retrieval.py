"""valstudy.retrieval.topk against a naive full-argsort reference: ties, exclusions, chunk sizes, K >= N."""
import pytest
import torch

from valstudy import retrieval
from valstudy.errors import ValstudyError
from valstudy.retrieval import topk


def reference(q, g, k, exclude=None):
    """Exact float64 distances, excluded items at +inf, stable argsort: equal distances -> smaller index first."""
    d = torch.cdist(q.double(), g.double(), compute_mode="donot_use_mm_for_euclid_dist") ** 2  # (Q, N)
    n_excl = 0
    if exclude is not None:
        rows = (exclude >= 0).nonzero().squeeze(1)
        d[rows, exclude[rows]] = float("inf")
        n_excl = int(rows.numel() > 0)
    order = torch.argsort(d, dim=1, stable=True)[:, : min(k, g.shape[0] - n_excl)]
    return d.gather(1, order).float(), order


def check(q, g, k, exclude=None, **kw):
    d, i = topk(q, g, k, exclude=exclude, **kw)
    rd, ri = reference(q, g, k, exclude)
    assert i.dtype == torch.long and i.shape == ri.shape
    assert torch.equal(i, ri)
    torch.testing.assert_close(d, rd, rtol=1e-5, atol=1e-4)
    return d, i


@pytest.fixture
def data():
    gen = torch.Generator().manual_seed(0)
    q, g = torch.randn(23, 12, generator=gen), torch.randn(41, 12, generator=gen)
    exclude = torch.randint(-1, 41, (23,), generator=gen)
    return q, g, exclude


@pytest.mark.parametrize("chunk", [None, 1, 3, 22, 28, (1, 1), (3, 3), (5, 40), (7, 46), (23, 41)])
@pytest.mark.parametrize("k", [1, 7, 40, 41, 60])
def test_random_matches_reference(data, chunk, k):
    q, g, exclude = data
    check(q, g, k, chunk_size=chunk)
    d, i = check(q, g, k, exclude=exclude, chunk_size=chunk)
    rows = (exclude >= 0).nonzero().squeeze(1)
    assert not (i[rows] == exclude[rows, None]).any()  # the reference image is never ranked


def test_k_clipped_to_gallery(data):
    q, g, exclude = data
    assert topk(q, g, 100)[1].shape == (23, 41)  # K >= N: the whole gallery, sorted
    assert topk(q, g, 100, exclude=exclude)[1].shape == (23, 40)  # K > N - 1 with exclusion
    assert topk(q, g, 100, exclude=torch.full((23,), -1))[1].shape == (23, 41)  # -1 excludes nothing
    assert topk(q, g, 0)[1].shape == (23, 0)


@pytest.mark.parametrize("chunk", [None, 1, 3, (2, 5), (4, 63)])
def test_duplicate_gallery_rows_rank_by_index(chunk):
    gen = torch.Generator().manual_seed(1)
    g = torch.randn(64, 16, generator=gen)
    g[[9, 30, 51]] = g[40].clone()  # four identical images: 9, 30, 40, 51
    g[62] = g[2]
    q = torch.cat([g[40:41] + 0.01 * torch.randn(1, 16, generator=gen), torch.randn(6, 16, generator=gen), g[[2]]])
    d, i = check(q, g, 10, chunk_size=chunk)
    assert i[0, :4].tolist() == [9, 30, 40, 51]
    assert (d[0, :4] == d[0, 0]).all()  # bit-identical distances for identical images
    assert i[-1, :2].tolist() == [2, 62] and d[-1, 0] == 0


@pytest.mark.parametrize("chunk", [None, 1, 3, (5, 7), (30, 39), (2, 45)])
@pytest.mark.parametrize("k", [1, 5, 39, 40, 100])
def test_integer_data_with_many_exact_ties(chunk, k):
    gen = torch.Generator().manual_seed(2)
    q = torch.randint(0, 2, (30, 6), generator=gen).float()
    g = torch.randint(0, 2, (40, 6), generator=gen).float()
    exclude = torch.randint(-1, 40, (30,), generator=gen)
    d, i = check(q, g, k, chunk_size=chunk)
    assert torch.equal(d, reference(q, g, k)[0])  # integer distances are exact
    check(q, g, k, exclude=exclude, chunk_size=chunk)


def test_run_of_ties_longer_than_the_margin_is_searched_again():
    g = torch.cat([torch.ones(40, 3), torch.zeros(5, 3), torch.ones(30, 3) * 2])  # 40 tied nearest images
    q = torch.full((2, 3), 1.1)
    exclude = torch.tensor([3, -1])
    _, i = check(q, g, 5, exclude=exclude, chunk_size=1)
    assert i.tolist() == [[0, 1, 2, 4, 5], [0, 1, 2, 3, 4]]


@pytest.mark.parametrize("chunk", [None, (4, 1000), (3, 3700), (16, 4100)])
def test_grouped_selection_on_wide_tiles(chunk):
    """Galleries wide enough for the grouped top-k (CPU): duplicates in different groups, exclusions."""
    gen = torch.Generator().manual_seed(3)
    q, g = torch.randn(16, 4, generator=gen), torch.randn(4100, 4, generator=gen)
    g[[100, 2000, 4099]] = q[0]  # identical to query 0, in different groups and tiles
    exclude = torch.randint(-1, 4100, (16,), generator=gen)
    exclude[0] = 2000
    _, i = check(q, g, 6, exclude=exclude, chunk_size=chunk)
    assert i[0, :2].tolist() == [100, 4099]
    check(q, g, 6, chunk_size=chunk)


def test_near_ties_resolved_exactly_whatever_the_gemm_rounding():
    """Perturb the computed scores within the error bound: the order must still be (exact distance, index)."""
    gen = torch.Generator().manual_seed(4)
    g = torch.randn(12, 8, generator=gen)
    g[7] = g[3]  # a true tie
    g[10] = g[5] * (1 + 1e-7)  # a near-tie
    q = torch.randn(2, 8, generator=gen)
    q_sq, g_sq = (q * q).sum(1), (g * g).sum(1)
    tol = retrieval.TIE_RTOL * 2.0**-24 * (q_sq + g_sq.max())
    scores = g_sq[None] - 2 * q @ g.T  # (2, 12)
    noise = (torch.rand(2, 12, generator=gen) - 0.5) * tol[:, None]  # |noise| < tol / 2
    noise[:, 3], noise[:, 7] = tol / 2, -tol / 2  # make the tied pair come out in the wrong order
    vals, idx = torch.sort(scores + noise, dim=1, stable=True)
    d, i, overrun = retrieval._resolve(q, g, q_sq, vals, idx, 12, tol, complete=True)
    rd, ri = reference(q, g, 12)
    assert torch.equal(i, ri) and not overrun.any()
    torch.testing.assert_close(d, rd)
    # the same candidates cut short: a run of near-ties reaching the last one cannot be trusted
    _, _, overrun = retrieval._resolve(q, g, q_sq, vals[:, :4], idx[:, :4], 3,
                                       torch.full_like(tol, 1e9), complete=False)
    assert overrun.all()


def test_cpu_fallback_without_onednn(data, monkeypatch):
    q, g, exclude = data
    monkeypatch.setattr(retrieval, "_ONEDNN", [False])
    check(q, g, 9, exclude=exclude, chunk_size=(5, 17))


def test_input_handling(data):
    q, g, exclude = data
    check(q.double().requires_grad_(), g.half().float(), 5)
    assert topk(q, g, 3, device="auto")[1].device == q.device
    assert topk(q[:0], g, 3)[1].shape == (0, 3)
    with pytest.raises(ValstudyError, match="dim"):
        topk(q, g[:, :5], 3)
    bad = g.clone()
    bad[4, 2] = float("nan")
    with pytest.raises(ValstudyError, match="gallery holds NaN"):
        topk(q, bad, 3)
    with pytest.raises(ValstudyError, match="exclude"):
        topk(q, g, 3, exclude=torch.full((23,), 41))
    with pytest.raises(ValstudyError, match="exclude"):
        topk(q, g, 3, exclude=torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValstudyError, match="k must"):
        topk(q, g, -1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(data):
    q, g, exclude = data
    d, i = topk(q, g, 9, exclude=exclude, device="cuda")
    assert d.device == q.device  # results come back where the queries live
    rd, ri = reference(q, g, 9, exclude)
    assert torch.equal(i, ri)
