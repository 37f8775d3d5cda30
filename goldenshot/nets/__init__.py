"""Backbone architectures written out in plain torch, key-compatible with the public checkpoints.

Each net exposes `stages()`: its convolutional trunk as ordered (dotted module name, module) pairs,
which is what lets `goldenshot.backbones` truncate it after the last tapped stage.
"""

from goldenshot.nets.efficientnet_lite import EfficientNetLite, efficientnet_lite0, efficientnet_lite2
from goldenshot.nets.mobilenet_v2 import MobileNetV2
from goldenshot.nets.resnet import ResNet, resnet18, resnet50, wide_resnet50_2

__all__ = [
    "EfficientNetLite",
    "MobileNetV2",
    "ResNet",
    "efficientnet_lite0",
    "efficientnet_lite2",
    "resnet18",
    "resnet50",
    "wide_resnet50_2",
]
