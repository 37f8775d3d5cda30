"""Anomaly map -> defect regions: threshold, clean up with morphology, one region per outer contour.

Operators want "where is the defect and how bad is it", not a raw heatmap, so each region carries its
bounding box, size, scores and an outline small enough to send as JSON or draw on the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Region:
    """One connected defect, in the pixel coordinates of the map (= the original image)."""

    x: int
    y: int
    width: int
    height: int
    area: int  # pixels inside the filled outer contour (holes count: the defect spans them)
    peak_score: float  # max map value inside the region
    mean_score: float
    polygon: list[tuple[int, int]]  # simplified outer contour, (x, y) points
    nearest_golden: dict | None = None  # the golden patch nearest to the peak (goldenshot.explain); None: not explained

    def to_dict(self) -> dict:
        """Plain ints/floats/lists only, so json.dumps works without a custom encoder."""
        out = {
            "bbox": [self.x, self.y, self.width, self.height],
            "area": self.area,
            "peak_score": self.peak_score,
            "mean_score": self.mean_score,
            "polygon": [[px, py] for px, py in self.polygon],
        }
        if self.nearest_golden is not None:
            out["nearest_golden"] = self.nearest_golden
        return out

    def scaled(self, sy: float, sx: float) -> Region:
        """The region on a map `sy` x `sx` times the size of the one it was traced on."""
        polygon = [(int(round(px * sx)), int(round(py * sy))) for px, py in self.polygon]
        return Region(
            int(round(self.x * sx)), int(round(self.y * sy)), max(1, int(round(self.width * sx))), max(1, int(round(self.height * sy))),
            int(round(self.area * sx * sy)), self.peak_score, self.mean_score, polygon,
        )

    @classmethod
    def from_dict(cls, data: dict) -> Region:
        """Inverse of to_dict: regions stored as JSON are drawn again later."""
        x, y, width, height = data["bbox"]
        polygon = [(int(px), int(py)) for px, py in data["polygon"]]
        return cls(x, y, width, height, data["area"], data["peak_score"], data["mean_score"], polygon, data.get("nearest_golden"))


def find_regions(
    score_map: np.ndarray,
    threshold: float,
    min_area: int = 16,
    kernel: int = 5,
    max_regions: int = 50,
    grow_to: float | None = None,
) -> list[Region]:
    """Regions where `score_map > threshold`, most anomalous (highest peak) first.

    grow_to (hysteresis): a region is the connected area above `grow_to` around pixels above
    `threshold`, so a defect is outlined where it leaves the good range, not only at its hot core.

    Opening removes isolated hot pixels (noise, not defects); closing then merges a defect that the
    threshold split by a thin gap, so one scratch is reported once. Morphology is skipped when the map
    is smaller than the kernel (or kernel <= 1), since it would erase everything. Regions smaller than
    `min_area` pixels are dropped and at most `max_regions` are returned, bounding the size of a report.
    """
    if score_map.ndim != 2:
        raise ValueError(f"score_map must be 2-D, got shape {score_map.shape}")
    if not np.isfinite(score_map).all():
        raise ValueError("score_map contains NaN or inf")
    if np.isnan(threshold):
        raise ValueError("threshold is NaN")
    if min_area < 0 or max_regions < 0:
        raise ValueError("min_area and max_regions must be >= 0")
    score_map = np.ascontiguousarray(score_map, dtype=np.float32)

    binary = (score_map > threshold).view(np.uint8)
    if grow_to is not None and grow_to < threshold and binary.any():
        count, labels = cv2.connectedComponents((score_map > grow_to).view(np.uint8), connectivity=8)
        seeded = np.zeros(count, dtype=np.uint8)  # a lookup per label: np.isin sorts a 2048 px map's labels
        seeded[labels[binary.astype(bool)]] = 1
        seeded[0] = 0
        binary = seeded[labels]
    height, width = binary.shape
    if kernel > 1 and height >= kernel and width >= kernel:
        element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel, kernel))
        binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, element)
        binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, element)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)

    regions = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if w * h < min_area:  # cheap reject: the box bounds the area
            continue
        # Fill the contour in a box-sized mask only, so the cost scales with the region, not the map.
        mask = np.zeros((h, w), np.uint8)
        cv2.drawContours(mask, [contour], -1, 1, thickness=cv2.FILLED, offset=(-x, -y))
        area = cv2.countNonZero(mask)
        if area < min_area:
            continue
        window = score_map[y : y + h, x : x + w]
        _, peak, _, _ = cv2.minMaxLoc(window, mask)
        mean = cv2.mean(window, mask)[0]
        regions.append(Region(x, y, w, h, area, float(peak), float(mean), _simplify(contour)))

    regions.sort(key=lambda r: r.peak_score, reverse=True)
    return regions[:max_regions]


def _simplify(contour: np.ndarray) -> list[tuple[int, int]]:
    """Douglas-Peucker at 1% of the perimeter: a few points per blob, still hugging its shape."""
    approx = cv2.approxPolyDP(contour, 0.01 * cv2.arcLength(contour, True), True)
    if len(approx) < 3:  # thin blobs collapse to a segment; keep the raw outline instead
        approx = contour
    return [(int(px), int(py)) for px, py in approx[:, 0]]
