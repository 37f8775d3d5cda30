"""Image -> backbone input: resize to a fixed pixel budget, keeping the aspect ratio.

Squashing a 1130x460 ball-screw photo into 256x256 hides small defects; keeping the aspect
ratio at the same pixel budget costs the same backbone time and keeps them visible.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch

from goldenshot.settings import PreprocessSettings

STRIDE = 16  # the coarse tap's stride: sizes are multiples of it so both grids align
MAX_ASPECT = 8.0  # a 100000x1 strip is clamped instead of becoming a 1-pixel-high tensor


def working_size(height: int, width: int, settings: PreprocessSettings) -> tuple[int, int]:
    """(H, W) the image is resized to: about size*size pixels, multiples of STRIDE."""
    if not settings.keep_aspect:
        side = _round_to_stride(settings.size)
        return side, side
    aspect = min(max(width / height, 1 / MAX_ASPECT), MAX_ASPECT)
    return _round_to_stride(settings.size / math.sqrt(aspect)), _round_to_stride(settings.size * math.sqrt(aspect))


def _round_to_stride(x: float) -> int:
    return max(STRIDE * 2, int(round(x / STRIDE)) * STRIDE)


def to_tensor(image: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """HxWx3 uint8 RGB -> float32 [3, H', W'] in [0, 1] at `size` (area filter when shrinking)."""
    height, width = size
    shrinking = height * width < image.shape[0] * image.shape[1]
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return torch.from_numpy(resized).permute(2, 0, 1).float().div_(255.0)


def prepare(image: np.ndarray, settings: PreprocessSettings) -> torch.Tensor:
    """Decoded image -> [3, H', W'] in [0, 1] at its working size: the one resize for fit, inspect and training."""
    return to_tensor(image, working_size(image.shape[0], image.shape[1], settings))
