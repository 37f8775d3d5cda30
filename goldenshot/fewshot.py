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
from goldenshot.fingerprint import Fingerprint, FingerprintMeta, GoldenStats, Source, Stray, Validation, check_threshold, now_iso
from goldenshot.scoring import score_grid, squared_norms
from goldenshot.settings import Settings
from goldenshot.threshold import good_threshold, strays

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


@dataclass
class Units:
    """A support set turned into patch features, each patch tagged with the golden unit it came from.

    A unit is a golden sample, or with a single sample a quadrant of it: leave-one-out holds out
    one unit at a time. `originals` holds each unit's unaugmented patch grid and working size,
    `images` each sample's working-size image (synthetic defects are drawn on them).
    """

    patches: torch.Tensor  # [N, D], every view of every sample
    owner: torch.Tensor  # [N] unit of each patch
    originals: list[tuple[int, torch.Tensor, tuple[int, int]]]
    images: list[torch.Tensor]
    single: bool


@dataclass
class Bank:
    """The coreset of a support set and the leave-one-out scores that set its thresholds."""

    rows: torch.Tensor
    owner: torch.Tensor
    scores: list[float]  # per unit: image score against the rows of the other units
    peaks: list[float]  # per unit: peak of that leave-one-out anomaly map


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
    from goldenshot.selfconfig import choose  # selfconfig builds on this module's functions

    samples = _unique(samples)
    if not samples:
        raise FitError("no golden samples given")
    if threshold is not None:
        check_threshold(threshold)
    report = progress or (lambda stage, done, total: None)
    choice = choose(samples, extractor, settings, report)
    settings, extractor, units, bank = choice.settings, choice.extractor, choice.units, choice.bank
    sources = [Source(name=s.name, sha256=s.sha256) for s in samples]
    stray = [] if units.single else strays(bank.scores, settings.threshold)
    if stray:
        for i in stray:
            log.warning("golden sample %s looks unlike the others (leave-one-out score %.3f, median %.3f): left out of the bank and threshold",
                        samples[i].name, bank.scores[i], float(np.median(bank.scores)))
        bank = without_units(bank, units, stray, settings)
    report("threshold", 1, 1)
    if bank.scores:
        auto = good_threshold(bank.scores, settings.threshold)
        pixel = good_threshold(bank.peaks, settings.threshold)
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
        golden=GoldenStats(scores=bank.scores, mean=stat(np.mean), std=stat(np.std), max=stat(np.max)),
        sources=sources,
        strays=[Stray(name=samples[i].name, score=choice.bank.scores[i]) for i in stray],
        selfconfig=_validated(choice.report, choice.defects, auto),
        coreset_rows=int(bank.rows.shape[0]),
        patches_seen=int(units.patches.shape[0]),
        seed=settings.seed,
    )
    fingerprint = Fingerprint(bank.rows, meta, extractor.projection)
    return fingerprint if threshold is None else fingerprint.with_threshold(threshold)


def _validated(report: Validation | None, defects: list[float], threshold: float) -> Validation | None:
    """The self-configuration report with the share of synthetic defects the threshold catches."""
    if report is None or not defects:
        return report
    return report.model_copy(update={"detected": round(float(np.mean([d > threshold for d in defects])), 4)})


def support_units(samples: Sequence[GoldenSample], extractor: FeatureExtractor, settings: Settings, report: Progress) -> Units:
    """Augmented views of every sample -> patch features tagged by unit."""
    feats, owners, originals, images = [], [], [], []
    single = len(samples) == 1  # one sample: its quadrants stand in for images
    for i, sample in enumerate(samples):
        image = extractor.tensor(sample.image)
        images.append(image)
        views = torch.stack(augmented_copies(image, settings.augment, seed=settings.seed * 10007 + i))
        view_feats = extractor(views)  # [V, h, w, D]
        size = tuple(views.shape[-2:])
        v_count, h, w, d = view_feats.shape
        if single:
            quadrant = torch.empty(h, w, dtype=torch.long)
            for q, (rows, cols) in enumerate(quadrants(h, w)):
                quadrant[rows, cols] = q
                sub = view_feats[0, rows, cols]
                originals.append((q, sub, (size[0] * sub.shape[0] // h, size[1] * sub.shape[1] // w)))
            owners.append(quadrant.flatten().repeat(v_count))
        else:
            owners.append(torch.full((v_count * h * w,), i, dtype=torch.long))
            originals.append((i, view_feats[0], size))
        feats.append(view_feats.reshape(-1, d))
        report("features", i + 1, len(samples))
    return Units(torch.cat(feats), torch.cat(owners), originals, images, single)


def build_bank(units: Units, settings: Settings, report: Progress, rows: tuple[torch.Tensor, torch.Tensor] | None = None) -> Bank:
    """Greedy coreset of the units' patches (or `rows`, a coreset already made with its owners),
    then each unit's leave-one-out scores against it."""
    if rows is None:
        size = coreset_size(units.patches.shape[0], settings.coreset)
        report("coreset", 0, size)
        keep = greedy_coreset(units.patches, size, settings.coreset.projection_dim, seed=settings.seed)
        # the precision it is stored in, so fit and load score alike
        rows = units.patches[keep].half().float(), units.owner[keep]
        report("coreset", size, size)
    scores, peaks = leave_one_out_scores(rows[0], rows[1], units.originals, settings)
    return Bank(rows[0], rows[1], scores, peaks)


def without_units(bank: Bank, units: Units, drop: Sequence[int], settings: Settings) -> Bank:
    """The bank less the rows of some units (strays), with the others' leave-one-out scores again."""
    keep = ~torch.isin(bank.owner, torch.tensor(list(drop), dtype=torch.long))
    originals = [o for o in units.originals if o[0] not in set(drop)]
    rows, owner = bank.rows[keep], bank.owner[keep]
    scores, peaks = leave_one_out_scores(rows, owner, originals, settings)
    return Bank(rows, owner, scores, peaks)


def golden_samples(paths: Sequence[Path], settings: Settings) -> list[GoldenSample]:
    """Read golden images from disk: one bounded read gives both the pixels and the sha256."""
    samples = []
    for path in paths:
        data = read_bytes(path, settings.limits.max_bytes)
        samples.append(GoldenSample(path.name, image_sha256(data), decode_image(data, str(path), settings.limits.max_pixels)))
    return samples


def quadrants(h: int, w: int) -> list[tuple[slice, slice]]:
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
