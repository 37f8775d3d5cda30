"""Patch scores -> anomaly maps: bilinear upsampling and Gaussian smoothing (sigma 4).

Smoothing happens at the working resolution, where sigma=4 means the same for every product,
as in PatchCore; the map is then resized to whatever size the caller shows or evaluates at.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def anomaly_map(patch_scores: torch.Tensor, size: tuple[int, int], sigma: float = 4.0) -> np.ndarray:
    """[h, w] patch scores -> float32 [H, W] map at the working size `size`."""
    up = F.interpolate(patch_scores[None, None].float(), size=size, mode="bilinear", align_corners=False)[0, 0]
    out = up.numpy()
    if sigma > 0:
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
    return out


def resize_map(score_map: np.ndarray, height: int, width: int) -> np.ndarray:
    """Map at the working size -> the original image's size (bilinear)."""
    if score_map.shape == (height, width):
        return score_map
    return cv2.resize(score_map, (width, height), interpolation=cv2.INTER_LINEAR)


def display_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(height, width) scaled down so the longer side is at most `max_side` (unchanged if it already is)."""
    scale = max_side / max(height, width)
    if scale >= 1:
        return height, width
    return max(1, round(height * scale)), max(1, round(width * scale))
