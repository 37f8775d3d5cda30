"""colorize / render_overlay / encode_png: colours, outline placement and a lossless RGB round trip."""

from __future__ import annotations

import io
import warnings

import cv2
import numpy as np
import pytest
from PIL import Image

from goldenshot.overlay import colorize, encode_png, render_overlay
from goldenshot.regions import Region

WHITE = [255, 255, 255]


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
