"""Greedy k-center coreset: sizes, determinism, exactness of the batched rounds, covering quality."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from goldenshot.coreset import _LOOKAHEAD, coreset_size, greedy_coreset
from goldenshot.settings import CoresetSettings


def gaussian(n: int, d: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def blobs(centres: torch.Tensor, per_blob: list[int], spread: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Points around each centre, and the blob label of every point."""
    labels = torch.cat([torch.full((n,), i) for i, n in enumerate(per_blob)])
    noise = spread * torch.randn(len(labels), centres.shape[1], generator=torch.Generator().manual_seed(seed))
    return centres[labels] + noise, labels


def covering_radius(points: torch.Tensor, centres: torch.Tensor) -> float:
    """Largest distance from a point to its nearest centre."""
    return float(torch.cdist(points.double(), centres.double()).amin(1).max())


def reference_greedy(features: torch.Tensor, size: int, seed: int) -> torch.Tensor:
    """Textbook one-centre-at-a-time greedy in float64, same first pick as the implementation."""
    x = features.double()
    picks = [int(torch.randint(len(x), (1,), generator=torch.Generator().manual_seed(seed)))]
    min_d = ((x - x[picks[0]]) ** 2).sum(1)
    while len(picks) < size:
        min_d[picks[-1]] = -math.inf
        picks.append(int(min_d.argmax()))
        min_d = torch.minimum(min_d, ((x - x[picks[-1]]) ** 2).sum(1))
    return torch.tensor(picks)


@pytest.mark.parametrize(
    ("n", "settings", "expected"),
    [
        (100, CoresetSettings(ratio=0.07), 7),  # 0.07 * 100 is 7.000000000000001 in floats
        (31, CoresetSettings(ratio=0.1), 4),  # ceil
        (100, CoresetSettings(ratio=0.25, size=7), 7),  # size wins over ratio
        (100_000, CoresetSettings(ratio=0.25, max_size=10_000), 10_000),  # capped
        (5, CoresetSettings(size=50), 5),  # never more than n
        (3, CoresetSettings(ratio=0.01), 1),  # at least one
        (1, CoresetSettings(), 1),
    ],
)
def test_coreset_size(n: int, settings: CoresetSettings, expected: int) -> None:
    assert coreset_size(n, settings) == expected


def test_coreset_size_rejects_empty_bank() -> None:
    with pytest.raises(ValueError):
        coreset_size(0, CoresetSettings())


@pytest.mark.parametrize("size", [1, 2, 37, 599])
def test_indices_unique_in_range_of_right_size(size: int) -> None:
    picked = greedy_coreset(gaussian(600, 8), size)
    assert picked.dtype == torch.int64 and picked.shape == (size,)
    assert len(picked.unique()) == size
    assert 0 <= int(picked.min()) and int(picked.max()) < 600


@pytest.mark.parametrize("size", [600, 1000])
def test_size_at_least_n_keeps_everything(size: int) -> None:
    assert torch.equal(greedy_coreset(gaussian(600, 8), size), torch.arange(600))


def test_duplicates_still_give_unique_indices() -> None:
    # 20 distinct rows repeated: after 20 picks every remaining distance is 0.
    features = gaussian(20, 4)[torch.arange(400) % 20]
    picked = greedy_coreset(features, 300)
    assert len(picked.unique()) == 300
    assert len({int(i) % 20 for i in picked[:20]}) == 20  # all distinct rows first


def test_same_seed_same_selection_other_seed_other_first_pick() -> None:
    features = gaussian(3000, 256)  # > projection_dim: the projection is seeded too
    a, b, c = (greedy_coreset(features, 200, projection_dim=32, seed=s) for s in (5, 5, 6))
    assert torch.equal(a, b)
    assert a[0] != c[0]


def test_does_not_modify_the_input() -> None:
    features = gaussian(500, 8)
    before = features.clone()
    greedy_coreset(features, 50)
    assert torch.equal(features, before)


@pytest.mark.parametrize(
    ("n", "d", "size"),
    [
        (2000, 16, 500),  # several full rounds with an outside bound
        (2 * _LOOKAHEAD, 4, 2 * _LOOKAHEAD - 1),  # ends with every unchosen point a candidate
        (1500, 3, 900),  # low dimension: candidates crowd together, many rounds end early
    ],
)
def test_rounds_reproduce_the_one_at_a_time_greedy(n: int, d: int, size: int) -> None:
    features = gaussian(n, d, seed=n) + 5.0  # off-centre, as real features are
    assert torch.equal(greedy_coreset(features, size, seed=3), reference_greedy(features, size, seed=3))


def test_five_tight_blobs_each_hit_once() -> None:
    centres = 10.0 * torch.eye(5, 6)
    features, labels = blobs(centres, [400, 30, 200, 5, 100], spread=0.1)
    for seed in range(5):
        picked = greedy_coreset(features, 5, seed=seed)
        assert sorted(labels[picked].tolist()) == [0, 1, 2, 3, 4]


def test_blobs_hit_through_the_projection() -> None:
    centres = 10.0 * torch.eye(5, 512)
    features, labels = blobs(centres, [300, 20, 150, 5, 80], spread=0.05)
    picked = greedy_coreset(features, 5, projection_dim=16, seed=1)
    assert sorted(labels[picked].tolist()) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("seed", range(4))
def test_covering_radius_within_twice_the_optimum(seed: int) -> None:
    # 14 points, 3 centres: the optimum over all 364 choices of centres is checked exhaustively.
    # Greedy's guarantee is 2x the best radius with centres anywhere, which is <= this optimum.
    points = gaussian(14, 2, seed=seed) * torch.tensor([3.0, 1.0])
    best = min(covering_radius(points, points[list(c)]) for c in itertools.combinations(range(14), 3))
    assert covering_radius(points, points[greedy_coreset(points, 3, seed=seed)]) <= 2.0 * best + 1e-9


def test_covers_better_than_a_random_subset() -> None:
    # One big blob and small far ones: random subsets spend their picks on the big blob.
    centres = torch.cat([torch.zeros(1, 8), 6.0 * torch.randn(9, 8, generator=torch.Generator().manual_seed(1))])
    features, _ = blobs(centres, [2000] + [10] * 9, spread=0.5)
    size = 20
    greedy = covering_radius(features, features[greedy_coreset(features, size)])
    gen = torch.Generator().manual_seed(2)
    randoms = [covering_radius(features, features[torch.randperm(len(features), generator=gen)[:size]]) for _ in range(10)]
    assert greedy < min(randoms)


def test_covering_radius_shrinks_as_size_grows() -> None:
    features = gaussian(2000, 8)
    radii = [covering_radius(features, features[greedy_coreset(features, k)]) for k in (10, 50, 250)]
    assert radii[0] > radii[1] > radii[2]


@pytest.mark.parametrize(
    ("features", "size"),
    [
        (torch.zeros(10), 3),  # not [N,D]
        (torch.zeros(0, 4), 1),  # empty
        (gaussian(10, 4), 0),  # nothing to select
        (torch.tensor([[0.0, 1.0], [math.nan, 0.0], [1.0, 1.0]]), 2),
    ],
)
def test_rejects_bad_input(features: torch.Tensor, size: int) -> None:
    with pytest.raises(ValueError):
        greedy_coreset(features, size)
