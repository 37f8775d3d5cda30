"""The fingerprint: a product's memory bank plus everything needed to score like the day it was made.

One safetensors file (tensors + a JSON header), written atomically. Never pickle: a pickled
artifact runs code on load. The bank's bytes are hashed into the header, so a file damaged on
disk is caught on load instead of scoring garbage.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch
from pydantic import BaseModel, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from goldenshot import __version__
from goldenshot.settings import MapSettings, PreprocessSettings, ScoringSettings

FORMAT_VERSION = 1
_META_KEY = "goldenshot"


class FingerprintError(ValueError):
    """A fingerprint that cannot be used: unreadable, damaged, or made for another backbone."""


class Source(BaseModel):
    """A golden sample the fingerprint was built from."""

    name: str
    sha256: str


class GoldenStats(BaseModel):
    """Leave-one-out scores of the golden samples: the basis of the threshold."""

    scores: list[float]
    mean: float
    std: float
    max: float


class FingerprintMeta(BaseModel):
    """The JSON half of a fingerprint."""

    format_version: int = FORMAT_VERSION
    goldenshot_version: str = __version__
    created_at: str
    backbone: str
    weights_sha256: str
    taps: tuple[str, ...]
    feature_dim: int
    preprocess: PreprocessSettings
    scoring: ScoringSettings
    maps: MapSettings
    threshold: float  # on image scores
    pixel_threshold: float  # on anomaly-map values: where regions start
    threshold_source: str  # "leave-one-out" or "user"
    golden: GoldenStats
    sources: list[Source]
    coreset_rows: int
    patches_seen: int
    seed: int


class Fingerprint:
    """Memory bank [N, D] (float32 in memory, float16 on disk) + metadata + optional projection."""

    def __init__(self, bank: torch.Tensor, meta: FingerprintMeta, projection: torch.Tensor | None = None):
        self.bank = bank.float().contiguous()
        self.meta = meta
        self.projection = projection

    def with_threshold(self, threshold: float) -> Fingerprint:
        """A copy whose decision threshold was set by a person; the region threshold moves with it."""
        scale = float(threshold) / self.meta.threshold if self.meta.threshold > 0 else 1.0
        update = {"threshold": float(threshold), "pixel_threshold": self.meta.pixel_threshold * scale, "threshold_source": "user"}
        meta = self.meta.model_copy(update=update)
        return Fingerprint(self.bank, meta, self.projection)

    def check_backbone(self, name: str, weights_sha256: str) -> None:
        """Scores are only meaningful against features from the exact backbone that built the bank."""
        if (name, weights_sha256) != (self.meta.backbone, self.meta.weights_sha256):
            raise FingerprintError(
                f"fingerprint was made with backbone {self.meta.backbone} (weights {self.meta.weights_sha256[:12]}), "
                f"not {name} (weights {weights_sha256[:12]})"
            )

    def save(self, path: Path) -> int:
        """Write atomically (temp file + rename in the same folder); returns the file size in bytes."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {"bank": self.bank.half().contiguous()}
        if self.projection is not None:
            tensors["projection"] = self.projection.float().contiguous()
        header = {_META_KEY: self.meta.model_dump_json(), "sha256": _digest(tensors)}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            save_file(tensors, tmp, metadata=header)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path.stat().st_size

    @classmethod
    def load(cls, path: Path) -> Fingerprint:
        """Read and verify; every failure is a FingerprintError naming the file and the cause."""
        path = Path(path)
        if not path.is_file():
            raise FingerprintError(f"{path}: no such fingerprint file")
        try:
            tensors = load_file(path)
            with open(path, "rb") as handle:
                header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
            extra = header.get("__metadata__", {})
            meta = FingerprintMeta.model_validate_json(extra[_META_KEY])
        except (SafetensorError, OSError, ValueError, KeyError, ValidationError) as exc:
            raise FingerprintError(f"{path}: not a readable fingerprint ({type(exc).__name__}: {str(exc)[:200]})") from exc
        if meta.format_version != FORMAT_VERSION:
            raise FingerprintError(f"{path}: fingerprint format {meta.format_version}, this build reads {FORMAT_VERSION}")
        if "bank" not in tensors or extra.get("sha256") != _digest(tensors):
            raise FingerprintError(f"{path}: fingerprint is damaged (checksum mismatch)")
        return cls(tensors["bank"], meta, tensors.get("projection"))


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    sha = hashlib.sha256()
    for name in sorted(tensors):
        sha.update(name.encode())
        sha.update(tensors[name].contiguous().view(torch.uint8).numpy().tobytes())
    return sha.hexdigest()


def now_iso() -> str:
    """Creation time in UTC, ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
