"""ResNet-18/50 and Wide-ResNet-50-2 with torchvision's module layout (v1.5: stride on the 3x3 conv)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int, downsample: nn.Module | None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int, downsample: nn.Module | None,
                 width_factor: int = 1) -> None:
        super().__init__()
        width = planes * width_factor
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet(nn.Module):
    """torchvision ResNet: `conv1`, `bn1`, `relu`, `maxpool`, `layer1..4` (strides 4, 8, 16, 32), `fc`.

    `block_kwargs` go to every block, e.g. `width_factor=2` widens the bottleneck's inner convs as
    torchvision's `width_per_group=128` does for Wide-ResNet-50-2.
    """

    def __init__(self, block: type[BasicBlock | Bottleneck], layers: tuple[int, int, int, int],
                 num_classes: int = 1000, **block_kwargs: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()  # not in place: a tap on `bn1` must not see its output overwritten
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (planes, repeats) in enumerate(zip((64, 128, 256, 512), layers)):
            stride = 1 if i == 0 else 2
            cout = planes * block.expansion
            downsample = None
            if stride != 1 or cin != cout:
                downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            blocks = [block(cin, planes, stride, downsample, **block_kwargs)]
            blocks += [block(cout, planes, 1, None, **block_kwargs) for _ in range(repeats - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            cin = cout
        self.fc = nn.Linear(cin, num_classes)

    def stages(self) -> list[tuple[str, nn.Module]]:
        """The convolutional trunk as (dotted name, module) pairs; applied in order they give `forward`'s features."""
        names = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
        return [(n, getattr(self, n)) for n in names]

    def forward(self, x: Tensor) -> Tensor:
        for _, module in self.stages():
            x = module(x)
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def resnet18() -> ResNet:
    return ResNet(BasicBlock, (2, 2, 2, 2))


def resnet50() -> ResNet:
    return ResNet(Bottleneck, (3, 4, 6, 3))


def wide_resnet50_2() -> ResNet:
    return ResNet(Bottleneck, (3, 4, 6, 3), width_factor=2)
