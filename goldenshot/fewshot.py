"""Fit: golden samples -> fingerprint (augment, patch features, coreset, leave-one-out threshold)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from goldenshot.augment import augmented_copies
from goldenshot.coreset import coreset_size, greedy_coreset
from goldenshot.features import FeatureExtractor
from goldenshot.fingerprint import Fingerprint, FingerprintMeta, GoldenStats, Source, now_iso
from goldenshot.scoring import score_grid, squared_norms
from goldenshot.settings import Settings

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
    if not samples:
        raise FitError("no golden samples given")
    report = progress or (lambda stage, done, total: None)
    feats, units, originals = [], [], []
    per_image_units = len(samples) > 1  # one sample: its augmented views stand in for images
    for i, sample in enumerate(samples):
        views = torch.stack(augmented_copies(extractor.tensor(sample.image), settings.augment, seed=settings.seed * 10007 + i))
        view_feats = extractor(views)  # [V, h, w, D]
        for v in range(view_feats.shape[0]):
            unit = i if per_image_units else v
            feats.append(view_feats[v].reshape(-1, view_feats.shape[-1]))
            units.append(torch.full((feats[-1].shape[0],), unit, dtype=torch.long))
            if v == 0 or not per_image_units:
                originals.append((unit, view_feats[v], tuple(views.shape[-2:])))
        report("features", i + 1, len(samples))
    patches, owner = torch.cat(feats), torch.cat(units)
    size = coreset_size(patches.shape[0], settings.coreset)
    report("coreset", 0, size)
    keep = greedy_coreset(patches, size, settings.coreset.projection_dim, seed=settings.seed)
    bank = patches[keep].half().float()  # the precision it is stored in, so fit and load score alike
    report("coreset", size, size)
    scores, peaks = leave_one_out_scores(bank, owner[keep], originals, settings)
    report("threshold", 1, 1)
    if not scores and threshold is None:
        raise FitError("one golden sample without augmentation leaves nothing to set a threshold from; give --threshold")
    margin = settings.threshold_margin
    auto = margin * float(np.quantile(scores, settings.threshold_quantile)) if scores else float(threshold)
    pixel = margin * float(np.quantile(peaks, settings.threshold_quantile)) if peaks else float(threshold)
    source = "user" if threshold is not None else "leave-one-out"
    if threshold is None:
        threshold = auto
    arr = np.asarray(scores, dtype=np.float64)
    meta = FingerprintMeta(
        created_at=now_iso(),
        backbone=extractor.backbone.name,
        weights_sha256=extractor.backbone.weights_sha256,
        taps=extractor.backbone.taps,
        feature_dim=bank.shape[1],
        preprocess=settings.preprocess,
        scoring=settings.scoring,
        maps=settings.maps,
        threshold=float(threshold),
        pixel_threshold=pixel * float(threshold) / auto if auto > 0 else pixel,
        threshold_source=source,
        golden=GoldenStats(
            scores=[float(s) for s in scores],
            mean=float(arr.mean()) if scores else 0.0,
            std=float(arr.std()) if scores else 0.0,
            max=float(arr.max()) if scores else 0.0,
        ),
        sources=[Source(name=s.name, sha256=s.sha256) for s in samples],
        coreset_rows=int(bank.shape[0]),
        patches_seen=int(patches.shape[0]),
        seed=settings.seed,
    )
    return Fingerprint(bank, meta, extractor.projection)


def leave_one_out_scores(
    bank: torch.Tensor,
    bank_owner: torch.Tensor,
    originals: list[tuple[int, torch.Tensor, tuple[int, int]]],
    settings: Settings,
) -> tuple[list[float], list[float]]:
    """Image scores and anomaly-map peaks of each golden unit against the bank rows not from it.

    These are what good parts the bank has not seen look like, so the image threshold sits
    above the scores and the region (pixel) threshold above the map peaks.
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
