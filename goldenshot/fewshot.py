"""Fit: golden samples -> fingerprint (augment, patch features, coreset, leave-one-out threshold)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from goldenshot.augment import augmented_copies
from goldenshot.coreset import coreset_size, greedy_coreset
from goldenshot.features import FeatureExtractor
from goldenshot.images import decode_image, image_sha256, read_bytes
from goldenshot.fingerprint import Fingerprint, FingerprintMeta, GoldenStats, Source, check_threshold, now_iso
from goldenshot.scoring import score_grid, squared_norms
from goldenshot.settings import Settings

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]  # (stage, done, total)


class FitError(ValueError):
    """Golden samples that cannot make a fingerprint (none, or no way to set a threshold)."""


@dataclass(frozen=True)
class GoldenSample:
    """A decoded golden image and where it came from."""

    name: str
    sha256: str
    image: np.ndarray


def fit(
    samples: Sequence[GoldenSample],
    extractor: FeatureExtractor,
    settings: Settings,
    threshold: float | None = None,
    progress: Progress | None = None,
) -> Fingerprint:
    """Build a fingerprint from K golden samples; no defect image is needed."""
    samples = _unique(samples)
    if not samples:
        raise FitError("no golden samples given")
    if threshold is not None:
        check_threshold(threshold)
    report = progress or (lambda stage, done, total: None)
    feats, units, originals = [], [], []
    single = len(samples) == 1  # one sample: its quadrants stand in for images
    for i, sample in enumerate(samples):
        views = torch.stack(augmented_copies(extractor.tensor(sample.image), settings.augment, seed=settings.seed * 10007 + i))
        view_feats = extractor(views)  # [V, h, w, D]
        size = tuple(views.shape[-2:])
        v_count, h, w, d = view_feats.shape
        if single:
            quadrant = torch.empty(h, w, dtype=torch.long)
            for q, (rows, cols) in enumerate(_quadrants(h, w)):
                quadrant[rows, cols] = q
                sub = view_feats[0, rows, cols]
                originals.append((q, sub, (size[0] * sub.shape[0] // h, size[1] * sub.shape[1] // w)))
            units.append(quadrant.flatten().repeat(v_count))
        else:
            units.append(torch.full((v_count * h * w,), i, dtype=torch.long))
            originals.append((i, view_feats[0], size))
        feats.append(view_feats.reshape(-1, d))
        report("features", i + 1, len(samples))
    patches, owner = torch.cat(feats), torch.cat(units)
    size = coreset_size(patches.shape[0], settings.coreset)
    report("coreset", 0, size)
    keep = greedy_coreset(patches, size, settings.coreset.projection_dim, seed=settings.seed)
    bank = patches[keep].half().float()  # the precision it is stored in, so fit and load score alike
    report("coreset", size, size)
    scores, peaks = leave_one_out_scores(bank, owner[keep], originals, settings)
    report("threshold", 1, 1)
    if scores:
        quantile, margin = settings.threshold_quantile, settings.threshold_margin
        auto, pixel = (margin * float(np.quantile(values, quantile)) for values in (scores, peaks))
    elif threshold is None:
        raise FitError("the bank holds patches of one golden unit only, so leave-one-out cannot set a threshold; give --threshold or a larger coreset")
    else:
        auto = pixel = float(threshold)
    arr = np.asarray(scores, dtype=np.float64)
    stat = (lambda f: float(f(arr))) if scores else (lambda f: None)
    meta = FingerprintMeta(
        created_at=now_iso(),
        backbone=extractor.backbone.name,
        weights_sha256=extractor.backbone.weights_sha256,
        taps=extractor.backbone.taps,
        feature_dim=bank.shape[1],
        preprocess=extractor.preprocess,
        scoring=settings.scoring,
        maps=settings.maps,
        threshold=auto,
        pixel_threshold=pixel,
        threshold_source="leave-one-out" if scores else "user",
        golden=GoldenStats(scores=scores, mean=stat(np.mean), std=stat(np.std), max=stat(np.max)),
        sources=[Source(name=s.name, sha256=s.sha256) for s in samples],
        coreset_rows=int(bank.shape[0]),
        patches_seen=int(patches.shape[0]),
        seed=settings.seed,
    )
    fingerprint = Fingerprint(bank, meta, extractor.projection)
    return fingerprint if threshold is None else fingerprint.with_threshold(threshold)


def golden_samples(paths: Sequence[Path], settings: Settings) -> list[GoldenSample]:
    """Read golden images from disk: one bounded read gives both the pixels and the sha256."""
    samples = []
    for path in paths:
        data = read_bytes(path, settings.limits.max_bytes)
        samples.append(GoldenSample(path.name, image_sha256(data), decode_image(data, str(path), settings.limits.max_pixels)))
    return samples


def _quadrants(h: int, w: int) -> list[tuple[slice, slice]]:
    """The four quadrants of an h x w patch grid (row slice, column slice)."""
    return [(r, c) for r in (slice(0, h // 2), slice(h // 2, h)) for c in (slice(0, w // 2), slice(w // 2, w))]


def _unique(samples: Sequence[GoldenSample]) -> list[GoldenSample]:
    """Drop repeated images: a duplicate would score ~0 leave-one-out and collapse the threshold."""
    seen: dict[str, str] = {}
    out = []
    for sample in samples:
        if sample.sha256 in seen:
            log.warning("golden sample %s is the same image as %s; using it once", sample.name, seen[sample.sha256])
            continue
        seen[sample.sha256] = sample.name
        out.append(sample)
    return out


def leave_one_out_scores(
    bank: torch.Tensor,
    bank_owner: torch.Tensor,
    originals: list[tuple[int, torch.Tensor, tuple[int, int]]],
    settings: Settings,
) -> tuple[list[float], list[float]]:
    """Image scores and anomaly-map peaks of each golden unit against the bank rows not from it.

    A unit is a golden sample, or with a single sample a quadrant of it (all its views): these are
    what good parts the bank has not seen look like, so the image threshold sits above the
    scores and the region (pixel) threshold above the map peaks.
    """
    if int(bank_owner.unique().numel()) < 2:
        return [], []
    bank_sq = squared_norms(bank)
    scores, peaks = [], []
    for unit, fmap, size in originals:
        score, score_map = score_grid(fmap, size, bank, bank_sq, settings.scoring, settings.maps.sigma, bank_owner == unit)
        scores.append(score)
        peaks.append(float(score_map.max()))
    return scores, peaks
