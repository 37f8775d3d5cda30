"""Exact L2 nearest-neighbour scoring against a memory bank, chunked over bank rows.

Distances use ||q||^2 - 2 q.b + ||b||^2 with one matmul per chunk, so memory stays at
queries x chunk_rows whatever the bank size, and a running minimum keeps the best match.
"""

from __future__ import annotations

import time

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


def nearest(
    queries: torch.Tensor,
    bank: torch.Tensor,
    bank_sq: torch.Tensor | None = None,
    chunk_rows: int = 8192,
    exclude: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distance to and index of each query's nearest bank row.

    exclude: bool [N], bank rows to ignore (leave-one-out scoring of a golden sample).
    """
    if bank_sq is None:
        bank_sq = squared_norms(bank)
    q_sq = squared_norms(queries).unsqueeze(1)
    best = torch.full((queries.shape[0],), float("inf"))
    best_idx = torch.zeros(queries.shape[0], dtype=torch.long)
    for start in range(0, bank.shape[0], chunk_rows):
        rows = bank[start : start + chunk_rows]
        sq = bank_sq[start : start + chunk_rows]
        if exclude is not None:
            sq = sq.masked_fill(exclude[start : start + chunk_rows], float("inf"))
        dist, idx = torch.addmm(sq.unsqueeze(0), queries, rows.T, alpha=-2).min(dim=1)
        better = dist < best
        best = torch.where(better, dist, best)
        best_idx = torch.where(better, idx + start, best_idx)
    return (best + q_sq.squeeze(1)).clamp_(min=0).sqrt_(), best_idx


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
    dist, idx = nearest(queries, bank, bank_sq, settings.chunk_rows, exclude)
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
        score = reweight(score, queries[top], int(idx[top]), bank, bank_sq, settings.reweight_neighbours)
    if parts is not None:
        mode = "max" if settings.image_score == "max" else "topk_mean"
        parts["knn"] = score if knn is dist else image_score(knn, mode, settings.top_n)
    if timings is not None:
        timings["knn"] = (mid - start) * 1000.0
        timings["map"] = (time.perf_counter() - mid) * 1000.0
    return score, score_map
