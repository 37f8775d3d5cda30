"""Each fingerprint version's bank as a vector collection with the provenance of every row, kept in step
with the fingerprint files: written by the build, found again (or rebuilt) at start, rebuilt when damaged.

The fingerprint file is the durable record; a collection is derived from it, so a missing or damaged
one costs a rebuild, never a version. Inspections score on the hot bank (services.scorer); the
collection answers the top-k golden patches that explain a defect region.
"""

from __future__ import annotations

import logging

import numpy as np

from goldenshot.bank import PROVENANCE
from goldenshot.fingerprint import Fingerprint, FingerprintError
from services.common.catalog import Catalog
from services.common.objects import ObjectNotFound, ObjectStore
from services.common.vectors import Hit, ShardDamaged, VectorStore
from services.core.errors import Unavailable
from services.core.keys import alias_name
from services.core.models import Version

log = logging.getLogger(__name__)


def bank_payloads(fingerprint: Fingerprint) -> list[dict] | None:
    """Per bank row: its provenance columns and the golden sample's name and sha256 (None: an old file without provenance)."""
    if fingerprint.provenance is None:
        return None
    sources = fingerprint.meta.sources
    out = []
    for row in fingerprint.provenance.tolist():
        payload = dict(zip(PROVENANCE, row))
        source = sources[payload["sample"]]
        out.append({**payload, "name": source.name, "sha256": source.sha256})
    return out


class GoldenPatches:
    """The versions' collections: write, top-k search, and repair from the fingerprint files."""

    def __init__(self, catalog: Catalog, objects: ObjectStore, vectors: VectorStore) -> None:
        self.catalog = catalog
        self.objects = objects
        self.vectors = vectors

    def write(self, collection: str, fingerprint: Fingerprint) -> None:
        self.vectors.write(collection, fingerprint.bank.numpy().astype(np.float32), bank_payloads(fingerprint))

    def rebuild(self, version: Version) -> None:
        """Write the version's collection again from its fingerprint file."""
        try:
            fingerprint = Fingerprint.loads(self.objects.get(version.object_key), version.object_key)
        except (FingerprintError, ObjectNotFound) as exc:
            raise Unavailable(f"fingerprint v{version.version} cannot be read to rebuild its vectors: {exc}", code="fingerprint_unavailable") from exc
        self.write(version.collection, fingerprint)
        log.warning("vector collection %s rebuilt from its fingerprint file", version.collection)

    def top_k(self, version: Version, queries: np.ndarray, k: int) -> list[list[Hit]]:
        """The k nearest bank rows of the version to each query, with provenance; a damaged or missing
        collection is rebuilt first (once)."""
        try:
            if not self.vectors.exists(version.collection):
                self.rebuild(version)
            return self.vectors.search(version.collection, queries, k)
        except ShardDamaged as exc:
            log.error("%s", exc)
        self.rebuild(version)
        return self.vectors.search(version.collection, queries, k)

    def reconcile(self) -> int:
        """At start (in the background): every version's collection present and readable, rebuilt if not;
        each product's alias on its active version. Returns how many were rebuilt; never raises, so a
        damaged store cannot take the server down."""
        rebuilt = 0
        for product in self.catalog.products.all():
            for version in self.catalog.versions.list(product.id):
                try:
                    try:
                        damaged = not self.vectors.exists(version.collection)
                        if not damaged:
                            self.vectors.check(version.collection)
                    except ShardDamaged as exc:
                        log.error("%s", exc)
                        damaged = True
                    if damaged:
                        self.rebuild(version)
                        rebuilt += 1
                    if version.version == product.active_version:
                        self.vectors.point_alias(alias_name(product.id), version.collection)
                except Exception as exc:  # one version's trouble must not stop the others, nor the server
                    log.error("vector collection %s not repaired: %s", version.collection, exc)
        return rebuilt
