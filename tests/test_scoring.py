import numpy as np
import pytest
import torch

from goldenshot import scoring
from goldenshot.scoring import hot_bank, image_score, nearest, nearest_distance, reweight, score_grid, squared_norms
from goldenshot.settings import ScoringSettings


def test_chunked_nearest_matches_brute_force():
    gen = torch.Generator().manual_seed(0)
    queries, bank = torch.randn(300, 32, generator=gen), torch.randn(1000, 32, generator=gen)
    dist, idx = nearest(queries, bank, chunk_rows=256)  # 4 chunks, last one partial
    ref = torch.cdist(queries, bank)
    assert torch.equal(idx, ref.argmin(1))
    assert torch.allclose(dist, ref.min(1).values, atol=1e-4)


def test_blocks_of_queries_and_rows_find_what_brute_force_finds(monkeypatch):
    gen = torch.Generator().manual_seed(4)
    queries, bank = torch.randn(301, 16, generator=gen), torch.randn(700, 16, generator=gen)
    exclude = torch.rand(700, generator=gen) < 0.3
    ref = torch.cdist(queries, bank).masked_fill(exclude.unsqueeze(0), float("inf")).min(1)
    monkeypatch.setattr(scoring, "BLOCK_ELEMENTS", 256 * 40)  # 40 queries per block: 8 blocks, the last partial
    for chunk in (256, 8192):
        dist, idx = nearest(queries, hot_bank(bank), chunk_rows=chunk, exclude=exclude)
        assert torch.equal(idx, ref.indices) and torch.allclose(dist, ref.values, atol=1e-4)
        assert torch.equal(nearest_distance(queries, hot_bank(bank), chunk_rows=chunk, exclude=exclude), dist)


def test_exact_match_scores_zero_and_exclusion_skips_rows():
    bank = torch.randn(50, 8, generator=torch.Generator().manual_seed(1))
    dist, idx = nearest(bank[:5], bank)
    assert torch.equal(idx, torch.arange(5)) and dist.max() < 1e-2  # sqrt of fp32 cancellation noise
    exclude = torch.zeros(50, dtype=torch.bool)
    exclude[:5] = True
    dist, idx = nearest(bank[:5], bank, exclude=exclude)
    assert (idx >= 5).all() and dist.min() > 0.1


def test_image_score_modes():
    scores = torch.tensor([0.0, 1.0, 2.0, 10.0])
    assert image_score(scores, "max") == 10.0
    assert image_score(scores, "topk_mean", top_n=2) == pytest.approx(6.0)
    assert image_score(scores, "topk_mean", top_n=100) == pytest.approx(3.25)


def test_reweight_damps_scores_and_is_used_when_enabled():
    gen = torch.Generator().manual_seed(2)
    bank = torch.randn(200, 16, generator=gen)
    query = bank[0] + 3.0
    weighted = reweight(5.0, query, 0, bank, squared_norms(bank), neighbours=9)
    assert 0.0 < weighted < 5.0
    grid = query.view(1, 1, -1)
    plain = score_grid(grid, (8, 8), bank, squared_norms(bank), ScoringSettings(image_score="max"), 0.0)[0]
    damped = score_grid(grid, (8, 8), bank, squared_norms(bank), ScoringSettings(image_score="max", reweight=True), 0.0)[0]
    assert damped < plain


def test_map_max_scores_the_smoothed_peak():
    bank = torch.zeros(1, 2)
    feats = torch.zeros(4, 4, 2)
    feats[1, 2] = torch.tensor([3.0, 4.0])  # one patch at distance 5
    timings = {}
    score, score_map = score_grid(feats, (32, 32), bank, squared_norms(bank), ScoringSettings(image_score="map_max"), 2.0, timings=timings)
    assert score == float(score_map.max()) and 0 < score < 5.0  # smoothing lowers a lone peak
    assert np.unravel_index(score_map.argmax(), score_map.shape)[0] // 8 == 1 and set(timings) == {"knn", "map"}


def test_hot_bank_layout_finds_the_same_neighbours_at_the_same_distances():
    generator = torch.Generator().manual_seed(3)
    bank, queries = torch.randn(600, 32, generator=generator), torch.randn(70, 32, generator=generator)
    hot = hot_bank(bank)
    assert hot.shape == bank.shape and torch.equal(hot, bank) and hot.T.is_contiguous()
    for chunk in (256, 8192):  # several chunks and one
        dist, idx = nearest(queries, hot, squared_norms(hot), chunk)
        expected_dist, expected_idx = nearest(queries, bank, squared_norms(bank), chunk)
        assert torch.equal(idx, expected_idx) and torch.allclose(dist, expected_dist, rtol=1e-6, atol=1e-6)
