"""Score uploads against a product's active fingerprint and store the result.

The active bank is kept hot: an Inspector (bank + squared norms) per product, built once per version
from the fingerprint artifact and dropped when another version becomes active, so an inspection is
one backbone pass and a few matmuls. The map is stored at the working size; services/core/pictures.py
draws the PNGs on first request, which keeps encoding out of the inspection's latency.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager

import numpy as np
import torch
from safetensors.torch import save

from goldenshot.features import FeatureExtractor
from goldenshot.fingerprint import Fingerprint, FingerprintError
from goldenshot.images import ImageError
from goldenshot.inspector import Inspection as Result
from goldenshot.inspector import Inspector
from goldenshot.settings import Settings
from services.common.admission import DecodeBudget, FairSlots, header_pixels
from services.common.catalog import Catalog
from services.common.metrics import Metrics
from services.common.names import new_id
from services.common.objects import ObjectNotFound, ObjectStore
from services.common.webhooks import WebhookSender
from services.core.defects import DefectLibrary
from services.core.drift import DriftMonitor
from services.core.errors import Conflict, InvalidImage, Unavailable
from services.core.keys import inspection_prefix
from services.core.models import Inspection, Product, StoredImage
from services.core.tables import now_iso

log = logging.getLogger(__name__)


def active_version(product: Product) -> int:
    """The version inspections use; a product without one cannot be inspected yet."""
    if product.active_version is None:
        raise Conflict(f"product '{product.name}' has no fingerprint yet: upload golden samples and build one", code="no_fingerprint")
    return product.active_version


class Scorer:
    """Hot inspectors (LRU over products) and the inspect -> store path."""

    def __init__(
        self,
        catalog: Catalog,
        objects: ObjectStore,
        extractor: FeatureExtractor,
        settings: Settings,
        metrics: Metrics,
        slots: int,
        hot_products: int,
        webhooks: WebhookSender,
        budget: DecodeBudget,
        defects: DefectLibrary,
        drift: DriftMonitor,
        stored: Callable[[], None] | None,
    ) -> None:
        self.stored = stored  # told after each inspection is stored: the MQTT publisher sends it now, not at its next poll
        self.drift = drift  # refreshes the drift gauge every drift.settings.every inspections of a product
        self._since_drift: dict[str, int] = {}
        self._drifting: set[str] = set()  # products flagged at the last refresh: a log line when that changes
        self.defects = defects  # where anomalous regions' embeddings go after the inspection is stored
        self.catalog = catalog
        self.objects = objects
        self.extractor = extractor
        self.settings = settings
        self.metrics = metrics
        self.webhooks = webhooks
        self.hot_products = hot_products
        self._hot: OrderedDict[str, tuple[int, Inspector]] = OrderedDict()
        self._hot_lock = threading.Lock()
        self._slots = FairSlots(slots)
        self.budget = budget

    def inspector(self, product: Product) -> tuple[int, Inspector]:
        """The product's active version, hot; loading a new one replaces the old."""
        version = active_version(product)
        with self._hot_lock:
            hot = self._hot.get(product.id)
            if hot is not None and hot[0] == version:
                self._hot.move_to_end(product.id)
                return hot
        stored = self.catalog.versions.get(product.id, version)
        try:
            fingerprint = Fingerprint.loads(self.objects.get(stored.object_key), f"{product.name} v{version}")
            inspector = Inspector(self.extractor, fingerprint)
        except (FingerprintError, ObjectNotFound) as exc:
            raise Unavailable(f"fingerprint v{version} of '{product.name}' cannot be used: {exc}", code="fingerprint_unavailable") from exc
        with self._hot_lock:
            self._hot[product.id] = (version, inspector)
            self._hot.move_to_end(product.id)
            while len(self._hot) > self.hot_products:
                self._hot.popitem(last=False)
        return version, inspector

    def ready(self, product: Product) -> int:
        """The active version, loaded hot so the first inspection does not wait for it."""
        return self.inspector(product)[0]

    def slot(self, tenant: str) -> AbstractContextManager[None]:
        """One inference slot, in the tenant's turn: other work that runs the backbone (a replay) takes turns
        with inspections, and tenants with each other."""
        return self._slots.hold(tenant)

    def forget(self, product_id: str) -> None:
        with self._hot_lock:
            self._hot.pop(product_id, None)

    def inspect(
        self, product: Product, data: bytes, filename: str, batch_id: str | None = None, inspection_id: str | None = None, *, credentials: str | None = None
    ) -> Inspection:
        """Decode, score, store image + map + record; returns the stored inspection. credentials: unused here,
        the caller's key was checked already (services.core.scoring.Scorer)."""
        version, inspector = self.inspector(product)
        ignore = self.catalog.masks.get(product.id).shapes  # read each time: a saved mask applies from the next inspection
        # the decoded pixels count against the budget from before decoding until they are dropped; a batch
        # item waits for room, a request waits a while and then answers 503
        with self.budget.hold(header_pixels(data), product.tenant, wait=batch_id is not None) as decoding:
            started = time.perf_counter()
            try:  # near the working size; charged to the tenant's decoding share, the inference not
                image, size = decoding.run(lambda: inspector.decode(data, filename, self.settings.limits.max_pixels))
            except ImageError as exc:
                raise InvalidImage(str(exc)) from exc
            decode_ms = (time.perf_counter() - started) * 1000.0
            # Triton down: TritonUnavailable, a BackendUnavailable (503)
            if decoding.lane is None:
                result = inspector.inspect(image, size, ignore, hold=self._slots.hold(product.tenant))
            else:  # bulk work (a huge photo, a tenant over its share): all of it in the lane, beside the slot, never holding it
                result = decoding.lane.run(lambda: inspector.inspect(image, size, ignore))
            del image
        result.timings_ms = {"decode": decode_ms, **result.timings_ms}
        inspection = self.store(product, version, data, filename, result, batch_id, inspection_id)
        if result.region_features is not None:
            self.defects.submit(inspection, result.region_features, inspector.fingerprint)
        return inspection

    def _regions(self, product: Product, result: Result) -> list[dict]:
        """The result's regions as stored, each nearest golden patch with the golden sample's id (looked up
        by sha256 once per anomalous inspection; None when that sample was deleted since the build)."""
        regions = [r.to_dict() for r in result.regions]
        if any("nearest_golden" in r for r in regions):
            ids = {g.sha256: g.id for g in self.catalog.golden.list(product.id)}
            for region in regions:
                if "nearest_golden" in region:
                    region["nearest_golden"] = {**region["nearest_golden"], "golden_id": ids.get(region["nearest_golden"]["sha256"])}
        return regions

    def store(
        self, product: Product, version: int, data: bytes, filename: str, result: Result, batch_id: str | None = None, inspection_id: str | None = None
    ) -> Inspection:
        """Keep image, map and record of a result (version 0: a zero-shot batch); returns the stored inspection."""
        stored = time.perf_counter()
        inspection_id = inspection_id or new_id()
        prefix = inspection_prefix(product.id, inspection_id)
        height, width = result.size
        inspection = Inspection(
            id=inspection_id,
            product_id=product.id,
            version=version,
            decision=result.decision,
            score=float(result.score),
            threshold=float(result.threshold),
            pixel_threshold=float(result.pixel_threshold),
            regions=self._regions(product, result),
            filename=filename,
            width=int(width),
            height=int(height),
            image_key=f"{prefix}/image",
            map_key=f"{prefix}/map",
            batch_id=batch_id,
            feedback=None,
            timings_ms={k: round(v, 3) for k, v in result.timings_ms.items()},
            created_at=now_iso(),
        )
        try:
            score_map = save({"map": torch.from_numpy(result.working_map.astype(np.float16))})
            self.objects.put(inspection.image_key, data)
            self.objects.put(inspection.map_key, score_map)
            delivery = self.webhooks.delivery(product, inspection)
            kept = StoredImage(inspection_id=inspection_id, product_id=product.id, tenant=product.tenant, nbytes=len(data) + len(score_map), created_at=inspection.created_at)
            self.catalog.inspections.add(inspection, delivery, kept)  # with its webhook delivery and size, in one transaction
        except Exception:  # disk full, store down: no half-stored result stays behind
            try:
                self.objects.delete_prefix(prefix)
            except Exception:
                log.warning("could not remove the partial inspection %s", prefix)
            raise
        timings = {**inspection.timings_ms, "store": round((time.perf_counter() - stored) * 1000.0, 3)}  # the answer's, not the record's
        self.metrics.observe_stages(timings)
        self.metrics.inspections.labels(product.tenant, product.name, result.decision).inc()
        if delivery is not None:
            self.webhooks.wake()
        if self.stored is not None:
            self.stored()
        if version > 0:  # a zero-shot batch has no golden scores to drift from
            self._watch_drift(product)
        return inspection.model_copy(update={"timings_ms": timings})

    def _watch_drift(self, product: Product) -> None:
        """Refresh the product's drift gauge every few inspections: one small query, not one per inspection."""
        with self._hot_lock:
            count = self._since_drift.get(product.id, 0) + 1
            due = count >= self.drift.settings.every
            self._since_drift[product.id] = 0 if due else count
        if not due:
            return
        try:
            drift = self.drift.of(product)
        except Exception as exc:  # the inspection is stored; a stale gauge is the lesser harm
            log.warning("drift not refreshed", extra={"product": product.name, "error": str(exc)})
            return
        if drift.ratio is not None:
            self.metrics.drift.labels(product.tenant, product.name).set(drift.ratio)
        with self._hot_lock:
            changed = drift.flagged != (product.id in self._drifting)
            if drift.flagged:
                self._drifting.add(product.id)
            else:
                self._drifting.discard(product.id)
        if changed:
            extra = {"product": product.name, "tenant": product.tenant, "ratio": round(drift.ratio or 0.0, 3), "direction": drift.direction}
            log.warning("scores drifted from the golden samples" if drift.flagged else "drift cleared", extra=extra)
