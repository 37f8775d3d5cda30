"""Ignore masks: parts of the picture a product's inspections do not judge (labels, fixtures, pen marks).

Shapes are in normalised image coordinates (0..1 of the width and height), so one mask fits every photo
size and the working size alike (preprocessing only resizes, it never crops). Scoring floors the masked
area before the image score and the regions are taken (goldenshot.scoring.score_grid): a defect inside
the mask neither raises the score nor makes a region, and the score stays the one the map shows.

A patch's features see a few pixels around it (the backbone's receptive field, the 3x3 neighbourhood
average), so a strong defect right at a mask's edge can still light patches just outside it: draw masks
with a margin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import cv2
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

SUPERSAMPLE = 4  # rasterising on a finer grid, so a pixel's coverage decides, not its edge
MAX_POINTS = 64  # per polygon: enough for any hand-drawn outline, small enough to store and draw
Coordinate = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class Rect(BaseModel):
    """An axis-aligned rectangle: top-left corner and size, each a fraction of the image's side."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["rect"] = "rect"
    x: Coordinate
    y: Coordinate
    width: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]
    height: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]

    def outline(self) -> list[tuple[float, float]]:
        right, bottom = min(1.0, self.x + self.width), min(1.0, self.y + self.height)
        return [(self.x, self.y), (right, self.y), (right, bottom), (self.x, bottom)]


class Polygon(BaseModel):
    """A closed polygon of (x, y) points, each a fraction of the image's width and height."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["polygon"] = "polygon"
    points: list[tuple[Coordinate, Coordinate]] = Field(min_length=3, max_length=MAX_POINTS)

    def outline(self) -> list[tuple[float, float]]:
        return list(self.points)


Shape = Annotated[Rect | Polygon, Field(discriminator="kind")]


def rasterise(shapes: Sequence[Rect | Polygon], height: int, width: int) -> np.ndarray:
    """bool [height, width]: True where shapes cover at least half of a pixel.

    Drawn at SUPERSAMPLE times the size and averaged down, since a polygon filler marks every pixel its
    edge touches: a mask would otherwise grow by a pixel on each side at every size.
    """
    if not shapes:
        return np.zeros((height, width), bool)
    canvas = np.zeros((height * SUPERSAMPLE, width * SUPERSAMPLE), np.uint8)
    scale = np.array([width * SUPERSAMPLE, height * SUPERSAMPLE], np.float32)
    for shape in shapes:
        points = np.array(shape.outline(), np.float32) * scale - 0.5  # pixel centres sit at i + 0.5
        cv2.fillPoly(canvas, [np.round(points * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return cv2.resize(canvas.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA) >= 0.5


def patch_cells(mask: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """A pixel mask -> bool [h, w] on a patch grid: a patch is ignored when over half of its pixels are."""
    h, w = grid
    share = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    return share > 0.5


def floor_patches(patch_scores: torch.Tensor, cells: np.ndarray) -> torch.Tensor:
    """Patch scores [h, w] with the ignored cells set to the grid's lowest score (a copy)."""
    if not cells.any():
        return patch_scores
    ignored = torch.from_numpy(cells)
    return patch_scores.masked_fill(ignored, float(patch_scores.min()))


def floor_map(score_map: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The map with the masked pixels set to its lowest value (in place; returned for chaining)."""
    if mask.any():
        score_map[mask] = score_map.min()
    return score_map
