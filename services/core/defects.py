"""The defect library: every anomalous region's embedding (the patch feature at its peak), per product,
searchable for past inspections with similar defects ("seen 14 times this week, last marked false alarm").

Writes go through one background thread after the inspection is stored: the decision never waits
for the vector store, and a store that fails loses a library entry (logged), never the inspection.
Labels: an entry starts "unreviewed" and follows the inspection's label (confirmed_defect, false_alarm, missed_defect).
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from goldenshot.fingerprint import Fingerprint, FingerprintError
from services.common.catalog import Catalog
from services.common.objects import ObjectNotFound, ObjectStore
from services.common.vectors import ShardDamaged, VectorStore
from services.core.keys import defects_name
from services.core.models import Inspection

log = logging.getLogger(__name__)
T = TypeVar("T")
UNREVIEWED = "unreviewed"
WRITE_BATCH = 64  # queued inspections written at once, at most
_IDS = uuid.UUID("5b1f0c1e-2f0a-4c55-9d0e-6a1f3c9e7d21")  # namespace of the entries' ids: one per (inspection, region)


def feature_space(fingerprint: Fingerprint) -> str:
    """A short name for the space a fingerprint's features live in: only equal spaces compare."""
    meta = fingerprint.meta
    sha = hashlib.sha256(json.dumps([meta.backbone, meta.weights_sha256, list(meta.taps), meta.feature_dim]).encode())
    if fingerprint.projection is not None:
        sha.update(fingerprint.projection.float().contiguous().numpy().tobytes())
    return sha.hexdigest()[:16]


@dataclass(frozen=True)
class SimilarDefect:
    """A past inspection whose defect lies near one of this inspection's regions."""

    inspection: Inspection
    distance: float  # L2 between the two regions' peak-patch features
    region: int  # index of this inspection's region
    matched_region: int  # index of the past inspection's region


@dataclass(frozen=True)
class DefectKind:
    """Regions of past inspections that lie close together: one recurring defect."""

    regions: int
    inspections: int
    first_seen: str
    last_seen: str
    labels: dict[str, int]  # regions per label (unreviewed, false_alarm, ...)
    example: tuple[str, int]  # (inspection id, region) of the region nearest the kind's centre
    spread: float  # mean distance of its regions to that centre


class DefectLibrary:
    """Per product and feature space, one collection of region embeddings with inspection id, time and label."""

    def __init__(self, catalog: Catalog, objects: ObjectStore, vectors: VectorStore, backlog: int = 1000) -> None:
        self.catalog = catalog
        self.objects = objects
        self.vectors = vectors
        self._queue: queue.Queue = queue.Queue(backlog)
        self._spaces: dict[tuple[str, int], str] = {}  # (product id, version) -> feature space
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="defect-library", daemon=True)
        self._thread.start()

    def submit(self, inspection: Inspection, features: np.ndarray, fingerprint: Fingerprint) -> None:
        """Queue an anomalous inspection's region features [regions, D]; never blocks the caller."""
        if self._thread is None or not len(features):
            return
        try:
            self._queue.put_nowait((inspection, features, fingerprint))
        except queue.Full:
            log.warning("defect library backlog full: inspection %s not recorded", inspection.id)

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            while len(items) < WRITE_BATCH and items[-1] is not None:  # what queued meanwhile goes in the same write
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.record([item for item in items if item is not None])
            except Exception as exc:  # the inspections are stored already; only their library entries are lost
                log.error("defect library: inspections %s not recorded: %s", ", ".join(item[0].id for item in items if item is not None), exc)
            finally:
                for _ in items:
                    self._queue.task_done()
            if items[-1] is None:
                return

    def wait(self) -> None:
        """Until every queued entry is written (tests, shutdown)."""
        self._queue.join()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def space(self, product_id: str, version: int, fingerprint: Fingerprint | None = None) -> str | None:
        """The feature space of a version (cached); None when its fingerprint cannot be read."""
        key = (product_id, version)
        if key not in self._spaces:
            if fingerprint is None:
                try:
                    stored = self.catalog.versions.get(product_id, version)
                    fingerprint = Fingerprint.loads(self.objects.get(stored.object_key), stored.object_key)
                except (FingerprintError, ObjectNotFound) as exc:
                    log.error("feature space of v%d unknown: %s", version, exc)
                    return None
            self._spaces[key] = feature_space(fingerprint)
        return self._spaces[key]

    def _use(self, name: str, call: Callable[[], T]) -> T:
        """A damaged library shard cannot be derived again (the features live nowhere else): it is dropped
        and the library starts again empty, so the server and its other answers go on."""
        try:
            return call()
        except ShardDamaged as exc:
            log.error("%s: the defect library %s starts again empty", exc, name)
            self.vectors.drop(name)
            return call()

    def record(self, items: Sequence[tuple[Inspection, np.ndarray, Fingerprint]]) -> None:
        """Write one entry per region of each (inspection, region features, fingerprint); ids derive from
        inspection and region, so a retry replaces, never doubles. The entries of one collection go in one
        write: a write costs about as much for one region as for a hundred (1.3 ms of CPU, most of it the
        flush), which a busy server would otherwise pay per anomalous inspection."""
        writes: dict[str, tuple[list[str], list[np.ndarray], list[dict]]] = {}
        for inspection, features, fingerprint in items:
            name = defects_name(inspection.product_id, self.space(inspection.product_id, inspection.version, fingerprint))
            ids, vectors, payloads = writes.setdefault(name, ([], [], []))
            label = inspection.feedback or UNREVIEWED
            for i in range(len(features)):
                ids.append(str(uuid.uuid5(_IDS, f"{inspection.id}/{i}")))
                payloads.append({"inspection_id": inspection.id, "region": i, "created_at": inspection.created_at, "version": inspection.version, "label": label})
            vectors.append(features)
        for name, (ids, vectors, payloads) in writes.items():  # one collection failing leaves the others written
            try:
                self._use(name, lambda: self.vectors.upsert(name, ids, np.concatenate(vectors), payloads))
            except Exception as exc:
                log.error("defect library: inspections %s not recorded: %s", ", ".join(sorted({p["inspection_id"] for p in payloads})), exc)

    def regions(self, inspection: Inspection) -> tuple[np.ndarray, list[dict]]:
        """The stored embeddings of an inspection's regions, in region order (empty when not recorded)."""
        space = self.space(inspection.product_id, inspection.version) if inspection.version else None
        if space is None:
            return np.zeros((0, 0), dtype=np.float32), []
        name = defects_name(inspection.product_id, space)
        vectors, payloads = self._use(name, lambda: self.vectors.points(name, {"inspection_id": inspection.id}))
        order = np.argsort([p["region"] for p in payloads]) if payloads else []
        return vectors[order], [payloads[i] for i in order]

    def label(self, inspection: Inspection, label: str | None) -> None:
        """Follow the inspection's feedback, so the library can be grouped by label."""
        space = self.space(inspection.product_id, inspection.version) if inspection.version else None
        if space is not None:
            name = defects_name(inspection.product_id, space)
            self._use(name, lambda: self.vectors.set_payload(name, {"inspection_id": inspection.id}, {"label": label or UNREVIEWED}))

    def kinds(self, product_id: str, version: int, scale: float, newest: int) -> list[DefectKind]:
        """The newest `newest` regions of the version's feature space grouped into kinds, largest first.

        Average-linkage clustering cut at `scale`, the version's decision threshold: two defects are one
        kind when they are closer to each other than a defect has to be from every good patch, a scale
        each product sets for itself, so nothing is tuned to one product."""
        space = self.space(product_id, version)
        if space is None:
            return []
        name = defects_name(product_id, space)
        vectors, payloads = self._use(name, lambda: self.vectors.points(name, {}))
        order = sorted(range(len(payloads)), key=lambda i: str(payloads[i].get("created_at")), reverse=True)[:newest]
        if not order:
            return []
        vectors, payloads = vectors[order], [payloads[i] for i in order]
        groups = np.zeros(len(order), dtype=int)
        if len(order) > 1:
            groups = AgglomerativeClustering(n_clusters=None, distance_threshold=scale, linkage="average").fit_predict(vectors)
        kinds = [_kind(vectors[groups == g], [p for p, member in zip(payloads, groups == g) if member]) for g in np.unique(groups)]
        return sorted(kinds, key=lambda k: (k.regions, k.last_seen), reverse=True)  # largest, then most recent

    def similar(self, inspection: Inspection, limit: int) -> list[SimilarDefect]:
        """Past inspections of the product with a region nearest to one of this one's, nearest first,
        each once; [] when this inspection has no recorded regions or the product no history."""
        vectors, _ = self.regions(inspection)
        if not len(vectors):
            return []
        name = defects_name(inspection.product_id, self.space(inspection.product_id, inspection.version))
        hits = self._use(name, lambda: self.vectors.search(name, vectors, limit + len(vectors)))
        best: dict[str, tuple[float, int, int]] = {}
        for region, found in enumerate(hits):
            for hit in found:
                other = str(hit.payload.get("inspection_id"))
                if other != inspection.id and (other not in best or hit.distance < best[other][0]):
                    best[other] = (hit.distance, region, int(hit.payload.get("region", 0)))
        ranked = sorted(best.items(), key=lambda item: item[1][0])[:limit]
        stored = {i.id: i for i in self.catalog.inspections.many(inspection.product_id, [i for i, _ in ranked])}
        return [SimilarDefect(stored[i], d, r, m) for i, (d, r, m) in ranked if i in stored]  # deleted ones drop out


def _kind(vectors: np.ndarray, payloads: list[dict]) -> DefectKind:
    centre = vectors.mean(axis=0)
    distances = np.linalg.norm(vectors - centre, axis=1)
    nearest = payloads[int(distances.argmin())]
    seen = sorted(str(p.get("created_at")) for p in payloads)
    labels = Counter(str(p.get("label", UNREVIEWED)) for p in payloads)
    return DefectKind(
        regions=len(payloads), inspections=len({p.get("inspection_id") for p in payloads}), first_seen=seen[0], last_seen=seen[-1],
        labels=dict(labels), example=(str(nearest.get("inspection_id")), int(nearest.get("region", 0))), spread=float(distances.mean()),
    )
