"""find_regions on synthetic maps whose blobs have known position, size and score."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from goldenshot.regions import Region, find_regions


def _blank(h: int = 200, w: int = 300) -> np.ndarray:
    return np.zeros((h, w), np.float32)


def _two_blobs() -> tuple[np.ndarray, int, int]:
    """Rectangle (score 0.8) top-left, disk (score 0.9, centre 1.0) bottom-right; returns their pixel counts."""
    m = _blank()
    cv2.rectangle(m, (20, 30), (59, 54), 0.8, thickness=cv2.FILLED)  # 40 x 25
    cv2.circle(m, (200, 140), 20, 0.9, thickness=cv2.FILLED)
    m[140, 200] = 1.0
    return m, 40 * 25, int(np.count_nonzero(m == 0.9)) + 1


def test_two_blobs_give_two_regions_sorted_by_peak() -> None:
    m, rect_area, disk_area = _two_blobs()
    regions = find_regions(m, threshold=0.5)
    assert len(regions) == 2
    disk, rect = regions  # the disk has the higher peak, although it comes later in raster order

    assert disk.peak_score == pytest.approx(1.0)
    edges = (disk.x, disk.y, disk.x + disk.width - 1, disk.y + disk.height - 1)
    assert np.abs(np.subtract(edges, (180, 120, 220, 160))).max() <= 1  # drawn disk's 1-px tips may be opened off
    assert abs(disk.area - disk_area) <= 8
    assert 0.9 < disk.mean_score < 0.91

    assert rect.peak_score == pytest.approx(0.8)
    assert rect.mean_score == pytest.approx(0.8)
    edges = (rect.x, rect.y, rect.x + rect.width - 1, rect.y + rect.height - 1)
    assert np.abs(np.subtract(edges, (20, 30, 59, 54))).max() <= 1
    assert abs(rect.area - rect_area) <= 8  # opening with an ellipse only rounds the corners


def test_max_regions_keeps_the_highest_peaks() -> None:
    m, _, _ = _two_blobs()
    (only,) = find_regions(m, threshold=0.5, max_regions=1)
    assert only.peak_score == pytest.approx(1.0)


def test_min_area_drops_small_blobs() -> None:
    m = _blank()
    m[10:13, 10:13] = 1.0  # 9 px
    m[50:54, 50:54] = 1.0  # 16 px: kept, the limit is inclusive
    regions = find_regions(m, threshold=0.5, min_area=16, kernel=1)
    assert [(r.x, r.y, r.area) for r in regions] == [(50, 50, 16)]


def test_opening_removes_isolated_pixels() -> None:
    m = _blank()
    rng = np.random.default_rng(0)
    ys, xs = rng.integers(0, 100, 30) * 2, rng.integers(0, 150, 30) * 2  # even coordinates: never adjacent
    m[ys, xs] = 1.0
    assert len(find_regions(m, threshold=0.5, min_area=1, kernel=1)) > 20  # really there without morphology
    assert find_regions(m, threshold=0.5, min_area=1, kernel=5) == []


def test_closing_merges_blob_split_by_thin_gap() -> None:
    m = _blank()
    m[40:70, 40:70] = 1.0
    m[40:70, 71:101] = 1.0  # column 70 is a one-pixel gap
    assert len(find_regions(m, threshold=0.5, kernel=1)) == 2
    (merged,) = find_regions(m, threshold=0.5, kernel=5)
    assert (merged.x, merged.width) == (40, 61)
    assert merged.area >= 60 * 30


def test_map_smaller_than_kernel_skips_morphology() -> None:
    m = np.zeros((4, 4), np.float32)
    m[:3, :3] = 1.0  # opening with a 5x5 kernel would erase this
    (region,) = find_regions(m, threshold=0.5, min_area=1, kernel=5)
    assert (region.x, region.y, region.width, region.height, region.area) == (0, 0, 3, 3, 9)


def test_threshold_above_max_gives_nothing() -> None:
    m, _, _ = _two_blobs()
    assert find_regions(m, threshold=1.0) == []  # strictly greater than the threshold


def test_area_counts_the_filled_contour_including_holes() -> None:
    m = _blank()
    cv2.circle(m, (100, 100), 30, 1.0, thickness=cv2.FILLED)
    cv2.circle(m, (100, 100), 10, 0.0, thickness=cv2.FILLED)
    (ring,) = find_regions(m, threshold=0.5)
    assert ring.area == pytest.approx(np.pi * 30**2, rel=0.05)
    assert ring.mean_score < 1.0  # the hole's low scores are part of the region


def test_polygon_is_simplified_and_inside_bbox() -> None:
    m, _, _ = _two_blobs()
    for r in find_regions(m, threshold=0.5):
        assert 3 <= len(r.polygon) <= 40
        for px, py in r.polygon:
            assert r.x <= px < r.x + r.width and r.y <= py < r.y + r.height


def test_to_dict_is_json_ready() -> None:
    m, _, _ = _two_blobs()
    region = find_regions(m, threshold=0.5)[0]
    d = json.loads(json.dumps(region.to_dict()))
    assert d["bbox"] == [region.x, region.y, region.width, region.height]
    assert d["area"] == region.area
    assert d["peak_score"] == region.peak_score and d["mean_score"] == region.mean_score
    assert d["polygon"] == [list(p) for p in region.polygon]
    assert Region.from_dict(d) == region


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_map_is_rejected(bad: float) -> None:
    m = _blank()
    m[5, 5] = bad
    with pytest.raises(ValueError):
        find_regions(m, threshold=0.5)


def test_non_2d_map_is_rejected() -> None:
    with pytest.raises(ValueError):
        find_regions(np.zeros((10, 10, 3), np.float32), threshold=0.5)


def test_hysteresis_grows_a_region_to_the_whole_defect_but_not_to_cold_blobs() -> None:
    m = _blank()
    cv2.circle(m, (100, 100), 30, 0.6, thickness=cv2.FILLED)  # the defect's warm rim
    cv2.circle(m, (100, 100), 8, 0.9, thickness=cv2.FILLED)  # its hot core
    cv2.circle(m, (250, 50), 15, 0.6, thickness=cv2.FILLED)  # warm, but nowhere hot: not a defect
    (core,) = find_regions(m, threshold=0.8)
    (grown,) = find_regions(m, threshold=0.8, grow_to=0.5)
    assert core.width < 20 and 58 <= grown.width <= 62
    assert grown.peak_score == pytest.approx(0.9) and grown.area > 10 * core.area
    assert find_regions(m, threshold=0.8, grow_to=0.95) == [core]  # a floor above the threshold changes nothing
