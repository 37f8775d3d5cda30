"""Greedy k-center coreset of the memory bank (PatchCore's approximate greedy coreset).

Scoring cost and fingerprint size grow with the bank, and most patches of good images are
near-duplicates. Greedy k-center keeps the patches that are farthest from everything kept so far,
so rare-but-normal patches survive while the redundant bulk is dropped; its covering radius is
within 2x of the best possible for that size.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from goldenshot.settings import CoresetSettings

# Candidates certified per round (see `greedy_coreset`): large enough that the bank update is a
# compute-bound matrix product, small enough that the candidates' own distance matrix is trivial.
_LOOKAHEAD = 256
# Bank rows per update block: the block's [rows, lookahead] distance buffer stays in cache.
_CHUNK_ROWS = 4096


def coreset_size(n: int, settings: CoresetSettings) -> int:
    """Rows kept from a bank of n: `size` if set, else ceil(ratio * n); capped by max_size and n; >= 1."""
    if n < 1:
        raise ValueError(f"cannot subsample an empty bank (n={n})")
    # round() first so float noise (0.07 * 100 = 7.000000000000001) does not add a row.
    wanted = settings.size if settings.size is not None else math.ceil(round(settings.ratio * n, 9))
    return max(1, min(wanted, settings.max_size, n))


def greedy_coreset(features: Tensor, size: int, projection_dim: int = 128, seed: int = 0) -> Tensor:
    """Indices [size] (int64, unique, in selection order) of a greedy k-center coreset of `features` [N,D].

    Distances are measured after a Johnson-Lindenstrauss random projection to `projection_dim` when
    D is larger, which keeps the cost independent of the backbone's width at little loss of quality.
    The projection matrix and the first centre come from a generator seeded with `seed`, so the same
    inputs always give the same selection.

    The result is exactly the one-centre-at-a-time greedy sequence (up to float rounding at near-ties),
    computed in rounds. Each point's distance to its nearest centre only ever decreases, so after taking
    the top `_LOOKAHEAD` + 1 distances, the last of them bounds every point outside the top ones for
    the rest of the round. Greedy is replayed on those candidates with their exact pairwise distances;
    each candidate still above the bound is the true next centre. The bank is then updated for all
    accepted centres by one matrix product, instead of one memory-bound matrix-vector pass per centre.
    Memory stays O(N * d): the working copy, a few [N] vectors and a fixed [_CHUNK_ROWS, _LOOKAHEAD] buffer.
    """
    if features.ndim != 2 or features.shape[0] < 1:
        raise ValueError(f"expected features [N,D] with N >= 1, got {tuple(features.shape)}")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if projection_dim < 1:
        raise ValueError(f"projection_dim must be >= 1, got {projection_dim}")
    n, dim = features.shape
    if size >= n:
        return torch.arange(n)
    if not torch.isfinite(features).all():
        raise ValueError("features contain NaN or inf")

    generator = torch.Generator().manual_seed(seed)
    # x is a fresh float32 working copy either way, so it can be changed in place below.
    if dim > projection_dim:
        proj = torch.randn(dim, projection_dim, generator=generator) / math.sqrt(projection_dim)
        x = features.detach().float() @ proj.to(features.device)
    else:
        x = features.detach().to(torch.float32, memory_format=torch.contiguous_format, copy=True)
    # Centring leaves distances unchanged but shrinks ||x||^2, which limits the cancellation in
    # ||x||^2 - 2 x.c + ||c||^2.
    x = x.sub_(x.mean(0))
    sq = torch.linalg.vector_norm(x, dim=1).square_()  # no [N,d] temporary, unlike (x * x).sum(1)

    first = int(torch.randint(n, (1,), generator=generator))
    min_d = (sq - 2.0 * (x @ x[first])).add_(sq[first])
    min_d[first] = -math.inf  # chosen points sit at -inf, so they are never picked twice
    order = torch.empty(size, dtype=torch.long)
    order[0] = first
    chosen = 1
    buffer = torch.empty(_CHUNK_ROWS * _LOOKAHEAD, device=x.device)

    while chosen < size:
        remaining = n - chosen
        top_vals, top_idx = torch.topk(min_d, min(_LOOKAHEAD + 1, remaining))
        if remaining <= _LOOKAHEAD:
            bound = -math.inf  # every unchosen point is a candidate: nothing outside to beat
        else:
            bound = float(top_vals[_LOOKAHEAD])
            top_vals, top_idx = top_vals[:_LOOKAHEAD], top_idx[:_LOOKAHEAD]
        accepted = _replay(x[top_idx], sq[top_idx], top_vals.clone(), bound, size - chosen)
        new = top_idx[accepted]
        order[chosen : chosen + len(new)] = new
        chosen += len(new)
        _update(x, sq, min_d, new, buffer)
        min_d[new] = -math.inf
    return order


def _replay(cand: Tensor, cand_sq: Tensor, local: Tensor, bound: float, limit: int) -> list[int]:
    """Greedy on the candidates (sorted by distance, descending); positions certified as next centres.

    The first candidate is the global farthest point and always accepted; a later one only while its
    distance, reduced by the centres accepted before it, stays strictly above `bound`.
    """
    pair = torch.addmm(cand_sq.unsqueeze(0), cand, cand.T, alpha=-2.0).add_(cand_sq.unsqueeze(1))
    accepted = [0]
    while len(accepted) < limit:
        torch.minimum(local, pair[accepted[-1]], out=local)
        local[accepted[-1]] = -math.inf
        best, pos = local.max(0)
        if not float(best) > bound:
            break
        accepted.append(int(pos))
    return accepted


def _update(x: Tensor, sq: Tensor, min_d: Tensor, new: Tensor, buffer: Tensor) -> None:
    """min_d <- min(min_d, squared distance to each centre in `new`), block by block, in place."""
    centres, centres_sq = x[new], sq[new]
    for start in range(0, x.shape[0], _CHUNK_ROWS):
        block = x[start : start + _CHUNK_ROWS]
        rows = block.shape[0]
        # ||x||^2 is constant along a row, so it is added after the row's minimum over centres.
        d = buffer[: rows * len(new)].view(rows, -1)
        torch.addmm(centres_sq.unsqueeze(0), block, centres.T, alpha=-2.0, out=d)
        nearest = d.amin(1).add_(sq[start : start + rows])
        torch.minimum(min_d[start : start + rows], nearest, out=min_d[start : start + rows])
