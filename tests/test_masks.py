"""Ignore masks (goldenshot.masks): shapes rasterised on any grid, and a defect inside the mask neither
raises the score nor makes a region, while one outside it still does (real tiles, real backbone)."""

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from goldenshot.data import load_category, support_set
from goldenshot.features import build_extractor
from goldenshot.fewshot import fit, golden_samples
from goldenshot.images import read_image
from goldenshot.inspector import ANOMALOUS, Inspector
from goldenshot.masks import Polygon, Rect, Shape, rasterise
from goldenshot.settings import Settings


def test_a_rectangle_covers_its_share_of_any_grid():
    shape = Rect(x=0.25, y=0.5, width=0.5, height=0.25)
    for height, width in ((8, 8), (64, 128), (100, 37)):
        mask = rasterise([shape], height, width)
        assert mask.shape == (height, width) and mask.dtype == bool
        assert mask.mean() == pytest.approx(0.125, abs=2.5 / min(height, width))
    mask = rasterise([shape], 8, 8)
    assert mask[4:6, 2:6].all() and not mask[:4].any() and not mask[6:].any()


def test_a_polygon_fills_its_inside_only():
    triangle = Polygon(points=[(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)])
    mask = rasterise([triangle], 100, 100)
    assert mask[5, 5] and not mask[95, 95]
    assert mask.mean() == pytest.approx(0.5, abs=0.03)
    assert not rasterise([], 10, 10).any()


@pytest.mark.parametrize(
    "shape",
    [
        {"kind": "rect", "x": -0.1, "y": 0, "width": 0.5, "height": 0.5},
        {"kind": "rect", "x": 0, "y": 0, "width": 0, "height": 0.5},
        {"kind": "polygon", "points": [[0, 0], [1, 1]]},
        {"kind": "polygon", "points": [[0, 0], [1, 1], [0.5, "nan"]]},
        {"kind": "circle", "x": 0.5},
    ],
)
def test_shapes_outside_the_image_or_malformed_are_refused(shape):
    with pytest.raises(ValidationError):
        TypeAdapter(Shape).validate_python(shape)


@pytest.fixture(scope="module")
def inspector(tile_root):
    settings = Settings()
    tile = load_category(tile_root)
    extractor = build_extractor(settings)
    return Inspector(extractor, fit(golden_samples(support_set(tile.train, 4, 0), settings), extractor, settings)), tile


def _with_defect(image: np.ndarray, cx: float, cy: float) -> np.ndarray:
    """A dark square with a bright cross (a synthetic defect) centred at (cx, cy), normalised."""
    out = image.copy()
    h, w = out.shape[:2]
    side = max(8, min(h, w) // 8)
    x0, y0 = int(cx * w) - side // 2, int(cy * h) - side // 2
    out[y0 : y0 + side, x0 : x0 + side] = 0
    out[y0 + side // 2 - 1 : y0 + side // 2 + 1, x0 : x0 + side] = 255
    out[y0 : y0 + side, x0 + side // 2 - 1 : x0 + side // 2 + 1] = 255
    return out


def _in_box(region, box: Rect, height: int, width: int) -> bool:
    cx, cy = (region.x + region.width / 2) / width, (region.y + region.height / 2) / height
    return box.x <= cx <= box.x + box.width and box.y <= cy <= box.y + box.height


def test_a_defect_inside_the_mask_neither_scores_nor_makes_a_region(inspector):
    inspector, tile = inspector
    good = read_image(next(s for s in tile.test if s.label == 0).path)
    height, width = good.shape[:2]
    damaged = _with_defect(good, 0.3, 0.5)
    mask = Rect(x=0.1, y=0.3, width=0.4, height=0.4)  # the defect with a margin
    plain = inspector.inspect(damaged)
    assert plain.decision == ANOMALOUS and any(_in_box(r, mask, height, width) for r in plain.regions)

    masked = inspector.inspect(damaged, ignore=[mask])
    assert masked.score < plain.score
    assert not any(_in_box(r, mask, height, width) for r in masked.regions)
    # the map shows the same thing: floored where it is masked
    inside = rasterise([mask], *masked.working_map.shape)
    assert masked.working_map[inside].max() == pytest.approx(masked.working_map.min())

    elsewhere = Rect(x=0.6, y=0.0, width=0.4, height=1.0)  # a mask that misses the defect changes nothing there
    other = inspector.inspect(damaged, ignore=[elsewhere])
    assert other.decision == ANOMALOUS and any(_in_box(r, mask, height, width) for r in other.regions)
