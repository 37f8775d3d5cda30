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


def _warp(image: Tensor, angle_deg: float, shift_x: float, shift_y: float, mode: str = "bilinear") -> Tensor:
    """Rotate about the centre and shift (fractions of W/H) in one resampling of a [C,H,W] tensor.

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
    grid = F.affine_grid(theta, [1, image.shape[0], h, w], align_corners=False)
    return F.grid_sample(image.unsqueeze(0), grid, mode=mode, padding_mode="reflection", align_corners=False).squeeze(0)


def _draw(generator: torch.Generator) -> list[float]:
    """One call's uniform draws, one slot per transform: the same count whatever is switched on, so
    turning one transform off leaves the others' draws, and thus an ablation's remaining transforms,
    unchanged."""
    return torch.rand(_DRAWS, generator=generator, dtype=torch.float64).tolist()


def _move(image: Tensor, u: list[float], settings: AugmentSettings, mode: str = "bilinear") -> Tensor:
    """The geometric part of one augmentation (flips, rotation, shift) of a [C,H,W] tensor."""
    out = image
    if settings.hflip and u[1] < 0.5:
        out = out.flip(-1)
    if settings.vflip and u[2] < 0.5:
        out = out.flip(-2)
    angle, dx, dy = (settings.rotate * (2.0 * u[3] - 1.0), settings.translate * (2.0 * u[4] - 1.0), settings.translate * (2.0 * u[5] - 1.0))
    if angle or dx or dy:
        out = _warp(out, angle, dx, dy, mode)
    return out


def augment(image: Tensor, settings: AugmentSettings, generator: torch.Generator) -> Tensor:
    """One random, bounded variant of `image` (float [3,H,W] in [0,1]); same shape, dtype and range.

    All randomness comes from `generator`, so a fit is reproducible without touching the global RNG.
    `settings.enabled` and `settings.copies` are not read here: they govern `augmented_copies`.
    """
    if image.ndim != 3 or image.shape[0] != 3 or not image.is_floating_point():
        raise ValueError(f"expected a float [3,H,W] image, got {tuple(image.shape)} {image.dtype}")
    u = _draw(generator)
    out = image
    if settings.grayscale and u[0] < 0.5:
        out = _luminance(out).expand(3, -1, -1)
    out = _move(out, u, settings)
    if settings.brightness:
        out = out * (1.0 + settings.brightness * (2.0 * u[6] - 1.0))
    if settings.contrast:
        # Blend towards (or away from) the mean gray level, as torchvision's adjust_contrast does.
        mean = _luminance(out).mean()
        out = mean + (1.0 + settings.contrast * (2.0 * u[7] - 1.0)) * (out - mean)
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


def moved_labels(labels: Tensor, settings: AugmentSettings, seed: int) -> list[Tensor]:
    """A [H,W] label map moved as `augmented_copies(image, settings, seed)` moved each view's pixels
    (nearest neighbour: labels are not blended), one per view: which part of the image each pixel
    of a flipped or shifted view shows."""
    if not settings.enabled or settings.copies == 0:
        return [labels]
    generator = torch.Generator().manual_seed(seed)
    as_image = labels[None].to(torch.float32)
    return [labels] + [_move(as_image, _draw(generator), settings, "nearest")[0].to(labels.dtype) for _ in range(settings.copies)]
