"""colorize / render_overlay / encode_png / pictures: colours, outline placement and contrast, the legend, a lossless RGB round trip."""

from __future__ import annotations

import io
import warnings

import cv2
import numpy as np
import pytest
from PIL import Image

from goldenshot.overlay import LEGEND_MIN_SIDE, colorize, encode_png, pictures, render_overlay
from goldenshot.regions import Region

WHITE = [255, 255, 255]
BLACK = [0, 0, 0]


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of sRGB colours (..., 3) uint8."""
    c = rgb.astype(float) / 255.0
    lin = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def _contrast(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    la, lb = _luminance(a), _luminance(b)
    return (np.maximum(la, lb) + 0.05) / (np.minimum(la, lb) + 0.05)


def _ramp() -> np.ndarray:
    """Left half 0, right half 1."""
    m = np.zeros((20, 40), np.float32)
    m[:, 20:] = 1.0
    return m


def test_colorize_high_is_red_low_is_blue() -> None:
    rgb = colorize(_ramp(), vmin=0.0, vmax=1.0)
    assert rgb.shape == (20, 40, 3) and rgb.dtype == np.uint8
    r, g, b = rgb[5, 30].astype(int)
    assert r > 100 and r > g + 50 and r > b + 50
    r, g, b = rgb[5, 5].astype(int)
    assert b > 100 and b > r + 50 and b > g + 50


def test_colorize_clips_to_range() -> None:
    m = np.array([[-5.0, 0.0, 1.0, 7.0]], np.float32)
    rgb = colorize(m, vmin=0.0, vmax=1.0)
    assert (rgb[0, 0] == rgb[0, 1]).all()
    assert (rgb[0, 2] == rgb[0, 3]).all()


@pytest.mark.parametrize("vmax", [0.5, 0.2])
def test_colorize_empty_range_is_a_step(vmax: float) -> None:
    m = np.array([[0.0, 0.5, 0.9]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero warning either
        rgb = colorize(m, vmin=0.5, vmax=vmax)
    cold, hot = colorize(np.array([[0.0, 1.0]], np.float32), 0.0, 1.0)[0]
    assert (rgb[0, 0] == cold).all() and (rgb[0, 1] == cold).all() and (rgb[0, 2] == hot).all()


def test_render_overlay_shape_and_blend() -> None:
    image = np.full((20, 40, 3), 100, np.uint8)
    m = _ramp()
    out = render_overlay(image, m, [], vmin=0.0, vmax=1.0, alpha=0.5)
    assert out.shape == (20, 40, 3) and out.dtype == np.uint8
    expected = (0.5 * image.astype(float) + 0.5 * colorize(m, 0.0, 1.0)).round()
    assert np.abs(out.astype(float) - expected).max() <= 1
    assert (render_overlay(image, m, [], 0.0, 1.0, alpha=0.0) == image).all()
    assert (image == 100).all()  # the input is not drawn on


def test_render_overlay_outlines_region_boundary() -> None:
    image = np.zeros((60, 80, 3), np.uint8)
    m = np.zeros((60, 80), np.float32)
    region = Region(x=10, y=15, width=41, height=21, area=41 * 21, peak_score=1.0, mean_score=1.0,
                    polygon=[(10, 15), (50, 15), (50, 35), (10, 35)])
    out = render_overlay(image, m, [region], vmin=0.0, vmax=1.0)
    outline = (out == WHITE).all(axis=2)
    for x, y in [(10, 15), (30, 15), (50, 25), (30, 35), (10, 25)]:  # corners and edge midpoints
        assert outline[y, x], (x, y)
    assert not outline[25, 30]  # interior
    assert not outline[5, 5] and not outline[50, 70]  # far outside
    assert outline.sum() < 2 * 2 * (41 + 21) * 2  # a thin line, not a filled box


def test_render_overlay_accepts_gray_and_rejects_size_mismatch() -> None:
    m = _ramp()
    assert render_overlay(np.zeros((20, 40), np.uint8), m, [], 0.0, 1.0).shape == (20, 40, 3)
    with pytest.raises(ValueError):
        render_overlay(np.zeros((20, 41, 3), np.uint8), m, [], 0.0, 1.0)


def test_encode_png_round_trips_rgb() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (17, 23, 3), dtype=np.uint8)
    data = encode_png(rgb)
    assert data.startswith(b"\x89PNG")
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert (cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB) == rgb).all()
    assert (np.asarray(Image.open(io.BytesIO(data))) == rgb).all()  # an RGB reader agrees on channel order


def test_encode_png_round_trips_gray() -> None:
    gray = np.arange(12 * 7, dtype=np.uint8).reshape(12, 7)
    decoded = cv2.imdecode(np.frombuffer(encode_png(gray), np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded.shape == gray.shape and (decoded == gray).all()


def test_outline_contrasts_with_every_heatmap_colour() -> None:
    """A region outline stays visible on every JET colour: the white line and its black halo are both
    drawn, and at each point one of them contrasts with the map underneath at least 4.5:1 (WCAG AA);
    the old cyan outline fell to about 1:1 on the map's cyan."""
    width = 256
    m = np.tile(np.linspace(0.0, 1.0, width, dtype=np.float32), (40, 1))  # every JET colour, left to right
    image = np.zeros((40, width, 3), np.uint8)
    region = Region(x=0, y=10, width=width, height=21, area=width * 21, peak_score=1.0, mean_score=1.0,
                    polygon=[(0, 10), (width - 1, 10), (width - 1, 30), (0, 30)])
    out = render_overlay(image, m, [region], vmin=0.0, vmax=1.0, alpha=1.0)
    under = colorize(m, 0.0, 1.0)
    for x in range(8, width - 8):
        column = out[4:17, x]  # across the top edge at y = 10
        assert (column == WHITE).all(axis=1).any() and (column == BLACK).all(axis=1).any(), x
        best = max(_contrast(np.array(WHITE), under[20, x]), _contrast(np.array(BLACK), under[20, x]))
        assert best >= 4.5, (x, under[20, x])
    assert _contrast(np.array([0, 229, 255]), under[20, 96]) < 1.5  # why a single cyan line failed


def test_overlay_carries_a_colour_legend_and_the_heatmap_does_not() -> None:
    height, width = 120, 240
    image = np.full((height, width, 3), 128, np.uint8)
    m = np.zeros((height, width), np.float32)  # all cold: anything warm in the corner is the legend
    heat_png, over_png = pictures(image, m, [], pixel_threshold=1.0)
    heat = np.asarray(Image.open(io.BytesIO(heat_png)))
    over = np.asarray(Image.open(io.BytesIO(over_png)))
    assert (heat == colorize(m, 0.0, 2.0)).all()  # the heatmap stays a pure map
    bar = over[height - 8, :]  # a row through the bar, near the bottom
    blue, red = bar[8], bar[width // 3]
    assert blue[2] > 100 and blue[0] < 60, blue  # the scale's cold end at the left
    assert red[0] > 100 and red[2] < 60, red  # and its hot end at two thirds of the width
    assert (bar == WHITE).all(axis=1).any() and (bar == BLACK).all(axis=1).any()  # the two-tone threshold tick
    assert (over[10:60, width // 2 :] == render_overlay(image, m, [], 0.0, 2.0)[10:60, width // 2 :]).all()  # the part itself is not covered


def test_small_overlay_has_no_legend() -> None:
    side = LEGEND_MIN_SIDE - 1
    image = np.full((side, side, 3), 128, np.uint8)
    m = np.zeros((side, side), np.float32)
    over = np.asarray(Image.open(io.BytesIO(pictures(image, m, [], pixel_threshold=1.0)[1])))
    assert (over == render_overlay(image, m, [], 0.0, 2.0)).all()
