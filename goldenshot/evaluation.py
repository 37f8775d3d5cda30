"""Evaluation on the few-shot and zero-shot protocols and the speed benchmark, as the CLI and bench/ run them.

Test-image features do not depend on the support set, so eval extracts them once per category and
working size (self-configuration may choose another) and reuses them for every (K, seed) run; the
protocol seed is also the fit's seed (coreset, augmentation, synthetic defects). ms_per_image still counts the whole per-image path:
the measured decode + features time of that image plus this run's kNN and map time. Zero-shot
runs the whole test split as one batch through goldenshot.zeroshot.score_batch, once per seed.
"""

from __future__ import annotations

import random
import resource
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from goldenshot.data import Category, load_category, load_mask, support_set
from goldenshot.features import FeatureExtractor, build_extractor
from goldenshot.fewshot import Progress, fit, golden_samples
from goldenshot.fingerprint import Fingerprint
from goldenshot.fusion import fuse
from goldenshot.images import ImageFiles, read_bytes, read_image
from goldenshot.inspector import Inspector
from goldenshot import metrics
from goldenshot.scoring import score_grid
from goldenshot.settings import Settings
from goldenshot.zeroshot import score_batch


@dataclass
class _TestImage:
    label: int
    mask: np.ndarray | None  # bool at the working size; None for a defect with no mask file
    feats: torch.Tensor  # [h, w, D]
    size: tuple[int, int]
    extract_ms: float


def pick_test(category: Category, max_test: int | None) -> list:
    """The whole test split, or a fixed random subset of it (seed 0) for quick runs."""
    samples = list(category.test)
    if max_test is None or max_test >= len(samples):
        return samples
    return sorted(random.Random(0).sample(samples, max_test), key=lambda s: (s.defect, s.path.name))


def _extract_test(samples: list, extractor: FeatureExtractor, settings: Settings, show: bool) -> list[_TestImage]:
    out = []
    for sample in tqdm(samples, desc="test features", disable=not show, leave=False):
        start = time.perf_counter()
        tensor = extractor.tensor(read_image(sample.path, settings.limits.max_pixels, settings.limits.max_bytes))
        feats = extractor(tensor[None])[0]
        elapsed = (time.perf_counter() - start) * 1000.0
        size = tuple(tensor.shape[-2:])
        mask = load_mask(sample, size) if not sample.label or sample.mask else None
        out.append(_TestImage(sample.label, mask, feats, size, elapsed))
    return out


def evaluate(
    root: Path,
    shots: Sequence[int],
    seeds: Sequence[int],
    settings: Settings,
    max_test: int | None = None,
    show_progress: bool = True,
) -> dict:
    """Few-shot protocol on one category: every (K, seed) run, then mean/std per K."""
    category = load_category(root)
    supports = {(k, seed): support_set(category.train, k, seed) for k in shots for seed in seeds}  # fail fast on K
    extractor = build_extractor(settings)
    samples = pick_test(category, max_test)
    by_preprocess: dict[str, list[_TestImage]] = {}  # self-configuration may choose another working size
    streams = _stream_scores(samples, extractor, settings, seeds)
    runs = []
    for (k, seed), support in tqdm(supports.items(), desc=f"eval {category.name}", disable=not show_progress):
        run_settings = settings.model_copy(update={"seed": seed})
        fingerprint, fit_seconds = _timed_fit(support, extractor, run_settings)
        key = fingerprint.meta.preprocess.model_dump_json()
        if key not in by_preprocess:
            chosen = FeatureExtractor(extractor.backbone, fingerprint.meta.preprocess, extractor.projection)
            by_preprocess[key] = _extract_test(samples, chosen, settings, show_progress)
        tests = by_preprocess[key]
        runs.append(_score_run(k, seed, support, fingerprint, extractor, tests, [t.label for t in tests], fit_seconds, streams.get(seed)))
    return {
        "category": category.name,
        "backbone": settings.backbone,
        "runs": runs,
        "summary": _summarise(runs, shots),
        "settings": settings.model_dump(mode="json"),
    }


def _timed_fit(support: Sequence[Path], extractor: FeatureExtractor, settings: Settings) -> tuple[Fingerprint, float]:
    """Fit from files; the time covers reading and decoding the golden samples, not the model load."""
    start = time.perf_counter()
    fingerprint = fit(golden_samples(support, settings), extractor, settings)
    return fingerprint, time.perf_counter() - start


def _stream_scores(samples: list, extractor: FeatureExtractor, settings: Settings, seeds: Sequence[int]) -> dict[int, tuple[list[float], float, float]]:
    """Per seed, the test split's zero-shot scores and batch threshold when fusion is on (settings.stream):
    the split stands for the stream of parts a line inspects."""
    if settings.stream.weight == 0:
        return {}
    paths = [s.path for s in samples]
    out = {}
    for seed in seeds:
        batch = score_batch(ImageFiles(paths, settings.limits.max_pixels, settings.limits.max_bytes), extractor, settings.model_copy(update={"seed": seed}))
        out[seed] = (batch.scores, batch.threshold, settings.stream.weight)
    return out


def _score_run(k, seed, support, fingerprint: Fingerprint, extractor, tests, labels, fit_seconds, stream: tuple[list[float], float, float] | None = None) -> dict:
    inspector = Inspector(extractor, fingerprint)
    scoring, sigma = fingerprint.meta.scoring, fingerprint.meta.maps.sigma
    scores, maps, masks, per_image = [], [], [], []
    for test in tests:
        start = time.perf_counter()
        score, score_map = score_grid(test.feats, test.size, inspector.bank, inspector.bank_sq, scoring, sigma, subspace=inspector.subspace)
        per_image.append(test.extract_ms + (time.perf_counter() - start) * 1000.0)
        scores.append(score)
        if test.mask is not None:  # a defect without a mask says nothing about its pixels
            maps.append(score_map)
            masks.append(test.mask)
    if stream is not None:  # (zero-shot scores, their batch threshold, their share)
        scores = fuse(scores, fingerprint.meta.threshold, *stream)
    return {
        "shots": k,
        "seed": seed,
        "support": [p.name for p in support],
        # the decision a factory would get from the good-only threshold stored in the fingerprint
        **_metrics(labels, scores, masks, maps, fingerprint.meta.threshold),
        "threshold": fingerprint.meta.threshold,
        "stream_weight": stream[2] if stream is not None else 0.0,
        "selfconfig": fingerprint.meta.selfconfig.model_dump() if fingerprint.meta.selfconfig else None,
        "fit_seconds": fit_seconds,
        "ms_per_image": statistics.median(per_image),
        "n_test": len(tests),
    }


def _metrics(labels: list[int], scores: list[float], masks: list[np.ndarray], maps: list[np.ndarray], threshold: float) -> dict:
    """The accuracy half of a run's JSON: image and pixel metrics, decisions at the threshold."""
    return {
        "image_auroc": metrics.image_auroc(labels, scores),
        "pixel_auroc": metrics.pixel_auroc(masks, maps) if masks else None,
        "aupro": metrics.aupro(masks, maps) if masks else None,
        "f1_max": metrics.f1_max(labels, scores),
        "fpr_at_threshold": _rate(scores, labels, 0, threshold),
        "tpr_at_threshold": _rate(scores, labels, 1, threshold),
    }


def evaluate_zero_shot(
    root: Path,
    seeds: Sequence[int],
    settings: Settings,
    max_test: int | None = None,
    progress: Progress | None = None,
) -> dict:
    """Zero-shot protocol: the test split (no train image) is one batch that scores itself, once
    per seed; the JSON is the few-shot one with shots 0 and an empty support set.

    ms_per_image is the whole batch's time (decode, features, coreset, scoring) over its images;
    thresholds come from the batch's own scores (goldenshot.zeroshot.robust_threshold).
    """
    category = load_category(root)
    samples = pick_test(category, max_test)
    extractor = build_extractor(settings)
    images = ImageFiles([s.path for s in samples], settings.limits.max_pixels, settings.limits.max_bytes)
    labels = [s.label for s in samples]
    runs = []
    for seed in seeds:
        start = time.perf_counter()
        batch = score_batch(images, extractor, settings.model_copy(update={"seed": seed}), progress)
        seconds = time.perf_counter() - start
        pixel = [(load_mask(s, m.shape), m) for s, m in zip(samples, batch.maps) if not s.label or s.mask]
        runs.append(
            {
                "shots": 0,
                "seed": seed,
                "support": [],
                **_metrics(labels, batch.scores, [p[0] for p in pixel], [p[1] for p in pixel], batch.threshold),
                "threshold": batch.threshold,
                "fit_seconds": 0.0,  # nothing is fitted: the batch is its own reference
                "batch_seconds": seconds,
                "stage_seconds": batch.seconds,
                "coreset_rows": batch.coreset_rows,
                "ms_per_image": 1000.0 * seconds / len(samples),
                "n_test": len(samples),
            }
        )
    return {
        "category": category.name,
        "backbone": settings.backbone,
        "runs": runs,
        "summary": _summarise(runs, [0]),
        "settings": settings.model_dump(mode="json"),
    }


def _rate(scores: list[float], labels: list[int], label: int, threshold: float) -> float | None:
    """Share of images with this label flagged ANOMALOUS at the threshold."""
    flagged = [s > threshold for s, y in zip(scores, labels) if y == label]
    return float(np.mean(flagged)) if flagged else None


def _mean_of(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r[key] is not None]
    return float(np.mean(values)) if values else None


def _summarise(runs: list[dict], shots: Sequence[int]) -> list[dict]:
    out = []
    for k in shots:
        rows = [r for r in runs if r["shots"] == k]
        image = [r["image_auroc"] for r in rows]
        pixel = [r["pixel_auroc"] for r in rows if r["pixel_auroc"] is not None]
        pro = [r["aupro"] for r in rows if r["aupro"] is not None]
        out.append(
            {
                "shots": k,
                "image_auroc_mean": float(np.mean(image)),
                "image_auroc_std": float(np.std(image)),
                "pixel_auroc_mean": float(np.mean(pixel)) if pixel else None,
                "aupro_mean": float(np.mean(pro)) if pro else None,
                "fpr_at_threshold_mean": _mean_of(rows, "fpr_at_threshold"),
                "tpr_at_threshold_mean": _mean_of(rows, "tpr_at_threshold"),
                "fit_seconds_mean": float(np.mean([r["fit_seconds"] for r in rows])),
                "ms_per_image_median": float(np.median([r["ms_per_image"] for r in rows])),
            }
        )
    return out


def bench(root: Path, shots: int, settings: Settings, max_images: int = 100, show_progress: bool = True) -> dict:
    """Speed and memory of the product path: fit, then decode -> regions per image, batch size 1."""
    category = load_category(root)
    extractor = build_extractor(settings)  # one-time model load, not counted in fit
    fingerprint, fit_seconds = _timed_fit(support_set(category.train, shots, 0), extractor, settings)
    with tempfile.TemporaryDirectory() as tmp:
        fingerprint_bytes = fingerprint.save(Path(tmp) / "bench.safetensors")
    inspector = Inspector(extractor, fingerprint)
    blobs = [read_bytes(s.path, settings.limits.max_bytes) for s in pick_test(category, max_images)]
    for blob in blobs[:3]:  # warm-up: first calls allocate
        inspector.inspect(*inspector.decode(blob, max_pixels=settings.limits.max_pixels))
    times = []
    for blob in tqdm(blobs, desc="bench", disable=not show_progress, leave=False):
        start = time.perf_counter()
        inspector.inspect(*inspector.decode(blob, max_pixels=settings.limits.max_pixels))
        times.append((time.perf_counter() - start) * 1000.0)
    return {
        "category": category.name,
        "shots": shots,
        "fit_seconds": fit_seconds,
        "ms_per_image_p50": float(np.percentile(times, 50)),
        "ms_per_image_p95": float(np.percentile(times, 95)),
        "images_per_second": 1000.0 * len(times) / sum(times),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "fingerprint_bytes": fingerprint_bytes,
        "bank_rows": fingerprint.meta.coreset_rows,
        "working_size": fingerprint.meta.preprocess.size,  # 384 where self-configuration chose size_384
        "selfconfig_chosen": fingerprint.meta.selfconfig.chosen if fingerprint.meta.selfconfig else None,
        "runtime": settings.runtime,
        "threads": torch.get_num_threads(),
    }
