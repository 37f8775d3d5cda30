"""Object store adapter: image, map and fingerprint bytes under keys.

Embedded: a local directory (LocalObjectStore). Distributed: S3 (MinIO), same interface. Keys are
made by the services from validated ids ("products/<id>/golden/<id>"), never from client text;
the local store still refuses any key that could leave its root.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Protocol

from goldenshot.atomic import atomic_path
from services.core.errors import BackendUnavailable

_KEY = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


class ObjectNotFound(KeyError):
    """No object under that key."""


class StoreUnavailable(BackendUnavailable):
    """The object store cannot be reached or refused the request (down, timed out, bad credentials)."""

    backend = "the object store"


class ObjectStore(Protocol):
    """What the services need from blob storage."""

    def put(self, key: str, data: bytes) -> None:
        """Store bytes under key, replacing what was there; atomic: readers see old or new."""

    def get(self, key: str) -> bytes:
        """The bytes under key; ObjectNotFound when there are none, StoreUnavailable when the store fails."""

    def delete(self, key: str) -> None:
        """Remove one object; a missing one is not an error."""

    def delete_prefix(self, prefix: str) -> None:
        """Remove every object whose key starts with prefix + '/' (a product, an inspection)."""

    def ping(self) -> None:
        """Raise when the store cannot be used (readiness)."""


def check_key(key: str) -> str:
    """Relative, slash-separated, no '..' segments: a key can never name a path outside the store."""
    if not _KEY.fullmatch(key) or any(part in (".", "..") for part in key.split("/")):
        raise ValueError(f"bad object key {key!r}")
    return key


class LocalObjectStore:
    """Objects as files under a root directory; writes go through atomic_path (temp, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)

    def ping(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise OSError(f"object store {self.root} is not writable")
