"""Fit: golden samples -> fingerprint (self-configured bank, threshold at a target false-alarm rate, strays named)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from goldenshot.bank import GoldenSample, Progress, without_units
from goldenshot.features import FeatureExtractor
from goldenshot.fingerprint import Fingerprint, FingerprintMeta, GoldenStats, Source, Stray, Validation, check_threshold, now_iso
from goldenshot.images import decode_near, image_sha256, read_bytes
from goldenshot.selfconfig import choose, largest_input
from goldenshot.settings import Settings
from goldenshot.threshold import good_threshold, strays

__all__ = ["FitError", "GoldenSample", "Progress", "fit", "golden_samples"]

log = logging.getLogger(__name__)


class FitError(ValueError):
    """Golden samples that cannot make a fingerprint (none, or no way to set a threshold)."""


def fit(
    samples: Sequence[GoldenSample],
    extractor: FeatureExtractor,
    settings: Settings,
    threshold: float | None = None,
    progress: Progress | None = None,
) -> Fingerprint:
    """Build a fingerprint from K golden samples; no defect image is needed.

    With self-configuration on, each candidate configuration is tried on the same samples and
    the one that best separates held-out goods from synthetic defects is kept (goldenshot.selfconfig).
    """
    samples = _unique(samples)
    if not samples:
        raise FitError("no golden samples given")
    if threshold is not None:
        check_threshold(threshold)
    report = progress or (lambda stage, done, total: None)
    choice = choose(samples, extractor, settings, report)
    settings, extractor, units, bank = choice.settings, choice.extractor, choice.units, choice.bank
    sources = [Source(name=s.name, sha256=s.sha256) for s in samples]
    stray = [] if units.single else strays(bank.distances, settings.threshold)
    if stray:
        for i in stray:
            log.warning("golden sample %s looks unlike the others (leave-one-out distance %.3f, median %.3f): left out of the bank and threshold",
                        samples[i].name, bank.distances[i], float(np.median(bank.distances)))
        bank = without_units(bank, units, stray, settings)
    report("threshold", 1, 1)
    if bank.scores:
        auto = good_threshold(bank.scores, settings.threshold, units.single)
        pixel = good_threshold(bank.peaks, settings.threshold, units.single)
    elif threshold is None:
        raise FitError("the bank holds patches of one golden unit only, so leave-one-out cannot set a threshold; give --threshold or a larger coreset")
    else:
        auto = pixel = float(threshold)
    arr = np.asarray(bank.scores, dtype=np.float64)
    stat = (lambda f: float(f(arr))) if bank.scores else (lambda f: None)
    meta = FingerprintMeta(
        created_at=now_iso(),
        backbone=extractor.backbone.name,
        weights_sha256=extractor.backbone.weights_sha256,
        taps=extractor.backbone.taps,
        feature_dim=bank.rows.shape[1],
        preprocess=extractor.preprocess,
        scoring=settings.scoring,
        maps=settings.maps,
        augment=settings.augment,
        threshold=auto,
        pixel_threshold=pixel,
        pixel_floor=float(np.median(bank.peaks)) if bank.peaks else pixel,
        threshold_source="leave-one-out" if bank.scores else "user",
        target_fpr=settings.threshold.target_fpr,
        distance_threshold=good_threshold(bank.distances, settings.threshold, units.single) if bank.distances else None,
        golden=GoldenStats(scores=bank.scores, distances=bank.distances, mean=stat(np.mean), std=stat(np.std), max=stat(np.max)),
        sources=sources,
        strays=[Stray(name=samples[i].name, score=choice.bank.scores[i]) for i in stray],
        selfconfig=_validated(choice.report, choice.defects, auto),
        coreset_rows=int(bank.rows.shape[0]),
        patches_seen=int(units.patches.shape[0]),
        seed=settings.seed,
    )
    fingerprint = Fingerprint(bank.rows, meta, extractor.projection, bank.where)
    return fingerprint if threshold is None else fingerprint.with_threshold(threshold)


def _validated(report: Validation | None, defects: list[float], threshold: float) -> Validation | None:
    """The self-configuration report with the share of synthetic defects the threshold catches."""
    if report is None or not defects:
        return report
    return report.model_copy(update={"detected": round(float(np.mean([d > threshold for d in defects])), 4)})


def golden_samples(paths: Sequence[Path], settings: Settings) -> list[GoldenSample]:
    """Read golden images from disk: one bounded read gives both the pixels and the sha256. Each is
    decoded near the largest working size the fit may use, not at full size."""
    target = largest_input(settings)
    samples = []
    for path in paths:
        data = read_bytes(path, settings.limits.max_bytes)
        image = decode_near(data, str(path), settings.limits.max_pixels, target).image
        samples.append(GoldenSample(path.name, image_sha256(data), image))
    return samples


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


