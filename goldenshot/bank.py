"""The memory bank of a support set: patch features tagged by golden unit, coreset, leave-one-out scores.

A unit is a golden sample, or with a single sample a quadrant of it. Holding one unit out of the
bank and scoring it shows what a good part the bank has not seen scores: the basis of the
threshold (goldenshot.threshold), of stray detection and of self-configuration
(goldenshot.selfconfig), which all build on this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from goldenshot.augment import augmented_copies, moved_labels
from goldenshot.coreset import coreset_size, greedy_coreset
from goldenshot.features import FeatureExtractor
from goldenshot.scoring import score_grid, squared_norms
from goldenshot.settings import AugmentSettings, Settings

Progress = Callable[[str, int, int], None]  # (stage, done, total)
# where a bank row came from: golden sample (index into the fingerprint's sources), view (0: the
# unaugmented image), patch row and column, and the height and width of that view's patch grid
PROVENANCE = ("sample", "view", "row", "col", "grid_h", "grid_w")


@dataclass(frozen=True)
class GoldenSample:
    """A decoded golden image and where it came from."""

    name: str
    sha256: str
    image: np.ndarray


@dataclass
class Units:
    """A support set turned into patch features, each patch tagged with the golden unit it came from.

    A unit is a golden sample, or with a single sample a quadrant of it: leave-one-out holds out
    one unit at a time. `originals` holds each unit's unaugmented patch grid and working size,
    `images` each sample's working-size image (synthetic defects are drawn on them).
    """

    patches: torch.Tensor  # [N, D], every view of every sample
    owner: torch.Tensor  # [N] unit of each patch
    where: torch.Tensor  # [N, 6] int32 provenance of each patch (PROVENANCE columns)
    originals: list[tuple[int, torch.Tensor, tuple[int, int]]]
    images: list[torch.Tensor]
    single: bool


@dataclass
class Bank:
    """The coreset of a support set and the leave-one-out scores that set its thresholds."""

    rows: torch.Tensor
    owner: torch.Tensor
    where: torch.Tensor  # [rows, 6] provenance of each row
    scores: list[float]  # per unit: image score against the rows of the other units
    peaks: list[float]  # per unit: peak of that leave-one-out anomaly map
    distances: list[float]  # per unit: the kNN part of its score (the score itself under kNN scoring)


def support_units(samples: Sequence[GoldenSample], extractor: FeatureExtractor, settings: Settings, report: Progress) -> Units:
    """Augmented views of every sample -> patch features tagged by unit."""
    feats, owners, originals, images, where = [], [], [], [], []
    single = len(samples) == 1  # one sample: its quadrants stand in for images
    for i, sample in enumerate(samples):
        image = extractor.tensor(sample.image)
        images.append(image)
        seed = settings.seed * 10007 + i  # each sample its own sequence of transforms
        views = torch.stack(augmented_copies(image, settings.augment, seed))
        view_feats = extractor(views)  # [V, h, w, D]
        size = tuple(views.shape[-2:])
        v_count, h, w, d = view_feats.shape
        if single:
            quadrant = torch.empty(h, w, dtype=torch.long)
            for q, (rows, cols) in enumerate(quadrants(h, w)):
                quadrant[rows, cols] = q
                sub = view_feats[0, rows, cols]
                originals.append((q, sub, (size[0] * sub.shape[0] // h, size[1] * sub.shape[1] // w)))
            owners.append(_view_quadrants(quadrant, size, settings.augment, seed).flatten())
        else:
            owners.append(torch.full((v_count * h * w,), i, dtype=torch.long))
            originals.append((i, view_feats[0], size))
        feats.append(view_feats.reshape(-1, d))
        where.append(_provenance(i, v_count, h, w))
        report("features", i + 1, len(samples))
    return Units(torch.cat(feats), torch.cat(owners), torch.cat(where), originals, images, single)


def _view_quadrants(quadrant: torch.Tensor, size: tuple[int, int], augment: AugmentSettings, seed: int) -> torch.Tensor:
    """[V, h, w] the quadrant each view's patch shows. A flipped or shifted view shows a quadrant
    elsewhere on its grid, and holding a quadrant out must drop its content wherever it went, or its
    own mirror image stands in for it and the leave-one-out scores come out too low."""
    (height, width), (h, w) = size, quadrant.shape
    ys, xs = torch.arange(height) * h // height, torch.arange(width) * w // width
    pixels = quadrant[ys[:, None], xs[None, :]]
    centres = (torch.arange(h) * 2 + 1) * height // (2 * h), (torch.arange(w) * 2 + 1) * width // (2 * w)
    return torch.stack([view[centres[0][:, None], centres[1][None, :]] for view in moved_labels(pixels, augment, seed)])


def _provenance(sample: int, views: int, h: int, w: int) -> torch.Tensor:
    """[views * h * w, 6] rows in the order of view_feats.reshape(-1, D): view-major, then row, then column."""
    view, row, col = torch.meshgrid(torch.arange(views), torch.arange(h), torch.arange(w), indexing="ij")
    n = views * h * w
    fixed = torch.tensor([sample, h, w]).expand(n, 3)
    return torch.stack([fixed[:, 0], view.flatten(), row.flatten(), col.flatten(), fixed[:, 1], fixed[:, 2]], dim=1).int()


def build_bank(units: Units, settings: Settings, report: Progress, rows: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None) -> Bank:
    """Greedy coreset of the units' patches (or `rows`, a coreset already made with its owners and
    provenance), then each unit's leave-one-out scores against it."""
    if rows is None:
        size = coreset_size(units.patches.shape[0], settings.coreset)
        report("coreset", 0, size)
        keep = greedy_coreset(units.patches, size, settings.coreset.projection_dim, seed=settings.seed)
        # the precision it is stored in, so fit and load score alike
        rows = units.patches[keep].half().float(), units.owner[keep], units.where[keep]
        report("coreset", size, size)
    return Bank(rows[0], rows[1], rows[2], *leave_one_out_scores(rows[0], rows[1], units.originals, settings))


def without_units(bank: Bank, units: Units, drop: Sequence[int], settings: Settings) -> Bank:
    """The bank less the rows of some units (strays), with the others' leave-one-out scores again."""
    keep = ~torch.isin(bank.owner, torch.tensor(list(drop), dtype=torch.long))
    dropped = set(drop)
    originals = [o for o in units.originals if o[0] not in dropped]
    rows, owner = bank.rows[keep], bank.owner[keep]
    return Bank(rows, owner, bank.where[keep], *leave_one_out_scores(rows, owner, originals, settings))


def quadrants(h: int, w: int) -> list[tuple[slice, slice]]:
    """The four quadrants of an h x w patch grid (row slice, column slice)."""
    return [(r, c) for r in (slice(0, h // 2), slice(h // 2, h)) for c in (slice(0, w // 2), slice(w // 2, w))]


def leave_one_out_scores(
    bank: torch.Tensor,
    bank_owner: torch.Tensor,
    originals: list[tuple[int, torch.Tensor, tuple[int, int]]],
    settings: Settings,
) -> tuple[list[float], list[float], list[float]]:
    """Image scores, anomaly-map peaks and kNN parts of the scores of each golden unit against the
    bank rows not from it.

    A unit is a golden sample, or with a single sample a quadrant of it (all its views): these are
    what good parts the bank has not seen look like, so the image threshold sits above the
    scores and the region (pixel) threshold above the map peaks. Strays and the scale of defect
    kinds are judged on the kNN part: a subspace residual leave-one-out is large for any sample
    whose own directions the others lack, which says little about whether it is the same product.
    """
    if int(bank_owner.unique().numel()) < 2:
        return [], [], []
    bank_sq = squared_norms(bank)
    scores, peaks, distances = [], [], []
    for unit, fmap, size in originals:
        parts: dict[str, float] = {}
        score, score_map = score_grid(fmap, size, bank, bank_sq, settings.scoring, settings.maps.sigma, bank_owner == unit, parts=parts)
        scores.append(score)
        peaks.append(float(score_map.max()))
        distances.append(parts["knn"])
    return scores, peaks, distances
