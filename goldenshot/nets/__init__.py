"""Backbone architectures written out in plain torch, key-compatible with the public checkpoints.

Each net exposes `stages()`: its trunk as ordered (dotted module name, module) pairs, which is what
lets `goldenshot.backbones` truncate it after the last tapped stage. A net whose stages pass something
other than feature maps (a ViT's tokens) also has `tap_readout()`, a module turning a tapped stage's
output and the input's (H, W) into a [B, C, h, w] map, and `probe_side`, an input side at which its
strides measure exactly.
"""

from goldenshot.nets.convnext import ConvNeXt, convnext_tiny
from goldenshot.nets.dinov2 import DinoVisionTransformer, dinov2_vitb14, dinov2_vits14
from goldenshot.nets.efficientnet_lite import EfficientNetLite, efficientnet_lite0, efficientnet_lite2
from goldenshot.nets.mobilenet_v2 import MobileNetV2
from goldenshot.nets.resnet import ResNet, resnet18, resnet50, wide_resnet50_2

__all__ = [
    "ConvNeXt",
    "DinoVisionTransformer",
    "EfficientNetLite",
    "MobileNetV2",
    "ResNet",
    "convnext_tiny",
    "dinov2_vitb14",
    "dinov2_vits14",
    "efficientnet_lite0",
    "efficientnet_lite2",
    "resnet18",
    "resnet50",
    "wide_resnet50_2",
]
