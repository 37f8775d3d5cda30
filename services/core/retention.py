"""Retention: inspection images and score maps kept within an age and a per-tenant byte budget.

A line at 10 parts a second stores about 90 GB of images a day; without a bound the disk fills and
then every new result is lost. The policy removes the oldest images first (their whole object-store
prefix: image, score map and drawn pictures) and keeps every result: decision, score, regions,
labels and webhook history stay in the catalog, and the image answers 410 from then on. Images of
inspections marked as false alarms are evidence for the next fingerprint and are never removed.
Objects go before the row is marked, so a crash in between is finished by the next sweep.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

from services.common.catalog import Catalog
from services.common.metrics import Metrics
from services.common.objects import ObjectStore
from services.core.models import StoredImage

log = logging.getLogger(__name__)

_BATCH = 200  # images removed per catalog round trip


class Retention:
    """max_age_days / max_bytes: None keeps images forever / without a byte bound."""

    def __init__(self, catalog: Catalog, objects: ObjectStore, metrics: Metrics, max_age_days: float | None, max_bytes: int | None, every_s: float) -> None:
        self.catalog = catalog
        self.objects = objects
        self.metrics = metrics
        self.max_age_days = max_age_days
        self.max_bytes = max_bytes
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.max_age_days is not None or self.max_bytes is not None

    def sweep(self, now: datetime | None = None) -> int:
        """Remove what the policy no longer keeps; returns how many inspections lost their image."""
        now = now or datetime.now(timezone.utc)
        removed = 0
        if self.max_age_days is not None:
            before = (now - timedelta(days=self.max_age_days)).isoformat(timespec="microseconds")
            while batch := self.catalog.stored.oldest(_BATCH, before=before):
                removed += self._remove(batch, "age", now)
        usage = self.catalog.stored.usage()
        if self.max_bytes is not None:
            for tenant, used in usage.items():
                while used > self.max_bytes:
                    batch = self.catalog.stored.oldest(_BATCH, tenant=tenant)
                    if not batch:
                        log.warning("tenant over its image budget with nothing removable", extra={"tenant": tenant, "bytes": used, "budget": self.max_bytes})
                        break
                    over, take = used - self.max_bytes, []
                    for stored, key in batch:
                        if over <= 0:
                            break
                        take.append((stored, key))
                        over -= stored.nbytes
                    removed += self._remove(take, "budget", now)
                    used -= sum(stored.nbytes for stored, _ in take)
                usage[tenant] = used
        for tenant, used in usage.items():
            self.metrics.stored_bytes.labels(tenant).set(used)
        return removed

    def _remove(self, batch: list[tuple[StoredImage, str]], reason: str, now: datetime) -> int:
        for stored, image_key in batch:
            self.objects.delete_prefix(image_key.rsplit("/", 1)[0])
            self.metrics.images_removed.labels(stored.tenant, reason).inc()
        self.catalog.stored.removed([stored.inspection_id for stored, _ in batch], now.isoformat(timespec="microseconds"))
        log.info("inspection images removed", extra={"count": len(batch), "reason": reason})
        return len(batch)

    def start(self) -> None:
        """Sweep every every_s seconds in a thread of its own (nothing to do when the policy is off)."""
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
            except Exception:  # a store or catalog that is down: tried again at the next sweep
                log.exception("retention sweep failed")
            self._stop.wait(self.every_s)
