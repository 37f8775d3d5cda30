"""Explain a defect region by the golden patch nearest to its peak ("unlike this patch of golden sample 3").

The kNN that scores keeps only distances; this looks up one row per region afterwards: the region's
peak patch against the bank, one matrix-vector product each, so a decision waits microseconds for
it, not another kNN. The fingerprint's provenance names the golden sample and patch of that row.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from goldenshot.fingerprint import Source
from goldenshot.regions import Region


def peak_patch(region: Region, score_map: np.ndarray, grid: tuple[int, int]) -> tuple[int, int]:
    """(row, col) in the h x w patch grid under the region's hottest pixel (searched in its box)."""
    box = score_map[region.y : region.y + region.height, region.x : region.x + region.width]
    py, px = np.unravel_index(int(np.argmax(box)), box.shape)
    height, width = score_map.shape[:2]
    return min(grid[0] - 1, (region.y + int(py)) * grid[0] // height), min(grid[1] - 1, (region.x + int(px)) * grid[1] // width)


def nearest_row(query: torch.Tensor, bank: torch.Tensor, bank_sq: torch.Tensor) -> tuple[int, float]:
    """The bank row nearest (L2) to one feature vector, and its distance."""
    d2 = bank_sq - 2.0 * (bank @ query) + query.dot(query)
    row = int(torch.argmin(d2))
    return row, float(d2[row].clamp_min(0).sqrt())


def region_features(regions: list[Region], score_map: np.ndarray, feats: torch.Tensor) -> tuple[list[tuple[int, int]], torch.Tensor]:
    """Each region's peak patch (row, col) and its feature [regions, D]: the region's embedding.

    feats: the inspected image's [h, w, D] patch features; score_map: its map at the original size.
    """
    grid = (int(feats.shape[0]), int(feats.shape[1]))
    peaks = [peak_patch(region, score_map, grid) for region in regions]
    return peaks, torch.stack([feats[r, c].float() for r, c in peaks]) if peaks else feats.new_zeros((0, feats.shape[-1]))


def explain_regions(
    regions: list[Region],
    peaks: list[tuple[int, int]],
    queries: torch.Tensor,
    bank: torch.Tensor,
    bank_sq: torch.Tensor,
    provenance: torch.Tensor,
    sources: list[Source],
) -> list[Region]:
    """Each region with `nearest_golden`: the golden sample (index, name, sha256), the view (0: the image
    as given, else an augmented copy), the patch (row, col) in that view's grid (grid_h, grid_w),
    the L2 distance, the bank row, and the region's own peak patch (patch_row, patch_col).
    """
    out = []
    for region, (r, c), query in zip(regions, peaks, queries):
        row, distance = nearest_row(query, bank, bank_sq)
        sample, view, g_row, g_col, grid_h, grid_w = (int(v) for v in provenance[row])
        source = sources[sample]
        nearest = {
            "sample": sample, "name": source.name, "sha256": source.sha256, "view": view, "row": g_row, "col": g_col,
            "grid_h": grid_h, "grid_w": grid_w, "distance": distance, "patch_row": r, "patch_col": c, "bank_row": row,
        }
        out.append(dataclasses.replace(region, nearest_golden=nearest))
    return out
