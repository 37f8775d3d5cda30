"""Subspace patch scoring (SubspaceAD): how far a patch lies outside the principal subspace of the golden patches.

The kNN distance asks "is there one golden patch like this?"; the subspace residual asks "is this
patch made of the directions the golden patches vary along?". A PCA of the bank rows keeps the
leading components that explain `energy` of their variance, and a patch scores the norm of its part
outside them. Both are Euclidean lengths in the same feature space, so they add without calibration.
The PCA is a function of the bank (less any held-out rows), so a fingerprint needs no extra tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Subspace:
    """The golden patches' mean [D] and an orthonormal basis [D, k] of their leading components."""

    mean: torch.Tensor
    basis: torch.Tensor


def fit_subspace(rows: torch.Tensor, energy: float, exclude: torch.Tensor | None = None) -> Subspace:
    """PCA of the bank rows [N, D] (less the `exclude` rows): the fewest components explaining `energy`."""
    if exclude is not None:
        rows = rows[~exclude]
    if rows.shape[0] == 0:
        raise ValueError("a subspace needs at least 1 bank row, got 0")
    if rows.shape[0] == 1:  # no variance: an empty basis, so the residual is the distance to that row
        return Subspace(rows[0].float(), rows.new_zeros((rows.shape[1], 0), dtype=torch.float32))
    rows = rows.double()  # D x D covariance: double precision costs nothing and keeps small eigenvalues
    mean = rows.mean(0)
    centred = rows - mean
    values, vectors = torch.linalg.eigh(centred.T @ centred)  # ascending
    values, vectors = values.flip(0).clamp(min=0), vectors.flip(1)
    explained = values.cumsum(0) / values.sum().clamp(min=1e-12)
    k = min(int((explained < energy).sum()) + 1, rows.shape[1])
    return Subspace(mean.float(), vectors[:, :k].float().contiguous())


def residual(queries: torch.Tensor, subspace: Subspace) -> torch.Tensor:
    """Per query [M, D]: the norm of its centred part outside the subspace [M]."""
    centred = queries - subspace.mean
    inside = (centred @ subspace.basis).pow(2).sum(1)
    return (centred.pow(2).sum(1) - inside).clamp_(min=0).sqrt_()
