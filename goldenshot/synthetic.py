"""Synthetic defects on golden samples: what the engine validates itself against without defect photos.

A factory gives good parts only, yet choosing a configuration or a threshold needs to know how
defects score. Each function here returns a damaged copy of a good image and the damage mask:
cut-and-paste patches (misplaced structure), smooth blotches (stains, dents, discolouration),
drawn scratches and cracks, and local blur. Sizes are fractions of the image side, so a 256 px
tile and a 640 px board get defects of the same relative size; all randomness comes from one
numpy Generator, so a fit is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch

Defect = Callable[[np.ndarray, np.random.Generator, tuple[slice, slice]], tuple[np.ndarray, np.ndarray]]

# Defect diameter as a fraction of the shorter side of the area it is drawn in: small enough to be a
# defect, not a different part; large enough to cover a few stride-8 patches.
_SIZE = (0.08, 0.22)


def _centre(rng: np.random.Generator, area: tuple[slice, slice], margin: int) -> tuple[int, int]:
    """A random (y, x) inside `area`, `margin` pixels clear of its border where possible."""
    (r, c) = area
    y0, y1 = r.start + margin, max(r.start + margin + 1, r.stop - margin)
    x0, x1 = c.start + margin, max(c.start + margin + 1, c.stop - margin)
    return int(rng.integers(y0, y1)), int(rng.integers(x0, x1))


def _side(area: tuple[slice, slice]) -> int:
    return min(area[0].stop - area[0].start, area[1].stop - area[1].start)


def _blob_mask(shape: tuple[int, int], centre: tuple[int, int], radius: float, rng: np.random.Generator) -> np.ndarray:
    """An irregular blob: a disc whose edge is bent by smooth low-resolution noise."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.hypot(yy - centre[0], xx - centre[1]) / max(radius, 1.0)
    noise = cv2.resize(rng.random((6, 6)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return dist + 0.6 * (noise - 0.5) < 1.0


def cut_paste(image: np.ndarray, rng: np.random.Generator, area: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray]:
    """A patch of the same image, rotated, pasted elsewhere: structure in the wrong place (CutPaste)."""
    h, w = image.shape[:2]
    side = max(4, int(_side(area) * rng.uniform(*_SIZE)))
    sy, sx = int(rng.integers(0, max(1, h - side))), int(rng.integers(0, max(1, w - side)))
    patch = np.rot90(image[sy : sy + side, sx : sx + side], k=int(rng.integers(1, 4))).copy()
    patch = np.clip(patch * rng.uniform(0.7, 1.3), 0.0, 1.0)
    cy, cx = _centre(rng, area, side // 2)
    y, x = min(max(0, cy - side // 2), h - side), min(max(0, cx - side // 2), w - side)
    out, mask = image.copy(), np.zeros((h, w), bool)
    out[y : y + side, x : x + side] = patch
    mask[y : y + side, x : x + side] = True
    return out, mask


def blotch(image: np.ndarray, rng: np.random.Generator, area: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray]:
    """A soft-edged stain: a darker or brighter, textured irregular blob."""
    h, w = image.shape[:2]
    radius = _side(area) * rng.uniform(*_SIZE) / 2
    mask = _blob_mask((h, w), _centre(rng, area, int(radius)), radius, rng)
    shift = rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 0.45)
    texture = rng.normal(0.0, 0.08, (h, w, 1)).astype(np.float32)
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.5)[..., None]
    out = np.clip(image + alpha * (shift + texture), 0.0, 1.0)
    return out.astype(np.float32), mask


def scratch(image: np.ndarray, rng: np.random.Generator, area: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray]:
    """A thin curved line, darker or brighter than the surface: scratches and cracks."""
    h, w = image.shape[:2]
    length = _side(area) * rng.uniform(0.15, 0.4)
    cy, cx = _centre(rng, area, int(length / 2))
    angle = rng.uniform(0, np.pi)
    bend = rng.uniform(-0.4, 0.4)
    t = np.linspace(-0.5, 0.5, 24)
    ys = cy + length * (t * np.sin(angle) + bend * (t**2 - 0.25) * np.cos(angle))
    xs = cx + length * (t * np.cos(angle) - bend * (t**2 - 0.25) * np.sin(angle))
    points = np.stack([xs, ys], 1).round().astype(np.int32)
    mask = np.zeros((h, w), np.uint8)
    cv2.polylines(mask, [points], False, 1, thickness=max(1, int(round(min(h, w) / 128))))
    mask = mask.astype(bool)
    out = image.copy()
    level = 0.0 if image[mask].mean() > 0.5 else 1.0
    out[mask] = 0.2 * out[mask] + 0.8 * level
    return out, mask


def blur(image: np.ndarray, rng: np.random.Generator, area: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray]:
    """A locally smeared, slightly shifted-intensity spot: worn or melted surface, lost print."""
    h, w = image.shape[:2]
    radius = _side(area) * rng.uniform(*_SIZE) / 2
    mask = _blob_mask((h, w), _centre(rng, area, int(radius)), radius, rng)
    smeared = cv2.GaussianBlur(image, (0, 0), max(1.5, radius / 2)) * rng.uniform(0.75, 1.25)
    out = np.where(mask[..., None], np.clip(smeared, 0.0, 1.0), image)
    return out.astype(np.float32), mask


DEFECTS: dict[str, Defect] = {"cut_paste": cut_paste, "blotch": blotch, "scratch": scratch, "blur": blur}


def synthesize(image: torch.Tensor, kinds: tuple[str, ...], count: int, seed: int, area: tuple[slice, slice] | None = None) -> list[torch.Tensor]:
    """`count` damaged copies of a [3, H, W] image in [0, 1], cycling through `kinds`, each inside `area` (default: all)."""
    unknown = [k for k in kinds if k not in DEFECTS]
    if unknown or not kinds:
        raise ValueError(f"unknown synthetic defect kinds {unknown}; valid: {', '.join(DEFECTS)}")
    rng = np.random.default_rng(seed)
    hwc = np.ascontiguousarray(image.permute(1, 2, 0).numpy(), dtype=np.float32)
    area = area or (slice(0, hwc.shape[0]), slice(0, hwc.shape[1]))
    out = []
    for i in range(count):
        damaged, _ = DEFECTS[kinds[i % len(kinds)]](hwc, rng, area)
        out.append(torch.from_numpy(np.ascontiguousarray(damaged, dtype=np.float32)).permute(2, 0, 1))
    return out
