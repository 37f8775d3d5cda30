"""Support-set augmentation: a few golden samples become a wider picture of "normal".

With only a handful of good images, the memory bank sees one pose and one exposure per part.
Small, bounded flips, shifts, rotations and photometric changes add the variation that normal
production shows anyway, so it is not flagged as a defect. Every transform has its own switch
and bound in `AugmentSettings`, so a category whose parts never flip can say so.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from goldenshot.settings import AugmentSettings

# ITU-R BT.601 luma weights: the usual "grayscale" of an RGB image.
_LUMA = (0.299, 0.587, 0.114)
# Uniform draws per call, one slot per transform (see `augment`).
_DRAWS = 8


def _luminance(image: Tensor) -> Tensor:
    """[3,H,W] -> [1,H,W] luma."""
    r, g, b = image.unbind(0)
    return (_LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b).unsqueeze(0)


def _warp(image: Tensor, angle_deg: float, shift_x: float, shift_y: float) -> Tensor:
    """Rotate about the centre and shift (fractions of W/H) in one bilinear resampling.

    One resampling keeps the image as sharp as possible; reflection padding fills the uncovered
    corners with image content, because black corners would enter the memory bank as "normal".
    """
    _, h, w = image.shape
    a = math.radians(angle_deg)
    cos, sin = math.cos(a), math.sin(a)
    # affine_grid works in [-1,1] coordinates per axis; conjugating the pixel-space rotation by
    # diag(W/2, H/2) keeps it a true rotation on non-square images instead of a shear.
    theta = torch.tensor(
        [[cos, -sin * h / w, -2.0 * shift_x], [sin * w / h, cos, -2.0 * shift_y]],
        dtype=image.dtype,
        device=image.device,
    ).unsqueeze(0)
    grid = F.affine_grid(theta, [1, 3, h, w], align_corners=False)
    return F.grid_sample(
        image.unsqueeze(0), grid, mode="bilinear", padding_mode="reflection", align_corners=False
    ).squeeze(0)


def augment(image: Tensor, settings: AugmentSettings, generator: torch.Generator) -> Tensor:
    """One random, bounded variant of `image` (float [3,H,W] in [0,1]); same shape, dtype and range.

    All randomness comes from `generator`, so a fit is reproducible without touching the global RNG.
    Every call draws the same number of values whatever is switched on, so turning one transform off
    leaves the others' draws, and thus an ablation's remaining transforms, unchanged.
    `settings.enabled` and `settings.copies` are not read here: they govern `augmented_copies`.
    """
    if image.ndim != 3 or image.shape[0] != 3 or not image.is_floating_point():
        raise ValueError(f"expected a float [3,H,W] image, got {tuple(image.shape)} {image.dtype}")
    u = torch.rand(_DRAWS, generator=generator, dtype=torch.float64).tolist()

    def sym(i: int, bound: float) -> float:
        """Slot i mapped to uniform [-bound, bound]."""
        return bound * (2.0 * u[i] - 1.0)

    out = image
    if settings.grayscale and u[0] < 0.5:
        out = _luminance(out).expand(3, -1, -1)
    if settings.hflip and u[1] < 0.5:
        out = out.flip(-1)
    if settings.vflip and u[2] < 0.5:
        out = out.flip(-2)
    angle, dx, dy = sym(3, settings.rotate), sym(4, settings.translate), sym(5, settings.translate)
    if angle or dx or dy:
        out = _warp(out, angle, dx, dy)
    if settings.brightness:
        out = out * (1.0 + sym(6, settings.brightness))
    if settings.contrast:
        # Blend towards (or away from) the mean gray level, as torchvision's adjust_contrast does.
        mean = _luminance(out).mean()
        out = mean + (1.0 + sym(7, settings.contrast)) * (out - mean)
    return out.clamp(0.0, 1.0).contiguous()


def augmented_copies(image: Tensor, settings: AugmentSettings, seed: int) -> list[Tensor]:
    """`[image]` followed by `settings.copies` augmented variants; just `[image]` when disabled.

    The original comes first and unchanged so the bank always holds the true golden sample.
    Deterministic for (image, settings, seed); give each golden image its own seed (e.g. base + index)
    so the images do not all receive the same sequence of transforms.
    """
    if not settings.enabled or settings.copies == 0:
        return [image]
    generator = torch.Generator().manual_seed(seed)
    return [image] + [augment(image, settings, generator) for _ in range(settings.copies)]
