"""Export the frozen backbone for serving: ONNX with dynamic batch/height/width, in a Triton model repository.

The distributed deployment computes backbone features in NVIDIA Triton. A fingerprint's scores only mean
something against features from the exact extractor that built its bank, so the repository carries a
model card (backbone, weights sha256, taps, channels, strides, the ONNX file's sha256) in the model's
config `parameters` and in `goldenshot.json` beside it; clients read it back before they trust a feature.

Two flavours, same model name, inputs, outputs and card:
- `gpu`: Triton's onnxruntime backend on KIND_GPU with dynamic batching (production), plus
  `configs/cpu.pbtxt`, the same on KIND_CPU, which Triton loads with --model-config-name=cpu (the chart
  does that on nodes without a GPU);
- `cpu`: Triton's Python backend running the same ONNX file on onnxruntime's CPU provider, for the
  tritonserver inside PyPI `nvidia-pytriton` (its only CPU backend) and CPU-only deployments.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from goldenshot import __version__
from goldenshot.backbones import Backbone, file_sha256

Device = Literal["gpu", "cpu"]
DEFAULT_MODEL = "backbone"
INPUT = "input"
CARD_FILE = "goldenshot.json"
# ONNX vs torch, per tap map: max |difference| / max |torch value|. float32 kernels differ in summation
# order only; measured <= 4e-6 for mobilenet_v2 on real images, so 1e-4 catches a wrong graph without flaking.
TOLERANCE = 1e-4
# Opset 18: the lowest the torch.export-based exporter emits; Triton's onnxruntime backends run it.
_OPSET = 18


class ExportError(Exception):
    """The export cannot be done or its result does not reproduce the backbone; the message says why."""


@dataclass(frozen=True)
class ModelCard:
    """What a client needs to trust the served features: which extractor, and which ONNX file."""

    backbone: str
    weights_sha256: str
    taps: tuple[str, ...]
    channels: tuple[int, ...]
    strides: tuple[int, ...]
    onnx_sha256: str
    max_rel_diff: float  # measured ONNX vs torch at export (see TOLERANCE)
    goldenshot_version: str = __version__

    def parameters(self) -> dict[str, str]:
        """Triton config parameters are strings; sequences become comma lists (tap names hold no commas)."""
        return {k: ",".join(map(str, v)) if isinstance(v, tuple) else str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_parameters(cls, params: dict[str, str]) -> ModelCard:
        """Inverse of parameters(); a missing key is a ValueError naming it (not a goldenshot model)."""
        missing = [k for k in cls.__dataclass_fields__ if k not in params]
        if missing:
            raise ValueError(f"model config lacks goldenshot parameters {missing}: not exported by `goldenshot export`")
        return cls(
            backbone=params["backbone"],
            weights_sha256=params["weights_sha256"],
            taps=tuple(params["taps"].split(",")),
            channels=tuple(int(c) for c in params["channels"].split(",")),
            strides=tuple(int(s) for s in params["strides"].split(",")),
            onnx_sha256=params["onnx_sha256"],
            max_rel_diff=float(params["max_rel_diff"]),
            goldenshot_version=params["goldenshot_version"],
        )


@dataclass(frozen=True)
class Serving:
    """How Triton serves the model; checked on construction, before the export's seconds of work."""

    device: Device = "gpu"
    model: str = DEFAULT_MODEL
    max_batch_size: int = 16
    # onnxruntime intra-op threads of the cpu flavour; 0: onnxruntime's default, every physical core,
    # which oversubscribes a host shared with other services or a container with a CPU quota
    cpu_threads: int = 0

    def __post_init__(self) -> None:
        if self.device not in ("gpu", "cpu"):
            raise ValueError(f"device must be gpu or cpu, not {self.device!r}")
        if self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, not {self.max_batch_size}")
        if self.cpu_threads < 0:
            raise ValueError(f"cpu_threads must be >= 0, not {self.cpu_threads}")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", self.model):
            raise ValueError(f"bad model name {self.model!r}: letters, digits, '_', '.', '-', not starting with a symbol")


Identity = tuple[str, str, tuple[str, ...]]  # backbone name, weights sha256, taps


def check_identity(where: str, got: Identity, wanted: Identity) -> None:
    """Features from another backbone, other weights or other taps are refused: one line naming both."""
    if (got[0], got[1], tuple(got[2])) != (wanted[0], wanted[1], tuple(wanted[2])):
        raise ExportError(
            f"{where} is {got[0]} taps {','.join(got[2])} weights sha256 {got[1][:12]}, "
            f"but the engine uses {wanted[0]} taps {','.join(wanted[2])} weights sha256 {wanted[1][:12]}"
        )


def output_names(n_taps: int) -> list[str]:
    """One output per tap, in tap order; the card's `taps` says which stage each one is."""
    return [f"tap{i}" for i in range(n_taps)]


class _TupleOut(nn.Module):
    """The exporter wants a tuple of outputs; Backbone returns a list."""

    def __init__(self, backbone: Backbone) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.backbone(x))


def export_onnx(backbone: Backbone, path: Path) -> ModelCard:
    """Write `backbone` as ONNX (input [B, 3, H, W] ImageNet-normalised, one NCHW output per tap) and check it.

    The torch.export-based exporter: the TorchScript one is deprecated since torch 2.9. A file that does
    not reproduce the backbone within TOLERANCE on probe batches is an ExportError, not a model.
    """
    # Batch 2, not 1: the exporter specialises dimensions of size 0 and 1 to constants.
    example = torch.zeros(2, 3, 64, 64)
    dynamic = ({0: torch.export.Dim.DYNAMIC, 2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC},)
    try:
        with _quiet_exporter():
            torch.onnx.export(
                _TupleOut(backbone).eval(),
                (example,),
                str(path),
                dynamo=True,
                input_names=[INPUT],
                output_names=output_names(len(backbone.taps)),
                dynamic_shapes=dynamic,
                opset_version=_OPSET,
                external_data=False,  # one self-contained file: what the card's sha256 names
                verbose=False,
            )
    except Exception as e:  # the exporter raises many types; the caller wants one error with the cause
        raise ExportError(f"ONNX export of {backbone.name} failed: {type(e).__name__}: {str(e)[:300]}") from e
    rel = max(onnx_max_rel_diff(backbone, path, batch) for batch in _probe_batches())
    if not rel <= TOLERANCE:
        raise ExportError(f"ONNX export of {backbone.name} differs from torch: max relative difference {rel:.2e} > {TOLERANCE:.0e}")
    return ModelCard(
        backbone=backbone.name,
        weights_sha256=backbone.weights_sha256,
        taps=backbone.taps,
        channels=backbone.channels,
        strides=backbone.strides,
        onnx_sha256=file_sha256(path),
        max_rel_diff=rel,
    )


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter warns about torchvision ops and its own deprecations; none concern a backbone."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def onnx_max_rel_diff(backbone: Backbone, path: Path, batch: torch.Tensor) -> float:
    """Largest per-tap max |ONNX - torch| / max |torch| on `batch` ([B, 3, H, W], normalised), onnxruntime CPU."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        expected = [t.numpy() for t in backbone(batch)]
    got = session.run(output_names(len(expected)), {INPUT: batch.numpy()})
    return max(_rel_diff(g, e) for g, e in zip(got, expected, strict=True))


def _rel_diff(got: np.ndarray, expected: np.ndarray) -> float:
    if got.shape != expected.shape:
        return float("inf")
    return float(np.abs(got - expected).max() / max(float(np.abs(expected).max()), 1e-12))


def _probe_batches() -> list[torch.Tensor]:
    """Two batches at non-square sizes that are not multiples of 16: they exercise the dynamic axes."""
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(2, 3, 96, 80, generator=generator), torch.randn(3, 3, 75, 131, generator=generator)]


def _config_pbtxt(card: ModelCard, serving: Serving, kind: str = "KIND_GPU") -> str:
    """Triton model config (protobuf text). Dims exclude the batch dimension; -1 = any size."""
    outputs = ",\n".join(
        f'  {{ name: "{n}" data_type: TYPE_FP32 dims: [ {c}, -1, -1 ] }}' for n, c in zip(output_names(len(card.taps)), card.channels)
    )
    params = card.parameters()
    if serving.device == "gpu":
        runtime = 'platform: "onnxruntime_onnx"\nbackend: "onnxruntime"'
        # Requests of one image shape are merged into one GPU batch; a short wait trades latency for throughput.
        placement = f"instance_group [ {{ kind: {kind} count: 1 }} ]\ndynamic_batching {{ max_queue_delay_microseconds: 2000 }}"
    else:
        runtime = 'backend: "python"'
        # No dynamic batching: onnxruntime on a few CPU cores gains nothing from larger batches.
        placement = "instance_group [ { kind: KIND_CPU count: 1 } ]"
        params["cpu_threads"] = str(serving.cpu_threads)  # read by model.py
    lines = "\n".join(f'parameters {{ key: "{k}" value {{ string_value: "{v}" }} }}' for k, v in params.items())
    return (
        f'name: "{serving.model}"\n{runtime}\nmax_batch_size: {serving.max_batch_size}\n'
        f'input [\n  {{ name: "{INPUT}" data_type: TYPE_FP32 dims: [ 3, -1, -1 ] }}\n]\n'
        f"output [\n{outputs}\n]\n{placement}\n{lines}\n"
    )


def write_model(repository: Path, onnx_file: Path, card: ModelCard, serving: Serving = Serving()) -> Path:
    """Write (or replace) `repository/<model>/`: config.pbtxt, goldenshot.json, 1/model.onnx (+ 1/model.py on cpu).

    Built in a hidden folder beside the target, then renamed: no half-written model in the repository.
    """
    check_repository(repository)
    repository.mkdir(parents=True, exist_ok=True)
    target = repository / serving.model
    with tempfile.TemporaryDirectory(dir=repository, prefix=f".{serving.model}.") as tmp:
        staged = Path(tmp) / serving.model
        (staged / "1").mkdir(parents=True)
        shutil.copyfile(onnx_file, staged / "1" / "model.onnx")
        if serving.device == "cpu":
            shutil.copyfile(Path(str(resources.files("goldenshot") / "triton_model.py")), staged / "1" / "model.py")
        (staged / "config.pbtxt").write_text(_config_pbtxt(card, serving))
        if serving.device == "gpu":
            (staged / "configs").mkdir()
            (staged / "configs" / "cpu.pbtxt").write_text(_config_pbtxt(card, serving, "KIND_CPU"))
        (staged / CARD_FILE).write_text(json.dumps({**asdict(serving), **asdict(card)}, indent=2) + "\n")
        if target.exists():
            target.rename(Path(tmp) / "replaced")  # removed with the temp folder
        staged.rename(target)
    return target


def check_repository(repository: Path) -> None:
    """A repository path that is a file is refused before the export's seconds of work."""
    if repository.exists() and not repository.is_dir():
        raise ValueError(f"{repository}: is not a directory")
