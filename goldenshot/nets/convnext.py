"""ConvNeXt-T with torchvision's module layout, so torchvision's `convnext_tiny-983f1562.pth` loads strictly.

Layout (torchvision.models.convnext): `features.0` is the stem (`.0` 4x4/4 conv, `.1` LayerNorm2d),
`features.1/3/5/7` the stages of CNBlocks (3, 3, 9, 3 blocks at 96, 192, 384, 768 channels, strides
4, 8, 16, 32), `features.2/4/6` the downsamplers (`.0` LayerNorm2d, `.1` 2x2/2 conv), then `classifier`
(`.0` LayerNorm2d, `.2` Linear). Inference only: stochastic depth (a training regulariser) is not implemented.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_EPS = 1e-6  # every LayerNorm in ConvNeXt


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW map (torchvision's `LayerNorm2d`; same parameter names)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps).permute(0, 3, 1, 2)


class Permute(nn.Module):
    """Parameter-free; kept as a module so the Sequential's indices (and so the key names) match torchvision's."""

    def __init__(self, dims: tuple[int, ...]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: Tensor) -> Tensor:
        return x.permute(self.dims)


class CNBlock(nn.Module):
    """x + layer_scale * (dwconv 7x7 -> LayerNorm -> Linear 4x -> GELU -> Linear), as `block.0..6` + `layer_scale`."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, 7, padding=3, groups=dim),
            Permute((0, 2, 3, 1)),
            nn.LayerNorm(dim, eps=_EPS),
            nn.Linear(dim, 4 * dim),
            nn.GELU(),
            nn.Linear(4 * dim, dim),
            Permute((0, 3, 1, 2)),
        )
        # torchvision's shape (dim, 1, 1); the checkpoint stores it that way.
        self.layer_scale = nn.Parameter(torch.full((dim, 1, 1), 1e-6))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.layer_scale * self.block(x)


class ConvNeXt(nn.Module):
    """ConvNeXt (torchvision layout); `stages()` lists `features.0..7`, so a tap is a whole stage or downsampler."""

    def __init__(self, depths: tuple[int, int, int, int] = (3, 3, 9, 3),
                 dims: tuple[int, int, int, int] = (96, 192, 384, 768), num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Sequential(nn.Conv2d(3, dims[0], 4, 4), LayerNorm2d(dims[0], eps=_EPS))]
        for i, (depth, dim) in enumerate(zip(depths, dims)):
            if i > 0:
                layers.append(nn.Sequential(LayerNorm2d(dims[i - 1], eps=_EPS), nn.Conv2d(dims[i - 1], dim, 2, 2)))
            layers.append(nn.Sequential(*(CNBlock(dim) for _ in range(depth))))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(LayerNorm2d(dims[-1], eps=_EPS), nn.Flatten(1), nn.Linear(dims[-1], num_classes))

    def stages(self) -> list[tuple[str, nn.Module]]:
        """The convolutional trunk as (dotted name, module) pairs; applied in order they give `forward`'s features."""
        return [(f"features.{i}", m) for i, m in enumerate(self.features)]

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)))


def convnext_tiny(num_classes: int = 1000) -> ConvNeXt:
    """ConvNeXt-T: `features.3` ends the stride-8 stage (192 ch), `features.5` the stride-16 stage (384 ch)."""
    return ConvNeXt((3, 3, 9, 3), (96, 192, 384, 768), num_classes)
