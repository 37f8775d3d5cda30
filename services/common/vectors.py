"""Vector store adapter: one Qdrant collection per fingerprint version, the product's alias on the active one.

The same class serves both deployments over a QdrantClient: a Qdrant server (url), or Qdrant's local
mode (no server binary exists here), in memory by default. Local mode on disk commits each point
separately (about 30 s for a 4096-row bank on this machine, and it pickles), so the embedded server
keeps it in memory and refills it at start from the fingerprint files, which stay the durable
record. Scoring
normally uses the hot in-memory copy of the bank; `nearest` is the store's own kNN path, kept for
the benchmark that compares the two and for services that hold no copy.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np
from qdrant_client import QdrantClient, models


class VectorStore(Protocol):
    """What the services need from a vector database."""

    def write_bank(self, collection: str, bank: np.ndarray) -> None:
        """(Re)create `collection` holding the bank's rows, ids 0..N-1; aliases on an old copy are dropped."""

    def point_alias(self, alias: str, collection: str) -> None:
        """Make `alias` name `collection`, atomically (searches never see no alias)."""

    def nearest(self, name: str, queries: np.ndarray) -> np.ndarray:
        """L2 distance of each query row to its nearest stored row."""

    def read_bank(self, name: str) -> np.ndarray:
        """The stored rows in id order."""

    def drop(self, prefix: str) -> None:
        """Remove every collection and alias whose name starts with prefix."""

    def ping(self) -> None:
        """Raise when the store cannot answer (readiness)."""


class QdrantVectorStore:
    """Qdrant server or local mode. Local mode is not thread-safe: calls are serialised."""

    def __init__(self, url: str | None = None, path: Path | None = None, api_key: str | None = None, upload_batch: int = 1024) -> None:
        """url: a Qdrant server; path: local mode on disk; neither: local mode in memory."""
        if url is not None:
            self.client = QdrantClient(url=url, api_key=api_key)
        else:
            self.client = QdrantClient(path=str(path)) if path is not None else QdrantClient(location=":memory:")
        self.persistent = url is not None or path is not None
        self.upload_batch = upload_batch
        self._lock = threading.Lock()

    def write_bank(self, collection: str, bank: np.ndarray) -> None:
        bank = np.ascontiguousarray(bank, dtype=np.float32)
        with self._lock:
            if self.client.collection_exists(collection):
                self.client.delete_collection(collection)
            params = models.VectorParams(size=int(bank.shape[1]), distance=models.Distance.EUCLID)
            self.client.create_collection(collection, vectors_config=params)
            self.client.upload_collection(collection, vectors=bank, ids=range(bank.shape[0]), batch_size=self.upload_batch, wait=True)

    def point_alias(self, alias: str, collection: str) -> None:
        ops: list = []
        with self._lock:
            if any(a.alias_name == alias for a in self.client.get_aliases().aliases):
                ops.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
            ops.append(models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=collection, alias_name=alias)))
            self.client.update_collection_aliases(change_aliases_operations=ops)

    def nearest(self, name: str, queries: np.ndarray) -> np.ndarray:
        requests = [models.QueryRequest(query=q.tolist(), limit=1) for q in np.asarray(queries, dtype=np.float32)]
        with self._lock:
            answers = self.client.query_batch_points(name, requests=requests)
        return np.array([a.points[0].score for a in answers], dtype=np.float32)

    def read_bank(self, name: str) -> np.ndarray:
        rows: dict[int, list[float]] = {}
        offset = None
        with self._lock:
            while True:
                points, offset = self.client.scroll(name, limit=4096, offset=offset, with_vectors=True, with_payload=False)
                rows.update((int(p.id), p.vector) for p in points)
                if offset is None:
                    break
        return np.array([rows[i] for i in sorted(rows)], dtype=np.float32)

    def drop(self, prefix: str) -> None:
        with self._lock:
            for alias in self.client.get_aliases().aliases:
                if alias.alias_name.startswith(prefix):
                    self.client.update_collection_aliases(
                        change_aliases_operations=[models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias.alias_name))]
                    )
            for collection in self.client.get_collections().collections:
                if collection.name.startswith(prefix):
                    self.client.delete_collection(collection.name)

    def ping(self) -> None:
        with self._lock:
            self.client.get_collections()

    def close(self) -> None:
        with self._lock:
            self.client.close()
