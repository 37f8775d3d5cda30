"""Evaluation metrics: image-level AUROC / F1-max and pixel-level AUROC / AUPRO.

Image metrics take one label (0 good, 1 defective) and one score per image. Pixel metrics take,
per image, a ground-truth mask (nonzero = defective) and an anomaly map of the same 2-D shape;
images may differ in size. Scores are compared at float32 precision, which halves the memory of
the pixel metrics on full test sets (tens of millions of pixels).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import cv2
import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import precision_recall_curve, roc_auc_score

__all__ = ["aupro", "f1_max", "image_auroc", "pixel_auroc"]


def _image_inputs(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate image-level inputs here so callers get one clear message, not sklearn's."""
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError(f"labels and scores must be 1-D, got shapes {y.shape} and {s.shape}")
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.size} != {s.size}")
    if y.size == 0:
        raise ValueError("no images given")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (good) or 1 (defective)")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return y.astype(np.int8), s


def image_auroc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve of image scores: threshold-free, so runs compare fairly."""
    y, s = _image_inputs(labels, scores)
    if y.min() == y.max():
        raise ValueError("image AUROC needs both good (0) and defective (1) labels")
    return float(roc_auc_score(y, s))


def f1_max(labels: ArrayLike, scores: ArrayLike) -> float:
    """Best F1 over all score thresholds: what an operator gets with the ideal threshold."""
    y, s = _image_inputs(labels, scores)
    if not y.any():
        raise ValueError("F1 needs at least one defective (1) label")
    precision, recall, _ = precision_recall_curve(y, s)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return float(f1.max())


def _pixel_pairs(masks: Sequence[np.ndarray], maps: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Check every pair's shape up front, so a bad image fails before any heavy work."""
    if len(masks) != len(maps):
        raise ValueError(f"got {len(masks)} masks but {len(maps)} anomaly maps")
    if len(masks) == 0:
        raise ValueError("no images given")
    pairs = []
    for i, (mask, amap) in enumerate(zip(masks, maps)):
        mask, amap = np.asarray(mask), np.asarray(amap)
        if mask.ndim != 2 or mask.shape != amap.shape:
            raise ValueError(f"image {i}: mask shape {mask.shape} and map shape {amap.shape} must be the same HxW")
        pairs.append((mask, amap))
    return pairs


def _iter_images(pairs: list[tuple[np.ndarray, np.ndarray]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (bool mask, float32 map) one image at a time, so at most one converted copy is alive."""
    for i, (mask, amap) in enumerate(pairs):
        scores = amap.astype(np.float32, copy=False)
        if not np.isfinite(scores).all():
            raise ValueError(f"image {i}: anomaly map contains NaN or inf")
        yield mask.astype(bool, copy=False), scores


def pixel_auroc(masks: Sequence[np.ndarray], maps: Sequence[np.ndarray]) -> float | None:
    """ROC AUC over all pixels of all images; None when undefined (no defective or no good pixel).

    Nothing is subsampled: tiny defects are a handful of pixels and would vanish in a sample.
    """
    pairs = _pixel_pairs(masks, maps)
    goods, bads = [], []
    for mask, amap in _iter_images(pairs):
        goods.append(amap[~mask])
        bads.append(amap[mask])
    good, bad = np.concatenate(goods), np.concatenate(bads)
    if bad.size == 0 or good.size == 0:
        return None
    # Exact Mann-Whitney form of the AUC: P(bad > good) + P(bad == good) / 2, via one sort.
    good.sort()
    below = np.searchsorted(good, bad, side="left").astype(np.float64)
    equal = np.searchsorted(good, bad, side="right") - below
    return float((below.sum() + 0.5 * equal.sum()) / (float(good.size) * float(bad.size)))


def aupro(masks: Sequence[np.ndarray], maps: Sequence[np.ndarray], fpr_limit: float = 0.3) -> float | None:
    """Normalised area under the per-region-overlap curve up to ``fpr_limit`` (MVTec AD, Bergmann et al.).

    Unlike pixel AUROC, every defect region (8-connected component of a mask) weighs the same, so
    a large defect cannot hide a missed small one. For each threshold t over the map values:
    FPR(t) = fraction of good pixels (all images) with score >= t and PRO(t) = mean over regions of
    the fraction of the region's pixels with score >= t. The curve is integrated with the trapezoid
    rule from FPR 0 to ``fpr_limit`` (interpolated exactly there) and divided by ``fpr_limit``, so a
    perfect detector scores 1.0. Returns None when undefined (no defective or no good pixel).

    Exact and fast: instead of one pass per threshold, scores are sorted once and hits accumulated
    while the threshold descends. Only the good pixels above the ``fpr_limit`` quantile can shape
    the integrated part, so the others are dropped by a linear-time partition before sorting.
    """
    if not 0.0 < fpr_limit <= 1.0:
        raise ValueError(f"fpr_limit must be in (0, 1], got {fpr_limit}")
    pairs = _pixel_pairs(masks, maps)
    n_good = sum(int(np.count_nonzero(np.asarray(mask) == 0)) for mask, _ in pairs)
    good = np.empty(n_good, dtype=np.float32)
    defect_scores: list[np.ndarray] = []
    defect_weights: list[np.ndarray] = []  # 1 / size of the pixel's region: the pixel's share of that region's overlap
    n_regions = 0
    start = 0
    for mask, amap in _iter_images(pairs):
        n_img_good = mask.size - int(np.count_nonzero(mask))
        good[start : start + n_img_good] = amap[~mask]
        start += n_img_good
        if n_img_good == mask.size:
            continue
        n_labels, regions = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        sizes = np.bincount(regions.ravel(), minlength=n_labels)
        region_of_pixel = regions[mask]
        defect_scores.append(amap[mask])
        defect_weights.append(1.0 / sizes[region_of_pixel])
        n_regions += n_labels - 1
    if n_regions == 0 or n_good == 0:
        return None

    # Keep only the good pixels at or above the m-th highest good score g, with m > fpr_limit * n_good.
    # Points for thresholds >= g stay exact, and they include every point with FPR <= fpr_limit.
    # Points below g see all kept pixels, FPR = kept / n_good > fpr_limit: wrong but never
    # integrated, and the first of them only ends a flat segment (PRO cannot change between g and
    # the next defect score), so the interpolation at fpr_limit stays exact too.
    m = math.ceil(fpr_limit * n_good) + 1
    if m < n_good:
        good.partition(n_good - m)
        good = good[good >= good[n_good - m]]
    good.sort()

    scores = np.concatenate(defect_scores)
    weights = np.concatenate(defect_weights)
    order = np.argsort(scores)[::-1]
    scores, weights = scores[order], weights[order]

    # Curve points only where PRO changes: at each distinct defect score t (descending), first the
    # good pixels strictly above t enter (flat move), then everything equal to t (a diagonal on ties).
    last_of_tie = np.ones(scores.size, dtype=bool)
    last_of_tie[:-1] = scores[1:] != scores[:-1]
    thresholds = scores[last_of_tie]
    pro_at = np.cumsum(weights)[last_of_tie] / n_regions
    pro_before = np.concatenate(([0.0], pro_at[:-1]))
    fp_above = good.size - np.searchsorted(good, thresholds, side="right")
    fp_at_or_above = good.size - np.searchsorted(good, thresholds, side="left")
    fpr = np.concatenate(([0.0], np.column_stack((fp_above, fp_at_or_above)).ravel() / n_good, [1.0]))
    pro = np.concatenate(([0.0], np.column_stack((pro_before, pro_at)).ravel(), [pro_at[-1]]))

    # Cut the curve at fpr_limit, interpolating on the segment that crosses it.
    n_in = int(np.searchsorted(fpr, fpr_limit, side="right"))
    x, y = fpr[:n_in], pro[:n_in]
    if n_in < fpr.size:
        x0, x1, y0, y1 = fpr[n_in - 1], fpr[n_in], pro[n_in - 1], pro[n_in]
        x = np.append(x, fpr_limit)
        y = np.append(y, y0 + (y1 - y0) * (fpr_limit - x0) / (x1 - x0))
    return float(np.trapezoid(y, x) / fpr_limit)
