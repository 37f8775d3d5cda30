"""The backbone as its ONNX export on onnxruntime: the in-process twin of the model Triton serves.

One exported file per backbone + weights sha256 + taps, kept in the cache folder (settings.cache_dir)
and made on first use from the torch backbone (goldenshot.export, which refuses an export that does
not reproduce torch within its tolerance). The CLI, the embedded server and the scorer run it, and
`goldenshot export --triton` copies the same file into Triton's repository, so the embedded and the
distributed deployment compute features with one model. Torch stays for training, for the export
itself, and as the `runtime: torch` fallback.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from goldenshot.backbones import default_taps, file_sha256, load_backbone, weights_path
from goldenshot.export import INPUT, ExportError, ModelCard, Serving, check_identity, check_repository, export_onnx, output_names, write_model
from goldenshot.threads import share

if TYPE_CHECKING:
    import onnxruntime

MODEL_FILE = "model.onnx"
CARD_FILE = "card.json"


class OnnxBackbone:
    """`backbone(x)` with x [B, 3, H, W] ImageNet-normalised float32, any B, H, W: one NCHW map per tap.

    The same surface as goldenshot.backbones.Backbone (name, weights_sha256, taps, channels, strides),
    read from the export's card, so fingerprints check against it exactly as against torch.
    """

    def __init__(self, path: Path, card: ModelCard, threads: int) -> None:
        self.path = path
        self.threads = threads  # a lone call's; fewer while other inspections share them (goldenshot.threads)
        self._sessions: dict[int, onnxruntime.InferenceSession] = {}
        self._lock = threading.Lock()
        self._session(threads)  # a broken file fails here, not at the first inspection
        self.card = card
        self.name: str = card.backbone
        self.weights_sha256: str = card.weights_sha256
        self.taps: tuple[str, ...] = card.taps
        self.channels: tuple[int, ...] = card.channels
        self.strides: tuple[int, ...] = card.strides
        self._outputs = output_names(len(card.taps))

    def _session(self, threads: int) -> onnxruntime.InferenceSession:
        """The session with `threads` intra-op threads (one per thread count in use, made on first use).
        onnxruntime fixes a session's threads when it is made, and a session runs calls concurrently."""
        with self._lock:
            if threads not in self._sessions:
                import onnxruntime  # here: `goldenshot --help` must not pay for it

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                # Spinning workers would hold the cores the kNN and the map need right after the backbone.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._sessions[threads] = onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
            return self._sessions[threads]

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        array = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        session = self._session(share.width(self.threads))
        return [torch.from_numpy(m) for m in session.run(self._outputs, {INPUT: array})]


def exported_model(name: str, weights: Path | None, taps: Sequence[str] | None, cache_dir: Path) -> tuple[Path, ModelCard]:
    """The cached ONNX file of backbone `name` with `weights` (default: the bundled file) and `taps`, and its card.

    Made on first use (seconds: the torch export plus the check against torch); a cached file whose
    card names other weights, or whose bytes are not the card's onnx_sha256, is refused.
    """
    weights_sha256 = file_sha256(weights_path(name, weights))
    taps = tuple(taps) if taps else default_taps(name)
    folder = Path(cache_dir) / f"{name}-{weights_sha256[:16]}-{hashlib.sha256(','.join(taps).encode()).hexdigest()[:12]}"
    if not (folder / CARD_FILE).is_file():
        _export_into(folder, load_backbone(name, weights, taps))
    card = ModelCard.from_parameters(json.loads((folder / CARD_FILE).read_text()))
    model = folder / MODEL_FILE
    check_identity(f"model {model}", (card.backbone, card.weights_sha256, card.taps), (name, weights_sha256, taps))
    if file_sha256(model) != card.onnx_sha256:
        raise ExportError(f"model {model}: sha256 {file_sha256(model)[:12]} is not its card's onnx_sha256 {card.onnx_sha256[:12]}; delete {folder}")
    return model, card


def _export_into(folder: Path, backbone: torch.nn.Module) -> None:
    """Export into a staging folder beside `folder`, then rename: a concurrent user sees all or nothing."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        card = export_onnx(backbone, staging / MODEL_FILE)
        (staging / CARD_FILE).write_text(json.dumps(card.parameters(), indent=2) + "\n")
        try:
            os.rename(staging, folder)
        except OSError:
            if not (folder / CARD_FILE).is_file():  # not another process winning the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def load_onnx_backbone(name: str, weights: Path | None, taps: Sequence[str] | None, cache_dir: Path, threads: int) -> OnnxBackbone:
    """The backbone on onnxruntime, exporting it into `cache_dir` first if it is not there yet."""
    path, card = exported_model(name, weights, taps, cache_dir)
    return OnnxBackbone(path, card, threads)


def export_triton(repository: Path, serving: Serving, name: str, weights: Path | None, taps: Sequence[str] | None, cache_dir: Path) -> ModelCard:
    """`goldenshot export --triton`: the cached export (made if missing) written into Triton's repository,
    byte for byte the file the in-process runtime uses."""
    check_repository(repository)
    path, card = exported_model(name, weights, taps, cache_dir)
    write_model(repository, path, card, serving)
    return card
