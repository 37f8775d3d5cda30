"""Zero-shot batch inspection: no golden samples, the batch scores itself.

In a production batch normal patterns are the majority and defects are rare, so each image is
scored against the *other* images of its batch. Comparing every patch with every other image's
patches costs N^2 in the batch size; instead the batch is summarised by a greedy k-center coreset
of fixed size, so time and memory grow linearly. Steps, each switchable in `settings.zeroshot`:

1. multi-scale patch features: the backbone's taps averaged over several neighbourhood sizes;
2. stepwise coreset: k-center of a few sampled images, down-sampled again with each next chunk,
   so the greedy never holds more than the coreset plus one chunk of patches;
3. coreset learning: k-center favours outliers, so it picks up defect patches, which would then
   vouch for the same defect in other images (plain mutual nearest-neighbour scoring ranks magnetic
   tiles worse than chance). Each round scores every coreset row against the batch by its distance
   to the support_fraction x N-th nearest other image: normal patterns recur in many images, a
   defect type in few. Rows far above the median are dropped and the coreset re-selected from the
   patches they did not cover; the last round's row scores stay as a penalty on each row;
4. pixel score = distance to the nearest coreset row from another image; image score = top-N mean;
5. re-scoring: each image score blended with those of its most similar images (mean patch feature).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from goldenshot.coreset import greedy_coreset
from goldenshot.features import FeatureExtractor
from goldenshot.fewshot import Progress
from goldenshot.inspector import ANOMALOUS, OK, Inspection, conclude
from goldenshot.scoring import score_grid, squared_norms
from goldenshot.settings import MapSettings, Settings

_MAD_TO_SIGMA = 1.4826  # MAD x this = the standard deviation, for normal data


class ZeroShotError(ValueError):
    """A batch that cannot score itself: too few distinct images, or not RGB images."""


@dataclass
class ZeroShotBatch:
    """Scores, maps (working size) and batch-derived thresholds of one zero-shot batch, in input order."""

    scores: list[float]
    maps: list[np.ndarray]
    threshold: float  # image decision: ANOMALOUS above it
    pixel_threshold: float  # regions: where a map exceeds it
    sizes: list[tuple[int, int]]  # each image's original (height, width)
    coreset_rows: int
    seconds: dict[str, float] = field(default_factory=dict)  # time per stage

    @property
    def decisions(self) -> list[str]:
        return [ANOMALOUS if s > self.threshold else OK for s in self.scores]

    def inspection(self, index: int, maps: MapSettings) -> Inspection:
        """One image's result like Inspector.inspect's: map at the original size, regions."""
        return conclude(self.scores[index], self.maps[index], self.sizes[index], self.threshold, self.pixel_threshold, maps)


def robust_threshold(values: torch.Tensor | Sequence[float], mads: float) -> float:
    """median + mads x MAD (scaled to a standard deviation): a rule from the batch alone that a
    minority of high values barely moves, unlike mean + k x std."""
    x = torch.as_tensor(values, dtype=torch.float32).flatten()
    median = x.median()
    return float(median + mads * _MAD_TO_SIGMA * (x - median).abs().median())


def score_batch(
    images: Sequence[np.ndarray],
    extractor: FeatureExtractor,
    settings: Settings,
    progress: Progress | None = None,
) -> ZeroShotBatch:
    """Score every image of one product's batch against the others; no labels, no golden samples.

    images: HxWx3 uint8 RGB arrays (goldenshot.images.decode_image); each is read once, in order,
    so a lazy sequence keeps a large batch out of memory. Identical images count as one source, so
    a repeated photo cannot vouch for itself. Thresholds: robust_threshold of the image scores and
    of the per-image map peaks (zeroshot.threshold_mads).
    """
    if len(images) < 2:
        raise ZeroShotError(f"a zero-shot batch needs at least 2 images, got {len(images)}")
    report = progress or (lambda stage, done, total: None)
    zs = settings.zeroshot
    seconds: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(stage: str) -> None:
        now = time.perf_counter()
        seconds[stage] = seconds.get(stage, 0.0) + now - clock[0]
        clock[0] = now

    batch = _BatchFeatures(extractor, zs.neighbourhoods)
    for i, image in enumerate(images):
        batch.add(_checked(image, i))
        report("features", i + 1, len(images))
    if len(set(batch.owner)) < 2:
        raise ZeroShotError(f"a zero-shot batch needs at least 2 different images, got {len(images)} copies of one")
    lap("features")
    bank, owner = _learned_coreset(batch, settings, report, lap)
    scores, maps, descriptors = _score(batch, bank, owner, settings, report)
    if zs.rescore:
        scores = rescore(scores, descriptors, zs.rescore_neighbours, zs.rescore_weight)
    lap("scoring")
    return ZeroShotBatch(
        scores=scores.tolist(),
        maps=maps,
        threshold=robust_threshold(scores, zs.threshold_mads),
        pixel_threshold=robust_threshold([float(m.max()) for m in maps], zs.threshold_mads),
        sizes=batch.original_sizes,
        coreset_rows=int(bank.shape[0]),
        seconds=seconds,
    )


def rescore(scores: torch.Tensor, descriptors: torch.Tensor, neighbours: int, weight: float) -> torch.Tensor:
    """score_i <- (1 - weight) score_i + weight x mean score of the `neighbours` images most similar
    to i (cosine of mean patch features). Similar images should score alike, so an isolated high or
    low score is pulled towards its look-alikes. Rows are done in blocks: memory O(block x N)."""
    unit = F.normalize(descriptors.float(), dim=1)
    k = min(neighbours, len(scores) - 1)
    means = []
    for start in range(0, len(scores), 1024):
        sim = unit[start : start + 1024] @ unit.T
        rows = torch.arange(sim.shape[0])
        sim[rows, rows + start] = -torch.inf  # not itself
        means.append(scores[sim.topk(k, dim=1).indices].mean(1))
    return (1.0 - weight) * scores + weight * torch.cat(means)


class _BatchFeatures:
    """Every image's tap maps, kept in float16 (several times smaller than its multi-scale patch
    features), expanded to patch features on demand; plus each image's source id and sizes."""

    def __init__(self, extractor: FeatureExtractor, neighbourhoods: Sequence[int]):
        self.extractor = extractor
        self.neighbourhoods = tuple(neighbourhoods)
        self.taps: list[list[torch.Tensor]] = []
        self.owner: list[int] = []  # source id: identical images share one
        self.sizes: list[tuple[int, int]] = []  # working size, for the maps
        self.original_sizes: list[tuple[int, int]] = []
        self._ids: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.taps)

    def add(self, image: np.ndarray) -> None:
        digest = hashlib.sha256(np.ascontiguousarray(image).data).hexdigest() + str(image.shape)
        self.owner.append(self._ids.setdefault(digest, len(self._ids)))
        tensor = self.extractor.tensor(image)
        self.taps.append([m[0].half() for m in self.extractor.taps(tensor[None])])
        self.sizes.append((tensor.shape[1], tensor.shape[2]))
        self.original_sizes.append((image.shape[0], image.shape[1]))

    def grid(self, i: int) -> torch.Tensor:
        """Image i's patch features [h, w, D] (float32)."""
        return self.extractor.patches([m[None].float() for m in self.taps[i]], self.neighbourhoods)[0]

    def rows(self, i: int) -> torch.Tensor:
        feats = self.grid(i)
        return feats.reshape(-1, feats.shape[-1])


def _checked(image: np.ndarray, index: int) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        raise ZeroShotError(f"image {index}: expected an HxWx3 uint8 RGB array, got {type(image).__name__} {shape} {getattr(image, 'dtype', '')}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ZeroShotError(f"image {index}: empty image {image.shape}")
    return image


def _learned_coreset(
    batch: _BatchFeatures,
    settings: Settings,
    report: Progress,
    lap: Callable[[str], None],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Steps 2 and 3: the stepwise coreset, then `rounds` of vetting its rows by image support.

    Between rounds the coreset is re-selected from the patches whose nearest row was kept; after
    the last round the doubtful rows are dropped and, with row_scores, each kept row carries its
    score as one more coordinate, so a patch's distance to it becomes sqrt(d^2 + score^2).
    """
    zs = settings.zeroshot
    n = len(batch)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(settings.seed)).tolist()
    bank, owner = _coreset(batch, order, None, settings, lambda done: report("coreset", done, n))
    lap("coreset")
    support = max(1, min(len(set(batch.owner)) - 1, round(zs.support_fraction * (n - 1))))
    for r in range(zs.rounds):
        stage, reselect = f"learning {r + 1}/{zs.rounds}", r + 1 < zs.rounds
        total = (2 if reselect else 1) * n
        row_scores, nearest_row = _vet(batch, bank, owner, support, settings, lambda done: report(stage, done, total))
        kept = row_scores <= robust_threshold(row_scores, zs.drop_mads)
        if reselect:
            covered = [kept[idx] for idx in nearest_row]
            bank, owner = _coreset(batch, order, covered, settings, lambda done: report(stage, n + done, total))
        else:
            bank, owner = bank[kept], owner[kept]
            if zs.row_scores:
                bank = torch.cat([bank, row_scores[kept].unsqueeze(1)], dim=1)
        lap("learning")
    return bank, owner


def _score(
    batch: _BatchFeatures,
    bank: torch.Tensor,
    owner: torch.Tensor,
    settings: Settings,
    report: Progress,
) -> tuple[torch.Tensor, list[np.ndarray], torch.Tensor]:
    """Step 4: image scores [N], maps (working size) and mean patch features [N, D] (for re-scoring).

    Each patch is scored by the one scoring path (score_grid) against the rows of other images.
    """
    bank_sq = squared_norms(bank)
    scores, maps, descriptors = [], [], []
    for i in range(len(batch)):
        feats = batch.grid(i)
        queries = F.pad(feats, (0, bank.shape[1] - feats.shape[-1]))  # zeros against the row-score column
        score, score_map = score_grid(queries, batch.sizes[i], bank, bank_sq, settings.scoring, settings.maps.sigma, owner == batch.owner[i])
        scores.append(score)
        maps.append(score_map)
        descriptors.append(feats.mean((0, 1)))
        report("scoring", i + 1, len(batch))
    return torch.tensor(scores), maps, torch.stack(descriptors)


def _coreset(
    batch: _BatchFeatures,
    order: list[int],
    candidates: list[torch.Tensor] | None,
    settings: Settings,
    report: Callable[[int], None],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Coreset rows [M, D] and the source id of each, from the candidate patches (all if None).

    Stepwise: greedy k-center of the first init_images images of `order`, then of (coreset + the
    next step_images images) each step; the size grows with the patches seen up to coreset_size.
    """
    zs = settings.zeroshot
    if zs.stepwise:
        first = order[: zs.init_images]
        chunks = [first] + [order[s : s + zs.step_images] for s in range(len(first), len(order), zs.step_images)]
    else:
        chunks = [order]
    bank = torch.empty(0, 0)
    owner = torch.empty(0, dtype=torch.long)
    seen = done = 0
    for chunk in chunks:
        rows, owners = [bank] if len(bank) else [], [owner]
        for i in chunk:
            feats = batch.rows(i)
            if candidates is not None:
                feats = feats[candidates[i]]
            rows.append(feats)
            owners.append(torch.full((len(feats),), batch.owner[i], dtype=torch.long))
            seen += len(feats)
        pool, pool_owner = torch.cat(rows), torch.cat(owners)
        if len(pool):
            keep = greedy_coreset(pool, min(zs.coreset_size, seen), settings.coreset.projection_dim, settings.seed)
            bank, owner = pool[keep], pool_owner[keep]
        done += len(chunk)
        report(done)
    if owner.unique().numel() < 2:
        raise ZeroShotError("the coreset holds patches of one image only, so no image can be scored against the others; use a larger zeroshot.coreset_size")
    return bank, owner


def _vet(
    batch: _BatchFeatures,
    bank: torch.Tensor,
    owner: torch.Tensor,
    support: int,
    settings: Settings,
    report: Callable[[int], None],
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Each coreset row's score against the rest of the batch, and each image's nearest row per patch.

    A row's score is its distance to the `support`-th nearest other image (its distance to an image
    being the one to that image's closest patch): a normal pattern recurs in many images, a defect
    in few, so one look-alike defect elsewhere cannot vouch for it as it would for a plain nearest
    neighbour. One pass over every patch against the coreset gives both reductions of the same
    distance matrix, which `nearest` (rows only) does not. Memory: rows x images, linear in N.
    """
    bank_sq = squared_norms(bank)
    to_image = torch.empty(len(bank), len(batch))  # squared distance from each row to each image
    assigned = []
    chunk = settings.scoring.chunk_rows
    for i in range(len(batch)):
        queries = batch.rows(i)
        q_sq = squared_norms(queries).unsqueeze(1)
        own = owner == batch.owner[i]
        near_d, near_idx = [], []
        for start in range(0, len(bank), chunk):
            d = torch.addmm(bank_sq[start : start + chunk].unsqueeze(0), queries, bank[start : start + chunk].T, alpha=-2).add_(q_sq)
            d.masked_fill_(own[start : start + chunk].unsqueeze(0), torch.inf)  # a row is not vouched for by its own image
            to_image[start : start + chunk, i] = d.amin(0)
            dist, idx = d.min(1)
            near_d.append(dist)
            near_idx.append(idx + start)
        pick = torch.stack(near_d).argmin(0)
        assigned.append(torch.stack(near_idx).gather(0, pick.unsqueeze(0)).squeeze(0))
        report(i + 1)
    return to_image.kthvalue(support, dim=1).values.clamp_(min=0).sqrt_(), assigned
