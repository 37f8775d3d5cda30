"""The fingerprint: a product's memory bank plus everything needed to score like the day it was made.

One safetensors file (tensors + a JSON header), written atomically. Never pickle: a pickled
artifact runs code on load. The bank's bytes are hashed into the header, so a file damaged on
disk is caught on load instead of scoring garbage.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timezone
from pathlib import Path

import torch
from pydantic import BaseModel, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load, save

from goldenshot import __version__
from goldenshot.atomic import atomic_path
from goldenshot.settings import AugmentSettings, MapSettings, PreprocessSettings, ScoringSettings

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
    # the kNN part of each score (equal to it under kNN scoring); strays and outliers are judged on it.
    # Empty in files written before it existed
    distances: list[float] = []
    mean: float | None  # None when a person set the threshold and nothing was scored
    std: float | None
    max: float | None


class Stray(BaseModel):
    """A golden sample left out because it looked unlike the others (its leave-one-out score)."""

    name: str
    score: float


class Validation(BaseModel):
    """How the fit chose its configuration: held-out goods against synthetic defects (goldenshot.selfconfig)."""

    chosen: str
    auroc: dict[str, float]  # per candidate: separation of held-out goods from synthetic defects
    defects: int  # synthetic defects scored per candidate
    detected: float | None = None  # share of the chosen candidate's synthetic defects above the threshold
    seconds: float


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
    augment: AugmentSettings | None = None  # what the bank was built with (None: files before self-configuration)
    threshold: float  # on image scores
    pixel_threshold: float  # on anomaly-map values: where regions start
    pixel_floor: float | None = None  # regions grow from above pixel_threshold down to this (a good map's typical peak)
    threshold_source: str  # "leave-one-out" or "user"
    target_fpr: float | None = None  # the false-alarm rate the leave-one-out threshold aims at
    # the threshold the kNN part of the scores alone would set: how far apart good patches' features
    # lie, the scale defect kinds are told apart on (None: not scored; use threshold)
    distance_threshold: float | None = None
    golden: GoldenStats
    sources: list[Source]
    strays: list[Stray] = []
    selfconfig: Validation | None = None
    coreset_rows: int
    patches_seen: int
    seed: int


class Fingerprint:
    """Memory bank [N, D] (float32 in memory, float16 on disk) + metadata + optional projection.

    provenance [N, 6] int32 (goldenshot.bank.PROVENANCE) says which golden sample and patch each
    bank row came from, so a defect can be explained by its nearest golden patch; files written
    before it existed have none (None), and still load and score.
    """

    def __init__(self, bank: torch.Tensor, meta: FingerprintMeta, projection: torch.Tensor | None = None, provenance: torch.Tensor | None = None):
        self.bank = bank.float().contiguous()
        self.meta = meta
        self.projection = projection
        if provenance is not None and tuple(provenance.shape) != (self.bank.shape[0], 6):
            raise FingerprintError(f"provenance {tuple(provenance.shape)} does not match a bank of {self.bank.shape[0]} rows")
        self.provenance = provenance.int().contiguous() if provenance is not None else None

    def with_threshold(self, threshold: float) -> Fingerprint:
        """A copy whose decision threshold was set by a person; the region threshold moves with it."""
        threshold = check_threshold(threshold)
        scale = float(threshold) / self.meta.threshold if self.meta.threshold > 0 else 1.0
        update = {"threshold": float(threshold), "pixel_threshold": self.meta.pixel_threshold * scale, "threshold_source": "user", "target_fpr": None}
        meta = self.meta.model_copy(update=update)
        return Fingerprint(self.bank, meta, self.projection, self.provenance)

    def check_extractor(self, name: str, weights_sha256: str, taps: tuple[str, ...], feature_dim: int) -> None:
        """Scores are only meaningful against features from the exact extractor that built the bank."""
        meta = self.meta
        if (name, weights_sha256) != (meta.backbone, meta.weights_sha256):
            raise FingerprintError(
                f"fingerprint was made with backbone {meta.backbone} (weights {meta.weights_sha256[:12]}), "
                f"not {name} (weights {weights_sha256[:12]})"
            )
        if (tuple(taps), feature_dim) != (tuple(meta.taps), self.bank.shape[1]):
            raise FingerprintError(
                f"fingerprint was made with taps {list(meta.taps)} ({self.bank.shape[1]}-d), not {list(taps)} ({feature_dim}-d)"
            )

    def _tensors(self) -> dict[str, torch.Tensor]:
        """What is stored: the bank in float16, the projection in float32, the provenance in int32."""
        tensors = {"bank": self.bank.half().contiguous()}
        if self.projection is not None:
            tensors["projection"] = self.projection.float().contiguous()
        if self.provenance is not None:
            tensors["provenance"] = self.provenance
        return tensors

    def dumps(self) -> bytes:
        """The file's bytes: what save writes, and what an object store keeps."""
        tensors = self._tensors()
        meta_json = self.meta.model_dump_json()
        return save(tensors, metadata={_META_KEY: meta_json, "sha256": _digest(tensors, meta_json)})

    def save(self, path: Path) -> int:
        """Write atomically (temp file + rename in the same folder); returns the file size in bytes."""
        data = self.dumps()
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(data)
        return len(data)

    @classmethod
    def load(cls, path: Path) -> Fingerprint:
        """Read and verify; every failure is a FingerprintError naming the file and the cause."""
        path = Path(path)
        if not path.is_file():
            raise FingerprintError(f"{path}: no such fingerprint file")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FingerprintError(f"{path}: cannot read ({exc.strerror or exc})") from exc
        return cls.loads(data, str(path))

    @staticmethod
    def read_meta(data: bytes, name: str = "fingerprint") -> FingerprintMeta:
        """The JSON half only, from the header: what a screen needs (sources, scores) without loading the bank."""
        try:
            header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
            return FingerprintMeta.model_validate_json(header["__metadata__"][_META_KEY])
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise FingerprintError(f"{name}: not a readable fingerprint ({type(exc).__name__}: {str(exc)[:200]})") from exc

    @classmethod
    def loads(cls, data: bytes, name: str = "fingerprint") -> Fingerprint:
        """Parse and verify a fingerprint's bytes; `name` goes into error messages."""
        try:
            tensors = load(data)
            header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
            extra = header.get("__metadata__", {})
            meta_json = extra[_META_KEY]
            meta = FingerprintMeta.model_validate_json(meta_json)
        except (SafetensorError, ValueError, KeyError, ValidationError) as exc:
            raise FingerprintError(f"{name}: not a readable fingerprint ({type(exc).__name__}: {str(exc)[:200]})") from exc
        if meta.format_version != FORMAT_VERSION:
            raise FingerprintError(f"{name}: fingerprint format {meta.format_version}, this build reads {FORMAT_VERSION}")
        if "bank" not in tensors or extra.get("sha256") != _digest(tensors, meta_json):
            raise FingerprintError(f"{name}: fingerprint is damaged (checksum mismatch)")
        return cls(tensors["bank"], meta, tensors.get("projection"), tensors.get("provenance"))

    @property
    def sha256(self) -> str:
        """Content hash recorded in the header (metadata + tensors): identifies a version."""
        return _digest(self._tensors(), self.meta.model_dump_json())


def _digest(tensors: dict[str, torch.Tensor], meta_json: str) -> str:
    """sha256 over the metadata and the tensors: a changed threshold is damage too."""
    sha = hashlib.sha256(meta_json.encode())
    for name in sorted(tensors):
        sha.update(name.encode())
        sha.update(tensors[name].contiguous().view(torch.uint8).numpy().tobytes())
    return sha.hexdigest()


def check_threshold(value: float) -> float:
    """A usable decision threshold: finite and not negative (scores are distances)."""
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"threshold must be a finite number >= 0, not {value}")
    return float(value)


def now_iso() -> str:
    """Creation time in UTC, ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
