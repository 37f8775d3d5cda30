"""Composite backbone: the shipped networks together on one patch grid (`backbone="mobilenet_v2+efficientnet_lite0"`).

Each member sees the same image and returns its own stride-8/16 taps; the extractor aggregates all
taps onto the finest grid as for one network (goldenshot.features.aggregate) and then rescales each
member's block so that neither dominates the distance: a block is divided by its mean patch norm
over the image, which keeps the relative distances inside a member as they were. Each member runs
on the settings' runtime on its own (its own ONNX export, cached per backbone), so nothing new is
exported; the composite's name, weights and taps name every member, and a fingerprint checks them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # features imports this module
    from goldenshot.features import FeatureBackbone

SEPARATOR = "+"  # between member names in a composite's name and weights
TAP_SEPARATOR = ":"  # member name and tap in a composite's tap names


def member_names(name: str) -> list[str]:
    """The member backbones of a composite's name (one name for a plain backbone)."""
    return name.split(SEPARATOR)


def member_taps(name: str, taps: Sequence[str] | None) -> Sequence[str] | None:
    """Member `name`'s own taps out of a composite's `taps` (None: none given, the member's defaults)."""
    if taps is None:
        return None
    prefix = name + TAP_SEPARATOR
    own = [t[len(prefix):] for t in taps if t.startswith(prefix)]
    if not own:
        raise ValueError(f"composite taps {list(taps)} name none of {name}'s; write them as {name}{TAP_SEPARATOR}<tap>")
    return own


class CompositeBackbone:
    """Several backbones side by side: every member's tap maps, in member order, on one input."""

    def __init__(self, members: Sequence[FeatureBackbone]) -> None:
        if len(members) < 2:
            raise ValueError("a composite backbone needs at least two members")
        self.members = tuple(members)
        self.name = SEPARATOR.join(m.name for m in members)
        self.weights_sha256 = SEPARATOR.join(m.weights_sha256 for m in members)
        self.taps: tuple[str, ...] = tuple(f"{m.name}{TAP_SEPARATOR}{t}" for m in members for t in m.taps)
        self.channels: tuple[int, ...] = tuple(c for m in members for c in m.channels)
        self.strides: tuple[int, ...] = tuple(s for m in members for s in m.strides)
        # channels of each member's block in the aggregated patch feature, in order
        self.blocks: tuple[int, ...] = tuple(sum(m.channels) for m in members)

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [fmap for m in self.members for fmap in m(x)]


def balance(feats: torch.Tensor, blocks: Sequence[int]) -> torch.Tensor:
    """[B, sum(blocks), h, w] -> each block divided by its mean patch norm in each image (equal weight)."""
    parts = []
    for part in feats.split(list(blocks), dim=1):
        scale = part.norm(dim=1).mean(dim=(1, 2)).clamp(min=1e-6)  # [B]
        parts.append(part / scale.view(-1, 1, 1, 1))
    return torch.cat(parts, dim=1)
