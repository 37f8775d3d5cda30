"""Vector store adapter: one collection per fingerprint version (the product's alias on the active one),
and per product a library of past defect regions.

Two implementations behind one small interface:
- EdgeVectorStore (the embedded server): the Qdrant engine in-process (qdrant-edge-py), one persistent
  shard directory per collection under the data dir and the aliases in one JSON file replaced
  atomically. Nothing is refilled at start: shards open on first use. A shard that fails to open, or
  holds fewer points than its manifest says, raises ShardDamaged, and the caller rebuilds it from the
  fingerprint file (services.core.explain.ensure_collection), which stays the durable record.
- QdrantVectorStore (the distributed deployment): a Qdrant server through qdrant-client (in memory
  without a url: the client's local mode, for tests).

Scoring keeps the hot in-memory copy of the bank (services.scorer): one image's 1,024-patch kNN is a
few matmuls there, faster than any store round trip (numbers in docs/vectors.md). The store answers
what a kNN over a bank does not: the top-k golden patches with their provenance, and similar defects.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from qdrant_client import QdrantClient, models

from services.core.errors import BackendUnavailable

log = logging.getLogger(__name__)


class VectorStoreError(BackendUnavailable):
    """The store cannot answer for a collection (missing, damaged, unreachable): a 503, never a crash."""

    backend = "the vector store"


class ShardDamaged(VectorStoreError):
    """An embedded shard is unreadable or incomplete: rebuild it from its source."""


@dataclass(frozen=True)
class Hit:
    """One stored point near a query: its id, L2 distance and payload."""

    id: int | str
    distance: float
    payload: dict[str, Any]


class VectorStore(Protocol):
    """What the services need from a vector database. Distances are L2."""

    def write(self, collection: str, vectors: np.ndarray, payloads: list[dict] | None = None) -> None:
        """(Re)create `collection` holding the rows, ids 0..N-1; readers never see it half written."""

    def upsert(self, collection: str, ids: list[str], vectors: np.ndarray, payloads: list[dict]) -> None:
        """Add or replace points (uuid ids), creating the collection on first use."""

    def point_alias(self, alias: str, collection: str) -> None:
        """Make `alias` name `collection`, atomically (searches never see no alias)."""

    def search(self, name: str, queries: np.ndarray, k: int, where: dict[str, str] | None = None) -> list[list[Hit]]:
        """The k nearest stored points to each query row (optionally only payload[key] == value); [] per
        query when the collection does not exist."""

    def points(self, name: str, where: dict[str, str]) -> tuple[np.ndarray, list[dict]]:
        """The vectors and payloads of the points with payload[key] == value (empty when none)."""

    def set_payload(self, name: str, where: dict[str, str], payload: dict) -> None:
        """Set payload fields on the points with payload[key] == value; nothing when the collection is absent."""

    def read_bank(self, name: str) -> np.ndarray:
        """The stored rows in id order."""

    def exists(self, name: str) -> bool:
        """Whether a collection (or alias) of that name is stored; cheap, opens nothing."""

    def check(self, name: str) -> None:
        """Read the stored collection through once: ShardDamaged when it cannot be."""

    def drop(self, prefix: str) -> None:
        """Remove every collection and alias whose name starts with prefix."""

    def ping(self) -> None:
        """Raise when the store cannot answer (readiness)."""

    def close(self) -> None: ...


def _hit(point: Any) -> Hit:
    """A scored point of either engine as a Hit (uuid ids as strings, the score is the L2 distance)."""
    return Hit(point.id if isinstance(point.id, int) else str(point.id), float(point.score), dict(point.payload or {}))


def nearest(store: VectorStore, name: str, queries: np.ndarray) -> np.ndarray:
    """L2 distance of each query row to its nearest stored row: the store's own kNN."""
    return np.array([hits[0].distance for hits in store.search(name, queries, 1)], dtype=np.float32)


class EdgeVectorStore:
    """Qdrant Edge shards under `root`: root/<collection>/ (shard + manifest.json), root/aliases.json."""

    def __init__(self, root: Path, search_threads: int | None = None) -> None:
        import qdrant_edge  # only the embedded server loads the engine

        self._q = qdrant_edge
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.search_threads = search_threads
        self._open: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._aliases = self._read_aliases()
        for stale in self.root.glob(".tmp-*"):  # a write cut short by a crash
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)

    def _read_aliases(self) -> dict[str, str]:
        try:
            return json.loads((self.root / "aliases.json").read_text())
        except FileNotFoundError:
            return {}
        except ValueError:  # never half written (atomic replace); unreadable means damaged: start empty
            log.error("vector aliases file is unreadable; aliases are pointed again as versions activate")
            return {}

    def _save_aliases(self) -> None:
        tmp = self.root / f".tmp-aliases-{uuid.uuid4().hex}.json"
        tmp.write_text(json.dumps(self._aliases))
        os.replace(tmp, self.root / "aliases.json")

    def _config(self, dim: int) -> Any:
        q = self._q
        return q.EdgeConfig(vectors=q.EdgeVectorParams(size=dim, distance=q.Distance.Euclid), max_search_threads=self.search_threads)

    def _resolve(self, name: str) -> str:
        return self._aliases.get(name, name)

    def _shard(self, name: str, create_dim: int | None = None) -> Any:
        """The open shard of a collection (opening it on first use); None when it does not exist."""
        collection = self._resolve(name)
        shard = self._open.get(collection)
        if shard is not None:
            return shard
        path = self.root / collection
        if not path.is_dir():
            if create_dim is None:
                return None
            shard = self._q.EdgeShard.create(str(path), self._config(create_dim))
            (path / "manifest.json").write_text(json.dumps({"points": None}))
        else:
            shard = self._load(collection, path)
        self._open[collection] = shard
        return shard

    def _load(self, collection: str, path: Path) -> Any:
        try:
            manifest = json.loads((path / "manifest.json").read_text())
            shard = self._q.EdgeShard.load(str(path))
            points = shard.info().points_count
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # the engine raises Exception, or panics (pyo3's PanicException, a BaseException)
            raise ShardDamaged(f"vector shard {collection} is damaged: {type(exc).__name__}: {str(exc)[:200]}") from exc
        expected = manifest.get("points")
        if expected is not None and points != expected:
            shard.close()
            raise ShardDamaged(f"vector shard {collection} holds {points} points, its manifest says {expected}")
        return shard

    def _close(self, collection: str) -> None:
        shard = self._open.pop(collection, None)
        if shard is not None:
            shard.close()

    def _points(self, ids: list, vectors: np.ndarray, payloads: list[dict] | None) -> list:
        q = self._q
        return [q.Point(i, v, payloads[n] if payloads else None) for n, (i, v) in enumerate(zip(ids, vectors.tolist()))]

    def write(self, collection: str, vectors: np.ndarray, payloads: list[dict] | None = None) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        tmp = self.root / f".tmp-{uuid.uuid4().hex}"
        shard = self._q.EdgeShard.create(str(tmp), self._config(int(vectors.shape[1])))
        try:
            for start in range(0, vectors.shape[0], 4096):
                rows = vectors[start : start + 4096]
                part = payloads[start : start + 4096] if payloads else None
                shard.update(self._q.UpdateOperation.upsert_points(self._points(list(range(start, start + len(rows))), rows, part)))
            shard.flush()
        finally:
            shard.close()
        (tmp / "manifest.json").write_text(json.dumps({"points": int(vectors.shape[0]), "dim": int(vectors.shape[1])}))
        with self._lock:  # swap the finished directory in: a reader sees the old shard or the new one
            self._close(collection)
            final = self.root / collection
            if final.exists():
                old = self.root / f".tmp-{uuid.uuid4().hex}"
                os.replace(final, old)
                shutil.rmtree(old, ignore_errors=True)
            os.replace(tmp, final)

    def upsert(self, collection: str, ids: list[str], vectors: np.ndarray, payloads: list[dict]) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._lock:
            shard = self._shard(collection, create_dim=int(vectors.shape[1]))
            shard.update(self._q.UpdateOperation.upsert_points(self._points(ids, vectors, payloads)))
            shard.flush()

    def point_alias(self, alias: str, collection: str) -> None:
        with self._lock:
            self._aliases[alias] = collection
            self._save_aliases()

    def _filter(self, where: dict[str, str] | None) -> Any:
        q = self._q
        return q.Filter(must=[q.FieldCondition(key=key, match=q.MatchValue(value)) for key, value in where.items()]) if where else None

    def search(self, name: str, queries: np.ndarray, k: int, where: dict[str, str] | None = None) -> list[list[Hit]]:
        q = self._q
        queries = np.asarray(queries, dtype=np.float32)
        flt = self._filter(where)
        requests = [q.QueryRequest(limit=k, query=q.Query.Nearest(row), filter=flt, with_payload=True) for row in queries.tolist()]
        with self._lock:  # a rewrite closes the shard it replaces: never under a running query
            shard = self._shard(name)
            if shard is None:
                return [[] for _ in requests]
            answers = shard.query_batch(q.QueryBatchRequest(requests))
        return [[_hit(p) for p in points] for points in answers]

    def points(self, name: str, where: dict[str, str]) -> tuple[np.ndarray, list[dict]]:
        with self._lock:
            shard = self._shard(name)
            records = shard.scroll(self._q.ScrollRequest(limit=10_000, filter=self._filter(where), with_vector=True, with_payload=True))[0] if shard else []
        return np.array([r.vector for r in records], dtype=np.float32), [dict(r.payload or {}) for r in records]

    def set_payload(self, name: str, where: dict[str, str], payload: dict) -> None:
        with self._lock:
            shard = self._shard(name)
            if shard is not None:
                shard.update(self._q.UpdateOperation.set_payload_by_filter(self._filter(where), payload))
                shard.flush()

    def read_bank(self, name: str) -> np.ndarray:
        rows: dict[int, list[float]] = {}
        offset = None
        with self._lock:
            shard = self._shard(name)
            if shard is None:
                raise VectorStoreError(f"no vector collection {name}")
            while True:
                records, offset = shard.scroll(self._q.ScrollRequest(offset=offset, limit=4096, with_vector=True, with_payload=False))
                rows.update((int(r.id), r.vector) for r in records)
                if offset is None:
                    break
        return np.array([rows[i] for i in sorted(rows)], dtype=np.float32)

    def exists(self, name: str) -> bool:
        return (self.root / self._resolve(name)).is_dir()

    def check(self, name: str) -> None:
        collection = self._resolve(name)
        with self._lock:
            if collection not in self._open:  # opened and closed: checking 50 versions keeps none open
                self._load(collection, self.root / collection).close()

    def drop(self, prefix: str) -> None:
        with self._lock:
            self._aliases = {a: c for a, c in self._aliases.items() if not a.startswith(prefix)}
            self._save_aliases()
            for path in self.root.glob(f"{prefix}*"):
                self._close(path.name)
                shutil.rmtree(path, ignore_errors=True)

    def ping(self) -> None:
        if not self.root.is_dir():
            raise VectorStoreError(f"vector directory {self.root} is gone")

    def close(self) -> None:
        with self._lock:
            for collection in list(self._open):
                self._close(collection)


class QdrantVectorStore:
    """A Qdrant server, or qdrant-client's local mode in memory (tests). Local mode is not thread-safe:
    calls are serialised."""

    def __init__(self, url: str | None = None, api_key: str | None = None, upload_batch: int = 1024) -> None:
        """url: a Qdrant server; None: local mode in memory."""
        self.client = QdrantClient(url=url, api_key=api_key) if url is not None else QdrantClient(location=":memory:")
        self.upload_batch = upload_batch
        self._lock = threading.Lock()

    def _create(self, collection: str, dim: int) -> None:
        params = models.VectorParams(size=dim, distance=models.Distance.EUCLID)
        self.client.create_collection(collection, vectors_config=params)

    def write(self, collection: str, vectors: np.ndarray, payloads: list[dict] | None = None) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._lock:
            if self.client.collection_exists(collection):
                self.client.delete_collection(collection)
            self._create(collection, int(vectors.shape[1]))
            self.client.upload_collection(collection, vectors=vectors, payload=payloads, ids=range(vectors.shape[0]), batch_size=self.upload_batch, wait=True)

    def upsert(self, collection: str, ids: list[str], vectors: np.ndarray, payloads: list[dict]) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        with self._lock:
            if not self.client.collection_exists(collection):
                self._create(collection, int(vectors.shape[1]))
            points = [models.PointStruct(id=i, vector=v, payload=p) for i, v, p in zip(ids, vectors.tolist(), payloads)]
            self.client.upsert(collection, points=points, wait=True)

    def point_alias(self, alias: str, collection: str) -> None:
        ops: list = []
        with self._lock:
            if any(a.alias_name == alias for a in self.client.get_aliases().aliases):
                ops.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
            ops.append(models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=collection, alias_name=alias)))
            self.client.update_collection_aliases(change_aliases_operations=ops)

    @staticmethod
    def _filter(where: dict[str, str] | None) -> models.Filter | None:
        return models.Filter(must=[models.FieldCondition(key=key, match=models.MatchValue(value=value)) for key, value in where.items()]) if where else None

    def search(self, name: str, queries: np.ndarray, k: int, where: dict[str, str] | None = None) -> list[list[Hit]]:
        flt = self._filter(where)
        requests = [models.QueryRequest(query=row, limit=k, filter=flt, with_payload=True) for row in np.asarray(queries, dtype=np.float32).tolist()]
        with self._lock:
            if not self.exists(name):
                return [[] for _ in requests]
            answers = self.client.query_batch_points(name, requests=requests)
        return [[_hit(p) for p in a.points] for a in answers]

    def points(self, name: str, where: dict[str, str]) -> tuple[np.ndarray, list[dict]]:
        with self._lock:
            if not self.exists(name):
                return np.zeros((0, 0), dtype=np.float32), []
            records, _ = self.client.scroll(name, scroll_filter=self._filter(where), limit=10_000, with_vectors=True, with_payload=True)
        return np.array([r.vector for r in records], dtype=np.float32), [dict(r.payload or {}) for r in records]

    def set_payload(self, name: str, where: dict[str, str], payload: dict) -> None:
        with self._lock:
            if self.exists(name):
                self.client.set_payload(name, payload=payload, points=self._filter(where), wait=True)

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

    def exists(self, name: str) -> bool:
        return self.client.collection_exists(name) or any(a.alias_name == name for a in self.client.get_aliases().aliases)

    def check(self, name: str) -> None:
        """The server keeps its own storage sound; an unreachable one raises from the client."""
        with self._lock:
            self.client.get_collection(name)

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
