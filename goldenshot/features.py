"""Locally aware patch features (PatchCore): neighbourhood-averaged taps on one grid.

Each tap map is averaged over its 3x3 neighbourhood so a patch sees its context, the coarse map
is upsampled to the fine grid, and the two are concatenated. An optional random projection
shrinks D, trading a little accuracy for a smaller bank and faster kNN.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from goldenshot.backbones import IMAGENET_MEAN, IMAGENET_STD, default_taps, file_sha256, load_backbone, weights_path
from goldenshot.ensemble import CompositeBackbone, balance, member_names, member_taps
from goldenshot.preprocess import prepare
from goldenshot.settings import PreprocessSettings, Settings

_MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


class FeatureBackbone(Protocol):
    """What the extractor needs of a backbone: torch's Backbone, the ONNX one, or Triton's."""

    name: str
    weights_sha256: str
    taps: tuple[str, ...]
    channels: tuple[int, ...]
    strides: tuple[int, ...]

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]: ...


def open_backbone(settings: Settings, name: str | None = None, weights: Path | None = None, taps: Sequence[str] | None = None) -> FeatureBackbone:
    """Backbone `name` with `weights` (default: the settings' backbone and weights) on the settings'
    runtime: the cached ONNX export or torch. A composite name ("a+b", goldenshot.ensemble) opens each
    member with its bundled weights; `taps` then name the member too ("a:tap")."""
    if name is None:
        name, weights = settings.backbone, weights if weights is not None else settings.weights
    names = member_names(name)
    if len(names) > 1:
        if weights is not None:
            raise ValueError(f"composite backbone {name} uses each member's bundled weights; a weights file fits one network")
        return CompositeBackbone([open_backbone(settings, n, None, member_taps(n, taps)) for n in names])
    if settings.runtime == "torch":
        return load_backbone(name, weights, taps)
    from goldenshot.export import ExportError
    from goldenshot.onnx_backbone import load_onnx_backbone

    try:
        return load_onnx_backbone(name, weights, taps, settings.cache_dir, settings.threads)
    except ExportError as exc:
        raise ExportError(f"{exc} (GOLDENSHOT_RUNTIME=torch runs the torch module instead)") from exc


def normalize(batch: torch.Tensor) -> torch.Tensor:
    """[B, 3, H, W] in [0, 1] -> the backbone's input (ImageNet statistics), on the batch's device."""
    return (batch - _MEAN.to(batch.device)) / _STD.to(batch.device)


def aggregate(maps: list[torch.Tensor], neighbourhood: int = 3) -> torch.Tensor:
    """Tap maps [B, C_i, h_i, w_i] -> patch features [B, sum C_i, h, w] on the finest tap's grid.

    neighbourhood: odd side of the square each patch is averaged over (1 = the patch alone).
    """
    if neighbourhood < 1 or neighbourhood % 2 == 0:
        raise ValueError(f"neighbourhood must be a positive odd number, got {neighbourhood}")
    grid = max((fmap.shape[-2:] for fmap in maps), key=lambda hw: hw[0] * hw[1])
    out = []
    for fmap in maps:
        # Zero padding counted at the border, as PatchCore does; averaging over fewer neighbours
        # there makes border patches outliers (magnetic tile K=4 AUROC .58 instead of .75).
        fmap = F.avg_pool2d(fmap, kernel_size=neighbourhood, stride=1, padding=neighbourhood // 2)
        if fmap.shape[-2:] != grid:
            fmap = F.interpolate(fmap, size=grid, mode="bilinear", align_corners=False)
        out.append(fmap)
    return torch.cat(out, dim=1)


def random_projection(in_dim: int, out_dim: int, seed: int) -> torch.Tensor:
    """Gaussian JL matrix [in_dim, out_dim]; stored in the fingerprint so scoring uses the same one."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(in_dim, out_dim, generator=generator) / out_dim**0.5


class FeatureExtractor:
    """Image -> patch features; the one path shared by fit, inspect, eval and the services."""

    def __init__(self, backbone: FeatureBackbone, preprocess: PreprocessSettings, projection: torch.Tensor | None = None):
        self.backbone = backbone
        self.preprocess = preprocess
        self.projection = projection

    @property
    def feature_dim(self) -> int:
        return self.projection.shape[1] if self.projection is not None else sum(self.backbone.channels)

    def tensor(self, image: np.ndarray) -> torch.Tensor:
        """Decoded image -> [3, H', W'] in [0, 1] at the working size."""
        return prepare(image, self.preprocess)

    @torch.inference_mode()
    def taps(self, batch: torch.Tensor) -> list[torch.Tensor]:
        """[B, 3, H', W'] in [0, 1] -> the backbone's raw tap maps, smaller than the patch features."""
        return self.backbone(normalize(batch))

    @torch.inference_mode()
    def patches(self, maps: list[torch.Tensor], neighbourhoods: Sequence[int] = (3,)) -> torch.Tensor:
        """Tap maps -> [B, h, w, D * len(neighbourhoods)]: one aggregation (and projection) per size, concatenated."""
        out = []
        blocks = getattr(self.backbone, "blocks", None)  # a composite's members, balanced
        for size in neighbourhoods:
            feats = aggregate(maps, size)
            feats = (balance(feats, blocks) if blocks else feats).permute(0, 2, 3, 1)
            out.append(feats @ self.projection if self.projection is not None else feats)
        return torch.cat(out, dim=-1) if len(out) > 1 else out[0].contiguous()

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        """[B, 3, H', W'] in [0, 1] -> [B, h, w, D] patch features at stride 8."""
        return self.patches(self.taps(batch), (self.preprocess.neighbourhood,))


def check_served(backbone: FeatureBackbone, settings: Settings) -> None:
    """A backbone served elsewhere must be the engine's own: one line naming both weights hashes if not."""
    from goldenshot.export import check_identity

    if len(member_names(settings.backbone)) > 1:
        raise ValueError(f"composite backbone {settings.backbone} runs in-process only (its members' own exports), not served")
    wanted = (settings.backbone, file_sha256(weights_path(settings.backbone, settings.weights)), settings.taps or default_taps(settings.backbone))
    check_identity("the served model", (backbone.name, backbone.weights_sha256, backbone.taps), wanted)


def build_extractor(settings: Settings, backbone: FeatureBackbone | None = None) -> FeatureExtractor:
    """The extractor the settings describe: backbone, taps, preprocessing, optional projection.

    backbone: one served elsewhere with the same surface (the services' TritonBackbone), refused at
    once unless it is the settings' backbone and weights; default in-process (open_backbone).
    """
    if backbone is None:
        backbone = open_backbone(settings, taps=settings.taps)
    else:
        check_served(backbone, settings)
    projection = None
    if settings.projection_dim is not None:
        projection = random_projection(sum(backbone.channels), settings.projection_dim, settings.seed)
    return FeatureExtractor(backbone, settings.preprocess, projection)
