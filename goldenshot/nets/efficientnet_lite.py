"""EfficientNet-Lite0 and Lite2 with lukemelas `efficientnet_pytorch` key names, for the TF-ported checkpoints.

Lite differs from EfficientNet-B0..4 by: no squeeze-excite, ReLU6 instead of swish, stem (32) and head
(1280) not scaled, and the first and last stage's repeats not scaled with depth (TF's
efficientnet_lite_builder, `fix_head_stem`). The variants differ only by their width and depth
multipliers, applied to B0's stage table as TF's `round_filters` / `round_repeats` do (checked
against the Lite0 and Lite2 checkpoints; wider variants would also need the stem fix applied to
the first block's input, which this does not do).
Inference only: drop-connect (a training regulariser) is not implemented.

The weights were trained in TensorFlow on inputs scaled to [-1, 1] ((x - 127) / 128 on 0..255 pixels),
not ImageNet mean/std: the stem BN's running variance matches [-1, 1] inputs (ImageNet-normalised
inputs come out ~4x too large) and photos classify with higher confidence. To keep one input
convention across goldenshot's nets, the model takes mean/std-normalised input and re-scales it first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# TF checkpoints: BN epsilon 1e-3 and momentum 0.99 (PyTorch's 0.01).
_BN = {"eps": 1e-3, "momentum": 0.01}

# (kernel, first stride, expand ratio, in channels, out channels, repeats): EfficientNet-B0's stages,
# which the width and depth multipliers scale.
_STAGES = (
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
)


def _round_filters(channels: int, width: float, divisor: int = 8) -> int:
    """TF's round_filters: scale by width, round to a multiple of 8, never more than 10% below the scaled value."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


class InputRescale(nn.Module):
    """Maps input normalised with (mean, std) to [-1, 1] scaling: a per-channel affine map.

    Its buffers are not persistent, so the state dict keeps the checkpoint's exact keys.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        # x_pixel = x * std + mean (0..1); x_tf = (x_pixel - 0.5) / 0.5
        self.register_buffer("scale", 2.0 * torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", (2.0 * torch.tensor(mean) - 1.0).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return torch.addcmul(self.shift, x, self.scale)


class Conv2dSame(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding, which the ported weights were trained with.

    For stride 1 and odd kernels that is plain symmetric padding; a strided conv on an even input
    pads one more pixel bottom/right than top/left, so the padding is computed per input size
    (which also keeps any H, W working, unlike a padding fixed for 224x224).
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride, kernel // 2 if stride == 1 else 0, groups=groups, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.stride[0] > 1:
            k, s = self.kernel_size[0], self.stride[0]
            ph, pw = (max((math.ceil(n / s) - 1) * s + k - n, 0) for n in x.shape[-2:])
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return super().forward(x)


class MBConvBlock(nn.Module):
    """Inverted residual without squeeze-excite: [expand 1x1] -> depthwise -> project 1x1 (+ skip)."""

    def __init__(self, kernel: int, stride: int, expand: int, cin: int, cout: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = Conv2dSame(cin, hidden, 1)
            self._bn0 = nn.BatchNorm2d(hidden, **_BN)
        self._depthwise_conv = Conv2dSame(hidden, hidden, kernel, stride, groups=hidden)
        self._bn1 = nn.BatchNorm2d(hidden, **_BN)
        self._project_conv = Conv2dSame(hidden, cout, 1)
        self._bn2 = nn.BatchNorm2d(cout, **_BN)
        self.use_skip = stride == 1 and cin == cout

    def forward(self, inputs: Tensor) -> Tensor:
        x = inputs
        if self.has_expand:
            x = F.relu6(self._bn0(self._expand_conv(x)))
        x = F.relu6(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        return x + inputs if self.use_skip else x


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite (lukemelas layout): `_conv_stem`, `_bn0`, `_blocks.N`, `_conv_head`, `_bn1`, `_fc`.

    `width` and `depth` are the variant's multipliers (Lite0: 1.0, 1.0; Lite2: 1.1, 1.2); use
    `efficientnet_lite0` / `efficientnet_lite2` rather than spelling them out.
    `input_mean`/`input_std` describe how the caller normalised its input (default: ImageNet's).
    """

    def __init__(self, width: float = 1.0, depth: float = 1.0, num_classes: int = 1000,
                 input_mean: Sequence[float] = (0.485, 0.456, 0.406),
                 input_std: Sequence[float] = (0.229, 0.224, 0.225)) -> None:
        super().__init__()
        self._input_rescale = InputRescale(input_mean, input_std)
        self._conv_stem = Conv2dSame(3, 32, 3, 2)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        self._act0 = nn.ReLU6()
        blocks = []
        for stage, (kernel, stride, expand, cin, cout, repeats) in enumerate(_STAGES):
            cin, cout = _round_filters(cin, width), _round_filters(cout, width)
            if 0 < stage < len(_STAGES) - 1:
                repeats = math.ceil(repeats * depth)
            for i in range(repeats):
                blocks.append(MBConvBlock(kernel, stride if i == 0 else 1, expand, cin if i == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = Conv2dSame(cout, 1280, 1)
        self._bn1 = nn.BatchNorm2d(1280, **_BN)
        self._act1 = nn.ReLU6()
        self._dropout = nn.Dropout(0.2)
        self._fc = nn.Linear(1280, num_classes)

    def stages(self) -> list[tuple[str, nn.Module]]:
        """The convolutional trunk as (dotted name, module) pairs; applied in order they give `forward`'s features."""
        return [
            ("_input_rescale", self._input_rescale),
            ("_conv_stem", self._conv_stem),
            ("_bn0", self._bn0),
            ("_act0", self._act0),
            *((f"_blocks.{i}", b) for i, b in enumerate(self._blocks)),
            ("_conv_head", self._conv_head),
            ("_bn1", self._bn1),
            ("_act1", self._act1),
        ]

    def forward(self, x: Tensor) -> Tensor:
        for _, module in self.stages():
            x = module(x)
        return self._fc(self._dropout(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)))


def efficientnet_lite0(**kwargs: Any) -> EfficientNetLite:
    """Lite0: 16 blocks; `_blocks.4` ends the stride-8 stage (40 ch), `_blocks.10` the stride-16 one (112 ch)."""
    return EfficientNetLite(1.0, 1.0, **kwargs)


def efficientnet_lite2(**kwargs: Any) -> EfficientNetLite:
    """Lite2: 21 blocks; `_blocks.6` ends the stride-8 stage (48 ch), `_blocks.14` the stride-16 one (120 ch)."""
    return EfficientNetLite(1.1, 1.2, **kwargs)
