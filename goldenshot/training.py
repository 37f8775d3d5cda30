"""Stage 1: fine-tune a backbone on industrial good images with SimSiam, so its patch features suit parts.

SimSiam needs no labels and no negatives: two views of one image go through a shared encoder and
projector, a predictor maps one branch onto the other, and the target branch gets no gradient
(stop-gradient is what keeps it from collapsing). Choices, and why:

- Patch-level loss. The detector compares patches, so the loss is per patch on the aggregated tap
  features (goldenshot.features.aggregate), not on one pooled vector.
- Same geometry in both views. Per-patch pairs only correspond if both views are pixel-aligned, so
  views differ photometrically (grayscale, brightness, contrast) and may only be flipped together.
  With `pair="category"` the second view is another image of the same category; its patches do not
  correspond, so the loss is then on spatially pooled features.
- Frozen BatchNorm statistics in the trunk. Batches are a handful of images; re-estimating the
  pretrained running statistics from them would shift every feature. The trunk is the `Backbone`
  that fit/eval use (its `train()` pins eval mode), with gradients turned back on. The projector's
  BN sees batch x patches samples, so it trains normally.
- SGD with momentum and weight decay, cosine learning-rate decay over all steps, lr = base_lr x batch/256.
- Deterministic on CPU: one seeded generator drives sampling and augmentation, the heads are
  initialised from the seed, and deterministic algorithms are on during training.

The output is the whole network's state dict (torchvision key names) as .safetensors: layers after
the last tap keep their loaded values, so `load_network` reads it strictly like any weights file.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor, nn
from tqdm import tqdm

from goldenshot.atomic import atomic_path
from goldenshot.augment import augment
from goldenshot.backbones import BACKBONES, Backbone, file_sha256, load_network, weights_path
from goldenshot.data import DatasetError, list_images
from goldenshot.features import aggregate, normalize
from goldenshot.images import read_image
from goldenshot.preprocess import prepare
from goldenshot.settings import AugmentSettings, Settings

# Photometric only: geometry must stay identical between the two views (see the module docstring).
VIEW_AUGMENT = AugmentSettings(
    hflip=False, vflip=False, rotate=0.0, translate=0.0, grayscale=True, brightness=0.4, contrast=0.4
)


class TrainError(Exception):
    """Training cannot start or resume (no images, bad or mismatched checkpoint); the message names the cause."""


def find_categories(roots: Sequence[Path]) -> list[list[Path]]:
    """Good training images per category: each root is a category (has train/good) or holds categories
    up to two levels below it (`*/train/good`, `*/*/train/good`)."""
    folders: list[Path] = []
    for root in map(Path, roots):
        found = [root / "train" / "good"] if (root / "train" / "good").is_dir() else sorted(
            p for pattern in ("*/train/good", "*/*/train/good") for p in root.glob(pattern) if p.is_dir()
        )
        if not found:
            raise TrainError(f"{root}: no category with train/good found (looked at most 2 levels down)")
        folders += found
    try:
        return [list_images(folder) for folder in dict.fromkeys(folders)]
    except DatasetError as e:
        raise TrainError(str(e)) from e


def _head(cin: int, cout: int, hidden: int, last_bn: bool) -> nn.Sequential:
    """1x1 conv -> BN -> ReLU -> 1x1 conv (-> BN): an MLP applied to every patch."""
    layers: list[nn.Module] = [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True)]
    layers += [nn.Conv2d(hidden, cout, 1, bias=not last_bn)] + ([nn.BatchNorm2d(cout)] if last_bn else [])
    return nn.Sequential(*layers)


class SimSiam(nn.Module):
    """Encoder (trunk + tap aggregation) -> projector -> predictor."""

    def __init__(self, backbone: Backbone, projector_dim: int, predictor_dim: int, pooled: bool) -> None:
        super().__init__()
        self.backbone = backbone.requires_grad_(True)
        self.pooled = pooled
        dim = sum(backbone.channels)
        self.projector = _head(dim, projector_dim, projector_dim, last_bn=True)
        self.predictor = _head(projector_dim, projector_dim, predictor_dim, last_bn=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Images [B,3,H,W] in [0,1] -> (z, p), each [B, projector_dim, h, w] (h = w = 1 when pooled)."""
        feats = aggregate(self.backbone(normalize(x)))
        if self.pooled:
            feats = feats.mean(dim=(2, 3), keepdim=True)
        z = self.projector(feats)
        return z, self.predictor(z)


def simsiam_loss(z1: Tensor, p1: Tensor, z2: Tensor, p2: Tensor) -> Tensor:
    """D(p1, sg(z2))/2 + D(p2, sg(z1))/2, D = negative cosine similarity averaged over images and patches."""

    def d(p: Tensor, z: Tensor) -> Tensor:
        return -F.cosine_similarity(p, z.detach(), dim=1).mean()

    return d(p1, z2) / 2 + d(p2, z1) / 2


@dataclass
class TrainResult:
    """What a run did: per-step losses of this invocation, and the step it ended at."""

    losses: list[float]
    step: int
    total_steps: int


def _decode_all(categories: list[list[Path]], settings: Settings) -> list[list[Tensor]]:
    """Every image once, at the working size, as uint8 [3,H,W]: decoding per step cost more than the step."""
    limits = settings.limits

    def load(path: Path) -> Tensor:
        image = read_image(path, limits.max_pixels, limits.max_bytes)
        return prepare(image, settings.preprocess).mul(255).round().byte()

    return [[load(p) for p in paths] for paths in categories]


def _batch(images: list[list[Tensor]], settings: Settings, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Two views for each of `batch_size` images drawn uniformly over all categories' images."""
    flat = [(c, i) for c, category in enumerate(images) for i in range(len(category))]
    first, second = [], []
    for j in torch.randint(len(flat), (settings.train.batch_size,), generator=generator).tolist():
        c, i = flat[j]
        image = other = images[c][i]
        if settings.train.pair == "category":
            other = images[c][int(torch.randint(len(images[c]), (1,), generator=generator))]
        v1 = augment(image.float() / 255, VIEW_AUGMENT, generator)
        v2 = augment(other.float() / 255, VIEW_AUGMENT, generator)
        if torch.rand(1, generator=generator).item() < 0.5:  # the one geometric change: both views alike
            v1, v2 = v1.flip(-1), v2.flip(-1)
        first.append(v1)
        second.append(v2)
    return torch.stack(first), torch.stack(second)


def _lr(settings: Settings, step: int, total: int) -> float:
    base = settings.train.base_lr * settings.train.batch_size / 256
    return base * 0.5 * (1.0 + math.cos(math.pi * step / total))


@contextmanager
def _deterministic(on: bool) -> Iterator[None]:
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(on or before)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def _run_identity(settings: Settings, categories: list[list[Path]], weights_sha256: str) -> dict:
    """What a checkpoint must match to be resumed: same data, same settings, same starting weights."""
    return {
        "backbone": settings.backbone,
        "taps": list(settings.taps or BACKBONES[settings.backbone].taps),
        "weights_sha256": weights_sha256,
        "seed": settings.seed,
        "preprocess": settings.preprocess.model_dump(),
        "train": settings.train.model_dump(),
        "images": [[str(p) for p in paths] for paths in categories],
    }


def _save_checkpoint(path: Path, model: SimSiam, net: nn.Module, opt: torch.optim.SGD, generator: torch.Generator,
                     identity: dict, epoch: int, step: int) -> None:
    tensors = {f"net.{k}": v for k, v in net.state_dict().items()}
    tensors |= {f"head.{k}": v for k, v in model.state_dict().items() if not k.startswith("backbone.")}
    params = [p for group in opt.param_groups for p in group["params"]]
    tensors |= {f"momentum.{i}": opt.state[p]["momentum_buffer"] for i, p in enumerate(params) if p in opt.state}
    tensors["rng"] = generator.get_state()
    meta = {"identity": json.dumps(identity), "epoch": str(epoch), "step": str(step)}
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=meta)


def _load_checkpoint(path: Path, model: SimSiam, net: nn.Module, opt: torch.optim.SGD, generator: torch.Generator,
                     identity: dict) -> tuple[int, int]:
    """Restore everything `_save_checkpoint` wrote; returns (epoch, step)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        saved, epoch, step = json.loads(meta["identity"]), int(meta["epoch"]), int(meta["step"])
    except Exception as e:  # missing file, truncated header, bad JSON, missing metadata...
        raise TrainError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}") from e
    if saved != identity:
        diff = sorted(k for k in identity if saved.get(k) != identity[k])
        raise TrainError(f"checkpoint {path} was made with different {', '.join(diff)}; resume with the same run")
    try:
        net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")}, strict=True)
        heads = {k[5:]: v for k, v in tensors.items() if k.startswith("head.")}
        model.projector.load_state_dict({k[10:]: v for k, v in heads.items() if k.startswith("projector.")}, strict=True)
        model.predictor.load_state_dict({k[10:]: v for k, v in heads.items() if k.startswith("predictor.")}, strict=True)
        params = [p for group in opt.param_groups for p in group["params"]]
        for i, p in enumerate(params):
            if f"momentum.{i}" in tensors:
                opt.state[p]["momentum_buffer"] = tensors[f"momentum.{i}"].to(p.device)
        generator.set_state(tensors["rng"])
    except (RuntimeError, KeyError) as e:
        cause = " ".join(str(e).split())[:300]
        raise TrainError(f"checkpoint {path} does not fit this run: {type(e).__name__}: {cause}") from e
    return epoch, step


def train_extractor(
    roots: Sequence[Path],
    out: Path,
    settings: Settings,
    checkpoint_dir: Path | None = None,
    resume: Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Fine-tune `settings.backbone` (from `settings.weights`, default its ImageNet file) on the good
    images under `roots`; write the network's state dict to `out` (.safetensors) and return the losses.

    With `checkpoint_dir`, a checkpoint is written after every epoch (epoch_<n>.safetensors);
    `resume` continues from one exactly, given the same roots and settings.
    """
    categories = find_categories(roots)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    weights = weights_path(settings.backbone, settings.weights)
    sha = file_sha256(weights)
    torch.manual_seed(settings.seed)
    net = load_network(settings.backbone, weights)
    backbone = Backbone(settings.backbone, net, settings.taps or BACKBONES[settings.backbone].taps, sha)
    model = SimSiam(backbone, settings.train.projector_dim, settings.train.predictor_dim, settings.train.pair == "category")
    model.to(device)
    model.projector.train()
    model.predictor.train()
    per_epoch = settings.train.steps_per_epoch or max(1, sum(map(len, categories)) // settings.train.batch_size)
    total = per_epoch * settings.train.epochs
    opt = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad],
        lr=_lr(settings, 0, total), momentum=settings.train.momentum, weight_decay=settings.train.weight_decay,
    )
    generator = torch.Generator().manual_seed(settings.seed)
    identity = _run_identity(settings, categories, sha)
    epoch, step = _load_checkpoint(resume, model, net, opt, generator, identity) if resume else (0, 0)
    images = _decode_all(categories, settings)
    losses: list[float] = []
    with _deterministic(device.type == "cpu"), tqdm(
        total=total, initial=step, desc="train-extractor", file=sys.stderr, disable=not progress
    ) as bar:
        while epoch < settings.train.epochs:
            for _ in range(per_epoch):
                x1, x2 = (v.to(device) for v in _batch(images, settings, generator))
                for group in opt.param_groups:
                    group["lr"] = _lr(settings, step, total)
                z1, p1 = model(x1)
                z2, p2 = model(x2)
                loss = simsiam_loss(z1, p1, z2, p2)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                losses.append(loss.item())
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.4f}")
            epoch += 1
            if checkpoint_dir is not None:
                path = Path(checkpoint_dir) / f"epoch_{epoch}.safetensors"
                _save_checkpoint(path, model, net, opt, generator, identity, epoch, step)
    with atomic_path(out) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, str(tmp))
    return TrainResult(losses, step, total)
