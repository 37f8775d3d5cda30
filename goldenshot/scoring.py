"""Exact L2 nearest-neighbour scoring against a memory bank, in blocks of queries x bank rows.

Distances use ||q||^2 - 2 q.b + ||b||^2 with one matmul per block, so memory stays at one block
whatever the bank size, and a running minimum keeps the best match.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import torch

from goldenshot.maps import anomaly_map
from goldenshot.masks import floor_map, floor_patches, patch_cells
from goldenshot.settings import ScoringSettings
from goldenshot.subspace import Subspace, fit_subspace, residual


def squared_norms(rows: torch.Tensor) -> torch.Tensor:
    """||b||^2 per bank row; kept with the hot bank so it is computed once per version."""
    return rows.pow(2).sum(1)


def hot_bank(rows: torch.Tensor) -> torch.Tensor:
    """The bank [N, D] stored column-major (a view of a contiguous [D, N]): same values and shape, but the
    kNN's `rows.T` is then contiguous and its matmul a plain one, with no transposed operand to pack."""
    return rows.float().T.contiguous().T


# Elements of one [queries x rows] distance block (8 MB of float32): a larger block spends more time
# faulting in fresh pages than multiplying (2304 x 4096 took 2-3x as long as the same work in blocks).
BLOCK_ELEMENTS = 1 << 21


def _blocks(
    queries: torch.Tensor, bank: torch.Tensor, bank_sq: torch.Tensor, chunk_rows: int, exclude: torch.Tensor | None
) -> Iterator[tuple[slice, int, torch.Tensor, torch.Tensor]]:
    """Yield (queries' span, first row, rows, their ||b||^2) per block. The caller reduces each block's
    product in the expression that makes it, so the block is freed before the next is allocated."""
    rows_per = max(1, min(chunk_rows, bank.shape[0]))  # an empty bank: no block, every distance inf
    queries_per = max(1, BLOCK_ELEMENTS // rows_per)
    for start in range(0, bank.shape[0], rows_per):
        sq = bank_sq[start : start + rows_per]
        if exclude is not None:
            sq = sq.masked_fill(exclude[start : start + rows_per], float("inf"))
        for first in range(0, queries.shape[0], queries_per):
            yield slice(first, first + queries_per), start, bank[start : start + rows_per], sq.unsqueeze(0)


def _distances(best: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    return (best + squared_norms(queries)).clamp_(min=0).sqrt_()


def nearest_distance(
    queries: torch.Tensor,
    bank: torch.Tensor,
    bank_sq: torch.Tensor | None = None,
    chunk_rows: int = 8192,
    exclude: torch.Tensor | None = None,
) -> torch.Tensor:
    """Distance from each query to its nearest bank row, the scoring hot path: a row minimum without
    its index (amin) costs a seventh of one with it (0.4 against 3.0 ms for 1024 x 3277 here).

    exclude: bool [N], bank rows to ignore, as in nearest().
    """
    if bank_sq is None:
        bank_sq = squared_norms(bank)
    best = torch.full((queries.shape[0],), float("inf"))
    for span, _, rows, sq in _blocks(queries, bank, bank_sq, chunk_rows, exclude):
        part = best[span]
        torch.minimum(part, torch.addmm(sq, queries[span], rows.T, alpha=-2).amin(dim=1), out=part)
    return _distances(best, queries)


def nearest(
    queries: torch.Tensor,
    bank: torch.Tensor,
    bank_sq: torch.Tensor | None = None,
    chunk_rows: int = 8192,
    exclude: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distance to and index of each query's nearest bank row (the index: re-weighting, benchmarks).

    exclude: bool [N], bank rows to ignore (leave-one-out scoring of a golden sample).
    """
    if bank_sq is None:
        bank_sq = squared_norms(bank)
    best = torch.full((queries.shape[0],), float("inf"))
    best_idx = torch.zeros(queries.shape[0], dtype=torch.long)
    for span, start, rows, sq in _blocks(queries, bank, bank_sq, chunk_rows, exclude):
        dist, idx = torch.addmm(sq, queries[span], rows.T, alpha=-2).min(dim=1)
        better = dist < best[span]
        best[span] = torch.where(better, dist, best[span])
        best_idx[span] = torch.where(better, idx + start, best_idx[span])
    return _distances(best, queries), best_idx


def image_score(patch_scores: torch.Tensor, mode: str = "topk_mean", top_n: int = 10) -> float:
    """One number per image: the max patch score, or the mean of the top-N (steadier)."""
    flat = patch_scores.flatten()
    if mode == "max":
        return float(flat.max())
    return float(flat.topk(min(top_n, flat.numel())).values.mean())


def reweight(
    score: float,
    query: torch.Tensor,
    match: int,
    bank: torch.Tensor,
    bank_sq: torch.Tensor,
    neighbours: int = 9,
) -> float:
    """PatchCore's re-weighting: damp a score whose nearest bank row sits in a dense region.

    query is the most anomalous patch and match its nearest bank row; the weight is
    1 - softmax over the distances from the query to match's own neighbourhood in the bank.
    """
    anchor = bank[match : match + 1]
    around = torch.addmm(bank_sq.unsqueeze(0), anchor, bank.T, alpha=-2).squeeze(0)
    hood = around.topk(min(neighbours, bank.shape[0]), largest=False).indices
    dists = (bank[hood] - query).pow(2).sum(1).sqrt()
    weight = 1.0 - torch.softmax(dists, dim=0)[0]
    return float(weight) * score


def score_grid(
    feats: torch.Tensor,
    size: tuple[int, int],
    bank: torch.Tensor,
    bank_sq: torch.Tensor,
    settings: ScoringSettings,
    sigma: float,
    exclude: torch.Tensor | None = None,
    timings: dict[str, float] | None = None,
    ignore: np.ndarray | None = None,
    subspace: Subspace | None = None,
    parts: dict[str, float] | None = None,
) -> tuple[float, np.ndarray]:
    """Image score and anomaly map (working size) of one image's patch grid [h, w, D].

    The one scoring path for inspection, evaluation and leave-one-out thresholds, so the
    threshold is always on the same scale as the scores it judges.

    ignore: bool [size] pixels not judged (goldenshot.masks): their patches are floored before the map is
    smoothed and the image score taken, and the map's pixels again after, so the score, the map and
    the regions agree that nothing happened there.
    subspace: the bank's PCA when the patch score uses it (fit_subspace of the bank less `exclude`);
    made here when not given, so callers that score one image against a bank need not keep one.
    parts: when given, receives under "knn" the image score of the kNN distance alone (the score
    itself when that is the patch score): the scale golden strays and defect kinds are judged on.
    """
    start = time.perf_counter()
    h, w, d = feats.shape
    queries = feats.reshape(-1, d)
    dist = nearest_distance(queries, bank, bank_sq, settings.chunk_rows, exclude)
    knn = mapped = dist  # what the anomaly map shows: the kNN distance unless the residual goes into the map too
    if settings.patch_score != "knn":
        off = residual(queries, subspace or fit_subspace(bank, settings.subspace_energy, exclude))
        dist = off if settings.patch_score == "subspace" else dist + off
        mapped = dist if settings.subspace_in_map or settings.patch_score == "subspace" else mapped
    mid = time.perf_counter()
    if ignore is not None:
        cells = patch_cells(ignore, (h, w))
        distinct = {id(t): t for t in (dist, mapped, knn)}  # each tensor floored once, sharing kept
        floored = {key: floor_patches(t.view(h, w), cells).flatten() for key, t in distinct.items()}
        dist, mapped, knn = floored[id(dist)], floored[id(mapped)], floored[id(knn)]
    score_map = anomaly_map(mapped.view(h, w), size, sigma)
    if ignore is not None:
        floor_map(score_map, ignore)
    if settings.image_score == "map_max":
        score = float(score_map.max())
    else:
        score = image_score(dist, settings.image_score, settings.top_n)
    if settings.reweight:
        top = int(dist.argmax())
        match = int(nearest(queries[top : top + 1], bank, bank_sq, settings.chunk_rows, exclude)[1])
        score = reweight(score, queries[top], match, bank, bank_sq, settings.reweight_neighbours)
    if parts is not None:
        mode = "max" if settings.image_score == "max" else "topk_mean"
        parts["knn"] = score if knn is dist else image_score(knn, mode, settings.top_n)
    if timings is not None:
        timings["knn"] = (mid - start) * 1000.0
        timings["map"] = (time.perf_counter() - mid) * 1000.0
    return score, score_map
