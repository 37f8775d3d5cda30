"""MES webhooks: each matching inspection is POSTed to the product's URL, signed, retried with backoff.

Deliveries go through an outbox table in the catalog, written in the inspection's transaction, so a restart or a
line controller that is down for a while loses nothing: the sender retries until a 2xx or the
attempt limit. The body is signed with HMAC-SHA256 over "<timestamp>.<body>" so the receiver can
check origin and freshness (reject old timestamps to stop replays).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable

import httpx

from services.common.catalog import Catalog
from services.common.metrics import Metrics
from services.core.models import Delivery, Inspection, Product

log = logging.getLogger(__name__)

EVENTS = ("anomalous", "all")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Goldenshot-Signature value for a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookSender:
    """Background thread draining the outbox: due deliveries are sent, failures rescheduled."""

    def __init__(self, catalog: Catalog, metrics: Metrics, render: Callable[[dict, Inspection], str], timeout: float, attempts: int, backoff: float) -> None:
        self.catalog = catalog
        self.metrics = metrics
        self.render = render  # (product, inspection) -> the API's Inspection JSON
        self.attempts = attempts
        self.backoff = backoff
        self.lease_s = timeout + 5.0  # a claimed row is retried by anyone after this, if its sender died
        self.client = httpx.Client(timeout=timeout, follow_redirects=False)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def delivery(self, product: Product, inspection: Inspection) -> dict | None:
        """The outbox row for an inspection, when the product has a webhook that wants its decision;
        the caller stores it with the inspection (InspectionRepository.add), then calls wake()."""
        hook = self.catalog.webhooks.get(product.id)
        if hook is None or (hook.events == "anomalous" and inspection.decision != "ANOMALOUS"):
            return None
        body = self.render(product, inspection)
        return {"product_id": product.id, "inspection_id": inspection.id, "url": hook.url, "secret": hook.secret, "body": body}

    def wake(self) -> None:
        """Send what was just queued now rather than at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for delivery in self.catalog.deliveries.due(time.time()):
                    if self._stop.is_set():
                        return
                    # several scorer replicas share the outbox: only the one that claims a row sends it
                    if self.catalog.deliveries.claim(delivery, self.lease_s):
                        self._send(delivery)
                upcoming = self.catalog.deliveries.next_at()
            except Exception:  # the catalog may be briefly locked or gone at shutdown
                log.exception("webhook loop")
                upcoming = None
            wait = 1.0 if upcoming is None else min(1.0, max(0.0, upcoming - time.time()))
            self._wake.wait(wait)
            self._wake.clear()

    def _send(self, delivery: Delivery) -> None:
        body = delivery.body.encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Goldenshot-Timestamp": timestamp,
            "X-Goldenshot-Signature": sign(delivery.secret, timestamp, body),
            "X-Goldenshot-Delivery": str(delivery.seq),
        }
        attempts = delivery.attempts + 1
        try:
            response = self.client.post(delivery.url, content=body, headers=headers)
            error = None if response.is_success else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
        if error is None:
            self.catalog.deliveries.update(delivery.seq, attempts=attempts, delivered=True, last_error=None)
            self.metrics.webhooks.labels("delivered").inc()
            return
        failed = attempts >= self.attempts
        next_at = time.time() + self.backoff * 2 ** (attempts - 1)
        self.catalog.deliveries.update(delivery.seq, attempts=attempts, failed=failed, next_at=next_at, last_error=error)
        self.metrics.webhooks.labels("gave_up" if failed else "retry").inc()
        log.warning("webhook %s to %s: %s (attempt %d/%d)", delivery.seq, delivery.url, error, attempts, self.attempts)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self.client.close()
