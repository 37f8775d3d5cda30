"""Inspect: one image against a fingerprint -> score, decision, heatmap, regions.

The Inspector keeps the bank hot in memory with its squared norms, so an inspection is one
backbone pass and a few matmuls; it is built once per fingerprint version.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from goldenshot import threads
from goldenshot.explain import explain_regions, region_features
from goldenshot.features import FeatureExtractor, open_backbone
from goldenshot.fingerprint import Fingerprint
from goldenshot.images import Decoded, decode_near
from goldenshot.maps import display_size, resize_map
from goldenshot.masks import Polygon, Rect, rasterise
from goldenshot.preprocess import working_size
from goldenshot.regions import Region, find_regions
from goldenshot.scoring import hot_bank, score_grid, squared_norms
from goldenshot.settings import MapSettings, Settings
from goldenshot.subspace import fit_subspace

OK, ANOMALOUS = "OK", "ANOMALOUS"


@dataclass
class Inspection:
    """The result for one image; regions are in the photo's pixels, the map at its size up to maps.max_side."""

    score: float
    threshold: float
    pixel_threshold: float  # where regions start, on the map's scale
    score_map: np.ndarray  # the photo's (height, width), scaled down to maps.max_side if larger
    working_map: np.ndarray  # the same map at the working size: small enough to store
    regions: list[Region]
    size: tuple[int, int]  # the photo's (height, width)
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
        self.bank = hot_bank(fingerprint.bank)
        self.bank_sq = squared_norms(self.bank)
        scoring = fingerprint.meta.scoring  # the bank's PCA once, not per image, when the patch score uses it
        self.subspace = fit_subspace(self.bank, scoring.subspace_energy) if scoring.patch_score != "knn" else None

    @classmethod
    def load(cls, path: Path, weights: Path | None = None, settings: Settings | None = None) -> Inspector:
        """Load a fingerprint and the backbone it names (weights: for backbones that ship none) on the
        settings' runtime (default: Settings())."""
        fingerprint = Fingerprint.load(path)
        meta = fingerprint.meta
        backbone = open_backbone(settings or Settings(), meta.backbone, weights, meta.taps)
        return cls(FeatureExtractor(backbone, meta.preprocess, fingerprint.projection), fingerprint)

    @property
    def threshold(self) -> float:
        return self.fingerprint.meta.threshold

    def working_size(self, height: int, width: int) -> tuple[int, int]:
        """The size a (height, width) photo is resized to before the backbone."""
        return working_size(height, width, self.fingerprint.meta.preprocess)

    def decode(self, data: bytes, name: str = "upload", max_pixels: int = 64_000_000) -> Decoded:
        """Image bytes decoded near this fingerprint's working size, with the photo's own size: pass both
        to inspect(). A 24 MP JPEG decodes at 1/4 scale instead of into a 72 MB array."""
        return decode_near(data, name, max_pixels, self.working_size)

    def score(self, image: np.ndarray, timings: dict[str, float] | None = None) -> tuple[float, np.ndarray]:
        """Image score and the anomaly map at the working size (what evaluation compares to masks)."""
        score, score_map, _ = self._score(image, timings)
        return score, score_map

    def _score(
        self, image: np.ndarray, timings: dict[str, float] | None, ignore: Sequence[Rect | Polygon] = ()
    ) -> tuple[float, np.ndarray, torch.Tensor]:
        """score() and the image's [h, w, D] patch features, which explanations look up."""
        clock = _Clock(timings)
        tensor = self.extractor.tensor(image)
        clock.lap("resize")
        with threads.share.running():
            feats = self.extractor(tensor[None])[0]
            clock.lap("features")
            threads.share.apply()  # another inspection may have started or ended meanwhile
            meta = self.fingerprint.meta
            size = tuple(tensor.shape[-2:])
            mask = rasterise(ignore, *size) if ignore else None
            score, score_map = score_grid(feats, size, self.bank, self.bank_sq, meta.scoring, meta.maps.sigma, timings=timings, ignore=mask, subspace=self.subspace)
        return score, score_map, feats

    def inspect(
        self,
        image: np.ndarray,
        size: tuple[int, int] | None = None,
        ignore: Sequence[Rect | Polygon] = (),
        hold: AbstractContextManager | None = None,
    ) -> Inspection:
        """Full result: decision, map and defect regions in the photo's pixels.

        size: the photo's (height, width) when `image` was decoded smaller (decode()); default its own shape.
        ignore: the product's ignore mask (goldenshot.masks): floored in the map before the score and the
        regions, so a defect inside it neither raises the score nor makes a region.
        hold: entered around the backbone and the kNN only, the stages that use the thread pools (a server's
        inference slot); the map, regions and explanations run outside it, so a large photo's regions do
        not keep the next caller from the backbone.
        """
        timings: dict[str, float] = {}
        with hold or nullcontext():
            score, working, feats = self._score(image, timings, ignore)
        result = self._conclude(score, working, feats, size or image.shape[:2], timings)
        result.timings_ms.update(timings)
        return result

    def _conclude(self, score: float, working: np.ndarray, feats: torch.Tensor, size: tuple[int, int], timings: dict[str, float]) -> Inspection:
        clock = _Clock(timings)
        fingerprint = self.fingerprint
        meta = fingerprint.meta
        result = conclude(score, working, size, self.threshold, meta.pixel_threshold, meta.maps, meta.pixel_floor)
        clock.lap("regions")
        if result.regions:  # one matrix-vector product per region: no second kNN
            shown = result.score_map.shape  # smaller than the photo past maps.max_side: regions onto it
            on_map = [r.scaled(shown[0] / result.size[0], shown[1] / result.size[1]) for r in result.regions] if shown != result.size else result.regions
            peaks, queries = region_features(on_map, result.score_map, feats)
            result.region_features = queries.numpy()
            if fingerprint.provenance is not None:
                result.regions = explain_regions(result.regions, peaks, queries, self.bank, self.bank_sq, fingerprint.provenance, meta.sources)
            clock.lap("explain")
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
    """Score + working-size map -> the full result: map at the photo's `size` (height, width), scaled to
    maps.max_side if larger, and regions traced on it in the photo's pixels.

    Regions follow the decision: an OK part has none, and an ANOMALOUS one has at least one (if
    no pixel passes the region threshold, the map's own hottest area is the region). Shared by
    few-shot inspection and the zero-shot batch, so both report regions alike.
    """
    shown = display_size(size[0], size[1], maps.max_side)
    score_map = resize_map(working, *shown)
    sy, sx = size[0] / shown[0], size[1] / shown[1]
    regions: list[Region] = []
    if score > threshold:
        min_area = int(round(maps.min_region_area / (sy * sx)))  # it counts the photo's pixels
        regions = find_regions(score_map, pixel_threshold, min_area, maps.morph_kernel, grow_to=floor)
        if not regions:
            peak = float(score_map.max())
            seed = min(pixel_threshold, np.nextafter(peak, -np.inf))
            low = floor if floor is not None and floor < seed else seed - 0.25 * (seed - float(np.median(score_map)))
            regions = find_regions(score_map, seed, 1, 1, grow_to=low)[:1]
    if shown != tuple(size):
        regions = [r.scaled(sy, sx) for r in regions]
    return Inspection(score, threshold, pixel_threshold, score_map, working, regions, (int(size[0]), int(size[1])))


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
