"""MES webhooks: each matching inspection is POSTed to the product's URL, signed, retried with backoff.

Deliveries go through an outbox table in the catalog, written in the inspection's transaction, so a restart or a
line controller that is down for a while loses nothing: the sender retries with capped exponential
backoff for retry_for_s (a day by default), one product's deliveries strictly in order (a later result
waits behind an earlier one that has not gone through), and what is given up stays listed for an
operator to replay (services.core.products). The body is signed with HMAC-SHA256 over "<timestamp>.<body>" so the receiver can
check origin and freshness (reject old timestamps to stop replays).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from services.common.catalog import Catalog
from services.common.egress import EgressPolicy, EgressRefused, safe_url
from services.common.metrics import Metrics
from services.core.models import Delivery, Inspection, Product

log = logging.getLogger(__name__)

EVENTS = ("anomalous", "all")


@dataclass(frozen=True)
class WebhookSettings:
    timeout_s: float
    retry_for_s: float  # how long a delivery is retried before it is given up
    backoff_s: float  # the first wait; doubles after each failed attempt
    backoff_max_s: float  # up to this
    senders: int  # deliveries in flight at once, each tenant at most one

    def wait(self, attempts: int) -> float:
        """Seconds before the next try after `attempts` failed ones."""
        return min(self.backoff_s * 2.0 ** min(attempts - 1, 60), self.backoff_max_s)

    def waited(self, attempts: int) -> float:
        """Seconds the backoff schedule has spent after `attempts` failed tries (send times not counted):
        a delivery is given up once this passes retry_for_s, with no clock stored per row."""
        return sum(self.wait(n) for n in range(1, attempts + 1))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Goldenshot-Signature value for a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookSender:
    """Background thread dispatching the outbox to a few sender threads, fairly: each tenant has at most
    one delivery in flight, so one tenant's slow or dead receiver holds one sender, never all of them.
    Every target is resolved and checked against the egress policy when it is sent (services.common.egress)."""

    def __init__(
        self, catalog: Catalog, metrics: Metrics, render: Callable[[dict, Inspection], str], settings: WebhookSettings, policy: EgressPolicy
    ) -> None:
        self.catalog = catalog
        self.metrics = metrics
        self.render = render  # (product, inspection) -> the API's Inspection JSON
        self.policy = policy
        self.settings = settings
        self.lease_s = settings.timeout_s + 5.0  # a claimed row is retried by anyone after this, if its sender died
        self.client = httpx.Client(timeout=settings.timeout_s, follow_redirects=False)
        self._senders = ThreadPoolExecutor(settings.senders, thread_name_prefix="webhook")
        self._free = settings.senders
        self._busy: set[str] = set()  # tenants with a delivery in flight
        self._tenants: dict[str, str | None] = {}  # product id -> tenant (never changes)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="webhooks", daemon=True)

    def start(self) -> None:
        self.catalog.deliveries.forget_secrets()  # rows of older versions kept the secret they were signed with
        self._thread.start()

    def delivery(self, product: Product, inspection: Inspection) -> dict | None:
        """The outbox row for an inspection, when the product has a webhook that wants its decision;
        the caller stores it with the inspection (InspectionRepository.add), then calls wake(). The
        secret is not copied: each attempt signs with the product's current one."""
        hook = self.catalog.webhooks.get(product.id)
        if hook is None or (hook.events == "anomalous" and inspection.decision != "ANOMALOUS"):
            return None
        body = self.render(product, inspection)
        return {"product_id": product.id, "inspection_id": inspection.id, "url": hook.url, "secret": "", "body": body}

    def wake(self) -> None:
        """Send what was just queued now rather than at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                waiting = self._dispatch()
                upcoming = self.catalog.deliveries.next_at()
            except Exception:  # the catalog may be briefly locked or gone at shutdown
                log.exception("webhook loop")
                upcoming, waiting = None, False
            # due rows whose tenant is busy wait for a sender to finish (it wakes this loop), not a spin
            wait = 1.0 if upcoming is None or waiting else min(1.0, max(0.0, upcoming - time.time()))
            self._wake.wait(wait)
            self._wake.clear()

    def _dispatch(self) -> bool:
        """Hand due deliveries to free senders, one per tenant at a time, each product's oldest pending
        one only (in order), the most overdue product first;
        True when some stay due (their tenant busy or no sender free)."""
        waiting = False
        now = time.time()
        for product_id in self.catalog.deliveries.due_products(now):
            tenant = self._tenant(product_id)
            with self._lock:
                if self._stop.is_set() or self._free == 0 or tenant in self._busy:
                    waiting = True
                    continue
            delivery = self.catalog.deliveries.first_due(product_id, now)
            # several scorer replicas share the outbox: only the one that claims a row sends it
            if delivery is None or not self.catalog.deliveries.claim(delivery, self.lease_s):
                continue
            with self._lock:
                self._free -= 1
                self._busy.add(tenant)
            self._senders.submit(self._deliver, delivery, tenant)
        return waiting

    def _tenant(self, product_id: str) -> str:
        if product_id not in self._tenants:
            product = self.catalog.products.by_id(product_id)
            self._tenants[product_id] = product.tenant if product is not None else f"deleted:{product_id}"
        return self._tenants[product_id]

    def _deliver(self, delivery: Delivery, tenant: str) -> None:
        try:
            self._send(delivery)
        except Exception:
            log.exception("webhook %s", delivery.inspection_id)
        finally:
            with self._lock:
                self._free += 1
                self._busy.discard(tenant)
            self._wake.set()

    def _send(self, delivery: Delivery) -> None:
        hook = self.catalog.webhooks.get(delivery.product_id)
        if hook is None:  # deleted since: its queued POSTs are dropped, never sent with an old secret
            self.catalog.deliveries.update(delivery.seq, failed=True, last_error="the webhook was deleted")
            self.metrics.webhooks.labels("dropped").inc()
            return
        body = delivery.body.encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Goldenshot-Timestamp": timestamp,
            "X-Goldenshot-Signature": sign(hook.secret, timestamp, body),
            "X-Goldenshot-Delivery": delivery.inspection_id,  # stable across retries, unique, says nothing of other tenants
        }
        attempts = delivery.attempts + 1
        try:
            url, extensions = self._pinned(hook.url, headers)
            response = self.client.post(url, content=body, headers=headers, extensions=extensions)
            error = None if response.is_success else f"HTTP {response.status_code}"
        except EgressRefused as exc:  # a policy answer, not a network failure: retrying changes nothing
            self.catalog.deliveries.update(delivery.seq, attempts=attempts, failed=True, last_error=exc.message[:300])
            self.metrics.webhooks.labels("refused").inc()
            log.warning("webhook %s to %s refused: %s", delivery.inspection_id, safe_url(hook.url), exc.message)
            return
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
        if error is None:
            self.catalog.deliveries.update(delivery.seq, attempts=attempts, delivered=True, last_error=None)
            self.metrics.webhooks.labels("delivered").inc()
            return
        failed = self.settings.waited(attempts) >= self.settings.retry_for_s
        next_at = time.time() + self.settings.wait(attempts)
        self.catalog.deliveries.update(delivery.seq, attempts=attempts, failed=failed, next_at=next_at, last_error=error)
        self.metrics.webhooks.labels("gave_up" if failed else "retry").inc()
        log.warning("webhook %s to %s: %s (attempt %d%s)", delivery.inspection_id, safe_url(hook.url), error, attempts, ", given up" if failed else "")

    def _pinned(self, url: str, headers: dict[str, str]) -> tuple[str, dict[str, str]]:
        """The URL with its host replaced by the checked address (the Host header and TLS name keep the
        name), so nothing resolves the name again between the check and the connection."""
        parts = httpx.URL(url)
        address = self.policy.resolve(parts.host, parts.port or (443 if parts.scheme == "https" else 80))
        headers["Host"] = parts.netloc.decode("ascii").rsplit("@", 1)[-1]
        return str(parts.copy_with(host=address)), {"sni_hostname": parts.host} if parts.scheme == "https" else {}

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self._senders.shutdown(wait=True, cancel_futures=True)
        self.client.close()
