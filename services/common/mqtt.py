"""The MQTT publisher: each product's results after its sink's cursor, in order, QoS 1, to one broker.

One thread, one connection. It looks for new results every poll_s, and at once when woken (wake(),
called by whoever stores an inspection in this process); the poll stays, for results stored by
other processes of a fleet and for a wake-up that never came. A result counts as delivered when the broker's PUBACK arrives; only then
does the cursor move, so a broker that is down (or restarts) loses nothing: the thread reconnects every
retry_s and resumes at the first result not acknowledged. After a failure the client is thrown away
with whatever paho still queued, so nothing is sent twice from a stale queue (QoS 1 stays at-least-once:
a PUBACK lost on the wire means the broker sees that result again).

Several replicas may run a publisher (the ingest role of a fleet); only the one holding the lease
(services.common.lease) publishes, the others wait to take over.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import paho.mqtt.client as paho

from services.common.catalog import Catalog
from services.common.lease import Lease
from services.core.models import Inspection, MqttSink, Product
from services.core.mqtt import render

log = logging.getLogger(__name__)

Body = Callable[[Product, Inspection], str]
_BATCH = 100
_STANDBY = "standby: another replica publishes"


class MqttUnavailable(OSError):
    """The broker refused, dropped the connection, or did not acknowledge in time."""


class MqttPublisher:
    def __init__(
        self, catalog: Catalog, body: Body, host: str, port: int, client_id: str, username: str | None, password: str | None, poll_s: float, timeout_s: float, retry_s: float,
        lease: Lease,
    ) -> None:
        self.catalog = catalog
        self.lease = lease  # one publisher per fleet
        self.body = body
        self.host, self.port = host, port
        self.client_id = client_id
        self.credentials = (username, password) if username else None
        self.poll_s, self.timeout_s, self.retry_s = poll_s, timeout_s, retry_s
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._woken = threading.Event()  # a result was stored since the last look
        self._thread = threading.Thread(target=self._run, name="mqtt-publisher", daemon=True)
        self._client: paho.Client | None = None

    @property
    def connected(self) -> bool:
        client = self._client
        return client is not None and client.is_connected()

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """A result was just stored: publish it now rather than at the next poll."""
        self._woken.set()

    def close(self) -> None:
        self._stop.set()
        self._woken.set()
        self._thread.join(timeout=self.timeout_s + 5)
        self._drop()
        self.lease.release()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                leader = self.lease.held()
            except Exception as exc:  # noqa: BLE001 - the catalog is down: not the leader until it is back
                log.warning("MQTT publisher lease unknown", extra={"error": str(exc)[:200]})
                leader = False
            if not leader:
                self._drop()
                self.last_error = _STANDBY
                self._stop.wait(self.retry_s)
                continue
            if self.last_error == _STANDBY:
                self.last_error = None
            self._woken.clear()  # a result stored from here on wakes the wait below
            try:
                sinks = self.catalog.mqtt.all()
                sent = sum(self._drain(sink) for sink in sinks) if sinks else 0
            except Exception as exc:  # noqa: BLE001 - a lost broker (paho raises OSError, RuntimeError, ValueError) or catalog: retry, never die
                self.last_error = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
                log.warning("MQTT publishing failed; retrying", extra={"broker": f"{self.host}:{self.port}", "error": self.last_error})
                self._drop()
                self._stop.wait(self.retry_s)
                continue
            if not sent:
                self._woken.wait(self.poll_s)

    def _drain(self, sink: MqttSink) -> int:
        """Publish up to a batch of the sink's waiting results; the number acknowledged."""
        product = self.catalog.products.by_id(sink.product_id)
        if product is None:  # deleted with its results: nothing left to send
            self.catalog.mqtt.delete(sink.product_id)
            return 0
        items = self.catalog.mqtt.pending(sink, _BATCH)
        client = self._connect() if items else None
        for item in items:
            info = client.publish(render(sink.topic, product, item.decision), self.body(product, item), qos=1)
            if info.rc != paho.MQTT_ERR_SUCCESS:
                raise MqttUnavailable(paho.error_string(info.rc))
            info.wait_for_publish(self.timeout_s)
            if not info.is_published():
                raise MqttUnavailable(f"no PUBACK within {self.timeout_s} s")
            self.catalog.mqtt.advance(product.id, item.seq)
        return len(items)

    def _connect(self) -> paho.Client:
        if self._client is not None and self._client.is_connected():
            return self._client
        self._drop()
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=paho.MQTTv311)
        if self.credentials is not None:
            client.username_pw_set(*self.credentials)
        ready = threading.Event()
        client.on_connect = lambda *args: ready.set()
        client.connect(self.host, self.port, keepalive=30)  # refused: ConnectionRefusedError
        client.loop_start()
        self._client = client
        if not ready.wait(self.timeout_s) or not client.is_connected():
            raise MqttUnavailable(f"no CONNACK from {self.host}:{self.port} within {self.timeout_s} s")
        self.last_error = None
        log.info("MQTT broker connected", extra={"broker": f"{self.host}:{self.port}"})
        return client

    def _drop(self) -> None:
        """Forget the client and anything paho still holds for it."""
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()
