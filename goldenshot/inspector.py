"""Inspect: one image against a fingerprint -> score, decision, heatmap, regions.

The Inspector keeps the bank hot in memory with its squared norms, so an inspection is one
backbone pass and a few matmuls; it is built once per fingerprint version.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from goldenshot.backbones import load_backbone
from goldenshot.explain import explain_regions, region_features
from goldenshot.features import FeatureExtractor
from goldenshot.fingerprint import Fingerprint
from goldenshot.maps import resize_map
from goldenshot.regions import Region, find_regions
from goldenshot.scoring import score_grid, squared_norms
from goldenshot.settings import MapSettings

OK, ANOMALOUS = "OK", "ANOMALOUS"


@dataclass
class Inspection:
    """The result for one image; score_map is at the original image size."""

    score: float
    threshold: float
    pixel_threshold: float  # where regions start, on the map's scale
    score_map: np.ndarray
    working_map: np.ndarray  # the same map at the working size: small enough to store
    regions: list[Region]
    timings_ms: dict[str, float] = field(default_factory=dict)
    region_features: np.ndarray | None = None  # [regions, D] each region's peak-patch feature (few-shot only)

    @property
    def decision(self) -> str:
        return ANOMALOUS if self.score > self.threshold else OK

    def to_dict(self) -> dict:
        """JSON-ready summary (the map itself is written as a PNG, not inlined)."""
        return {
            "decision": self.decision,
            "score": self.score,
            "threshold": self.threshold,
            "pixel_threshold": self.pixel_threshold,
            "regions": [r.to_dict() for r in self.regions],
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }


class Inspector:
    """A fingerprint made ready to score: backbone checked, bank hot."""

    def __init__(self, extractor: FeatureExtractor, fingerprint: Fingerprint):
        backbone = extractor.backbone
        self.extractor = FeatureExtractor(backbone, fingerprint.meta.preprocess, fingerprint.projection)
        fingerprint.check_extractor(backbone.name, backbone.weights_sha256, backbone.taps, self.extractor.feature_dim)
        self.fingerprint = fingerprint
        self.bank = fingerprint.bank
        self.bank_sq = squared_norms(self.bank)

    @classmethod
    def load(cls, path: Path, weights: Path | None = None) -> Inspector:
        """Load a fingerprint and the backbone it names (weights: for backbones that ship none)."""
        fingerprint = Fingerprint.load(path)
        meta = fingerprint.meta
        backbone = load_backbone(meta.backbone, weights, meta.taps)
        return cls(FeatureExtractor(backbone, meta.preprocess, fingerprint.projection), fingerprint)

    @property
    def threshold(self) -> float:
        return self.fingerprint.meta.threshold

    def score(self, image: np.ndarray, timings: dict[str, float] | None = None) -> tuple[float, np.ndarray]:
        """Image score and the anomaly map at the working size (what evaluation compares to masks)."""
        score, score_map, _ = self._score(image, timings)
        return score, score_map

    def _score(self, image: np.ndarray, timings: dict[str, float] | None) -> tuple[float, np.ndarray, torch.Tensor]:
        """score() and the image's [h, w, D] patch features, which explanations look up."""
        clock = _Clock(timings)
        tensor = self.extractor.tensor(image)
        clock.lap("resize")
        feats = self.extractor(tensor[None])[0]
        clock.lap("features")
        meta = self.fingerprint.meta
        score, score_map = score_grid(feats, tuple(tensor.shape[-2:]), self.bank, self.bank_sq, meta.scoring, meta.maps.sigma, timings=timings)
        return score, score_map, feats

    def inspect(self, image: np.ndarray) -> Inspection:
        """Full result: decision, map at the original size, and defect regions."""
        timings: dict[str, float] = {}
        score, working, feats = self._score(image, timings)
        clock = _Clock(timings)
        fingerprint = self.fingerprint
        meta = fingerprint.meta
        result = conclude(score, working, image.shape[:2], self.threshold, meta.pixel_threshold, meta.maps, meta.pixel_floor)
        clock.lap("regions")
        if result.regions:  # one matrix-vector product per region: no second kNN
            peaks, queries = region_features(result.regions, result.score_map, feats)
            result.region_features = queries.numpy()
            if fingerprint.provenance is not None:
                result.regions = explain_regions(result.regions, peaks, queries, self.bank, self.bank_sq, fingerprint.provenance, meta.sources)
            clock.lap("explain")
        result.timings_ms.update(timings)
        return result


def conclude(
    score: float,
    working: np.ndarray,
    size: tuple[int, int],
    threshold: float,
    pixel_threshold: float,
    maps: MapSettings,
    floor: float | None = None,
) -> Inspection:
    """Score + working-size map -> the full result: map at the original (height, width), regions.

    Regions follow the decision: an OK part has none, and an ANOMALOUS one has at least one (if
    no pixel passes the region threshold, the map's own hottest area is the region). Shared by
    few-shot inspection and the zero-shot batch, so both report regions alike.
    """
    score_map = resize_map(working, size[0], size[1])
    regions: list[Region] = []
    if score > threshold:
        regions = find_regions(score_map, pixel_threshold, maps.min_region_area, maps.morph_kernel, grow_to=floor)
        if not regions:
            peak = float(score_map.max())
            seed = min(pixel_threshold, np.nextafter(peak, -np.inf))
            low = floor if floor is not None and floor < seed else seed - 0.25 * (seed - float(np.median(score_map)))
            regions = find_regions(score_map, seed, 1, 1, grow_to=low)[:1]
    return Inspection(score, threshold, pixel_threshold, score_map, working, regions)


class _Clock:
    """Stage timer writing milliseconds into an optional dict."""

    def __init__(self, out: dict[str, float] | None):
        self.out = out
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        if self.out is not None:
            self.out[stage] = (now - self.last) * 1000.0
        self.last = now
