"""Pictures for people: JET heatmaps, heatmap-on-image overlays with region outlines, PNG bytes.

Intended use: the caller passes a fixed scale per product, vmin = 0 and vmax = e.g. 2x the product's
threshold, rather than each map's own min/max. Then the same colour means the same score on every
image of that product: a good part stays blue instead of having its noise stretched to red, and the
threshold always sits at the same colour (mid-scale: green in JET).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from goldenshot.regions import Region

# Outlines are two-tone, a white line on a black halo: JET runs from dark blue through cyan and yellow
# to dark red, so any single colour vanishes somewhere on it (cyan on cyan, white on yellow), while one
# of white and black always contrasts strongly with the colour underneath.
OUTLINE_RGB = (255, 255, 255)
HALO_RGB = (0, 0, 0)
OUTLINE_PX = 2
HALO_PX = 2  # of black on each side of the white line

# The colour legend drawn into an overlay's bottom-left corner: a JET bar over 0 .. vmax with a
# two-tone tick where region outlines start (the threshold, mid-scale); left out of pictures too small
# to hold it without hiding most of the part.
LEGEND_MIN_SIDE = 64


def colorize(score_map: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """Float HxW map -> HxWx3 uint8 RGB JET image; vmin is dark blue, vmax dark red, values clipped.

    With vmax <= vmin there is no range to scale over, so the map becomes a step at vmin: values
    above it are hot, the rest cold (e.g. vmin = vmax = threshold shows the binary decision).
    """
    if score_map.ndim != 2:
        raise ValueError(f"score_map must be 2-D, got shape {score_map.shape}")
    if not np.isfinite(score_map).all():
        raise ValueError("score_map contains NaN or inf")
    if not (np.isfinite(vmin) and np.isfinite(vmax)):
        raise ValueError("vmin and vmax must be finite")
    score_map = score_map.astype(np.float32, copy=False)
    if vmax > vmin:
        scaled = (score_map - np.float32(vmin)) * np.float32(255.0 / (vmax - vmin))
        gray = np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
    else:
        gray = np.where(score_map > vmin, np.uint8(255), np.uint8(0))
    return cv2.cvtColor(cv2.applyColorMap(gray, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def render_overlay(
    image: np.ndarray,
    score_map: np.ndarray,
    regions: Sequence[Region],
    vmin: float,
    vmax: float,
    alpha: float = 0.5,
) -> np.ndarray:
    """Blend colorize(score_map) over the RGB image and outline each region's polygon.

    The heatmap shows how anomalous everything is; the outlines show what was actually reported, so
    a reviewer can see both the decision and the evidence. `alpha` is the heatmap's weight. A 2-D
    gray image is accepted and shown as RGB. Returns a new HxWx3 uint8 RGB array.
    """
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be HxWx3 RGB or HxW gray, got shape {image.shape}")
    if image.shape[:2] != score_map.shape:
        raise ValueError(f"image {image.shape[:2]} and score_map {score_map.shape} sizes differ")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")

    out = cv2.addWeighted(image, 1.0 - alpha, colorize(score_map, vmin, vmax), alpha, 0.0)
    outlines = [np.array(r.polygon, np.int32).reshape(-1, 1, 2) for r in regions if r.polygon]
    _two_tone(out, outlines)
    return out


def _two_tone(out: np.ndarray, lines: list[np.ndarray]) -> None:
    """Draw closed polylines as a white line on a black halo, in place."""
    cv2.polylines(out, lines, isClosed=True, color=HALO_RGB, thickness=OUTLINE_PX + 2 * HALO_PX)
    cv2.polylines(out, lines, isClosed=True, color=OUTLINE_RGB, thickness=OUTLINE_PX)


def draw_legend(out: np.ndarray) -> np.ndarray:
    """Draw the colour legend into the bottom-left corner of an overlay (in place; returned for chaining).

    A reviewer looking at a saved overlay (a report, a CLI output folder) has no console beside it to
    say what the colours mean: the bar shows the scale, dark blue at 0 to dark red at 2x the region
    threshold, and the two-tone tick at mid-scale is where outlines start. Small pictures are left as they are.
    """
    height, width = out.shape[:2]
    if min(height, width) < LEGEND_MIN_SIDE:
        return out
    margin = max(4, width // 64)
    bar_h = max(6, height // 32)
    bar_w = width // 3
    x0, y0 = margin, height - margin - bar_h
    ramp = np.broadcast_to(np.linspace(0.0, 1.0, bar_w, dtype=np.float32), (bar_h, bar_w))
    cv2.rectangle(out, (x0 - 1, y0 - 1), (x0 + bar_w, y0 + bar_h), HALO_RGB, thickness=1)
    out[y0 : y0 + bar_h, x0 : x0 + bar_w] = colorize(np.ascontiguousarray(ramp), 0.0, 1.0)
    tick_x = x0 + bar_w // 2
    _two_tone(out, [np.array([[tick_x, y0 - bar_h // 2], [tick_x, y0 + bar_h + bar_h // 2]], np.int32).reshape(-1, 1, 2)])
    return out


def encode_png(image: np.ndarray) -> bytes:
    """HxWx3 RGB or HxW gray uint8 -> PNG bytes (lossless, so heatmap colours survive exactly)."""
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)  # OpenCV writes BGR
    elif image.ndim != 2:
        raise ValueError(f"image must be HxWx3 RGB or HxW gray, got shape {image.shape}")
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def pictures(
    image: np.ndarray, score_map: np.ndarray, regions: Sequence[Region], pixel_threshold: float, size: tuple[int, int] | None = None
) -> tuple[bytes, bytes]:
    """(heatmap PNG, overlay PNG) of one inspection, as the CLI writes them and the server serves them.

    Drawn at the map's size (Inspection.score_map: the photo's, bounded by maps.max_side), so a 24 MP
    photo does not cost a 24 MP PNG; `image` (any decoded size of the photo) is resized to it, and
    `regions`, in the photo's pixels of `size` (default: the image's own), are scaled onto it.
    Colours are scaled 0..2x the region threshold: the same colour means the same for every image of
    a product, and region outlines sit where the colour passes mid-scale; the overlay carries the
    colour legend (draw_legend), the heatmap stays a pure map.
    """
    height, width = score_map.shape
    size = size or image.shape[:2]
    if image.shape[:2] != (height, width):
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    if tuple(size) != (height, width):
        regions = [r.scaled(height / size[0], width / size[1]) for r in regions]
    vmax = 2.0 * pixel_threshold
    overlay = draw_legend(render_overlay(image, score_map, regions, 0.0, vmax))
    return encode_png(colorize(score_map, 0.0, vmax)), encode_png(overlay)
