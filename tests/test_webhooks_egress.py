"""Webhook deliveries (issue 20): internal targets refused unless allowed, checked when sent; one tenant's
slow receiver does not hold another's; deleted webhooks send nothing more; URLs logged without secrets.
The real sender over a SQLite catalog, posting to real receivers on 127.0.0.1."""

from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.common.catalog import Catalog
from services.common.egress import EgressPolicy, EgressRefused, pinned, safe_url
from services.common.metrics import Metrics
from services.common.webhooks import WebhookSender, WebhookSettings, sign

LOOPBACK = ["127.0.0.1/32"]


class Receiver:
    """Records each POST; `hold` (when given) keeps every answer back until it is set."""

    def __init__(self, status: int = 200, hold: threading.Event | None = None) -> None:
        self.status = status  # what it answers now: set 500 for a receiver that is down
        self.posts: list[dict[str, str]] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append({k.lower(): v for k, v in self.headers.items()})
                receiver.arrived.set()
                if hold is not None:
                    hold.wait(60)
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.http.server_port
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture()
def catalog(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield catalog
    catalog.engine.dispose()


def _sender(catalog: Catalog, allow: list[str], timeout_s: float = 10.0, retry_for_s: float = 180.0, backoff_s: float = 60.0) -> WebhookSender:
    settings = WebhookSettings(timeout_s, retry_for_s=retry_for_s, backoff_s=backoff_s, backoff_max_s=4 * backoff_s, senders=4)
    return WebhookSender(catalog, Metrics(lambda: 0.0, lambda: 0.0), lambda p, i: "{}", settings, EgressPolicy(allow))


def _hooked(catalog: Catalog, tenant: str, url: str, secret: str = "s3cret") -> str:
    product_id = f"p-{tenant}"
    catalog.products.create(product_id, tenant, "tile", "")
    catalog.webhooks.set(product_id, url, secret, "all")
    return product_id


def _queue(catalog: Catalog, product_id: str, inspection_id: str, url: str = "", secret: str = "") -> None:
    catalog.deliveries.enqueue({"product_id": product_id, "inspection_id": inspection_id, "url": url, "secret": secret, "body": "{}"})


def _settled(catalog: Catalog, product_id: str, count: int) -> list:
    for _ in range(200):
        rows = catalog.deliveries.list(product_id)
        if sum(r.delivered or r.failed for r in rows) >= count:
            return rows
        time.sleep(0.05)
    raise AssertionError(f"deliveries not settled: {catalog.deliveries.list(product_id)}")


def test_internal_targets_are_refused_unless_a_setting_names_them():
    closed = EgressPolicy([])
    for url in ("http://localhost/x", "http://[::1]/x", "http://0.0.0.0/x", "http://169.254.169.254/latest/meta-data", "http://2130706433/x",
                "http://0x7f000001/x", "http://[::ffff:127.0.0.1]/x", "http://10.1.2.3/x", "http://127.1/x"):
        with pytest.raises(EgressRefused):
            closed.check_url(url)
    with pytest.raises(EgressRefused):
        closed.resolve("localhost", 80)  # a name: checked on the addresses it resolves to
    closed.check_url("http://line-controller.example/x")  # names are resolved at each delivery, not now
    plant = EgressPolicy(["10.20.0.0/16", "mes.plant.local"])
    plant.check_url("http://10.20.3.4:9000/reject")
    plant.check_url("http://mes.plant.local/reject")
    with pytest.raises(EgressRefused):
        plant.check_url("http://10.21.0.1/x")
    assert safe_url("https://user:pw@mes.example:8443/hook?token=t#f") == "https://mes.example:8443/hook"


def test_delivery_checks_the_address_it_sends_to(catalog):
    receiver = Receiver()
    product_id = _hooked(catalog, "plant-a", f"http://localhost:{receiver.port}/hook")  # stored directly: only the send-time check stands
    _queue(catalog, product_id, "insp-1")
    sender = _sender(catalog, allow=[])
    sender.start()
    try:
        (row,) = _settled(catalog, product_id, 1)
        assert row.failed and "internal address 127.0.0.1" in row.last_error and receiver.posts == []
    finally:
        sender.close()
    _queue(catalog, product_id, "insp-2")
    sender = _sender(catalog, allow=LOOPBACK)
    sender.start()
    try:
        rows = _settled(catalog, product_id, 2)
        assert rows[1].delivered and len(receiver.posts) == 1
        headers = receiver.posts[0]
        assert headers["x-goldenshot-delivery"] == "insp-2" and headers["host"] == f"localhost:{receiver.port}"
        assert headers["x-goldenshot-signature"] == sign("s3cret", headers["x-goldenshot-timestamp"], b"{}")
    finally:
        sender.close()
        receiver.close()


def test_one_tenants_slow_receiver_does_not_hold_another_tenants_webhook(catalog):
    hold = threading.Event()
    slow, fast = Receiver(hold=hold), Receiver()
    a = _hooked(catalog, "plant-a", f"http://127.0.0.1:{slow.port}/hook")
    b = _hooked(catalog, "plant-b", f"http://127.0.0.1:{fast.port}/hook")
    for i in range(3):
        _queue(catalog, a, f"a-{i}")
    _queue(catalog, b, "b-0")
    sender = _sender(catalog, allow=LOOPBACK, timeout_s=60.0)
    sender.start()
    try:
        assert slow.arrived.wait(30)
        # before: one sender thread, held by plant-a's receiver until its timeout
        assert fast.arrived.wait(30) and not hold.is_set()
        assert len(slow.posts) == 1  # plant-a has one delivery in flight, not every sender
    finally:
        hold.set()
        sender.close()
        slow.close()
        fast.close()


def test_a_deleted_webhook_sends_nothing_more_and_old_secrets_are_dropped(catalog):
    receiver = Receiver()
    product_id = _hooked(catalog, "plant-a", f"http://127.0.0.1:{receiver.port}/hook")
    _queue(catalog, product_id, "queued-before-delete", secret="old-secret")
    assert catalog.webhooks.delete(product_id)
    sender = _sender(catalog, allow=LOOPBACK)
    sender.start()
    try:
        (row,) = _settled(catalog, product_id, 1)
        assert row.failed and row.last_error == "the webhook was deleted" and receiver.posts == []
        assert row.secret == ""  # rows no longer keep the secret they were signed with
    finally:
        sender.close()
        receiver.close()


def test_failed_attempts_log_the_url_without_credentials_or_query(catalog, caplog):
    receiver = Receiver(status=500)
    product_id = _hooked(catalog, "plant-a", f"http://mes:hunter2@127.0.0.1:{receiver.port}/hook?token=abc123")
    _queue(catalog, product_id, "insp-1")
    sender = _sender(catalog, allow=LOOPBACK)
    with caplog.at_level(logging.WARNING, logger="services.common.webhooks"):
        sender.start()
        try:
            for _ in range(200):
                if catalog.deliveries.list(product_id)[0].attempts:
                    break
                time.sleep(0.05)
        finally:
            sender.close()
            receiver.close()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"http://127.0.0.1:{receiver.port}/hook" in logged and "hunter2" not in logged and "abc123" not in logged


def test_a_checked_address_is_pinned_into_the_url_with_credentials_and_port_kept():
    assert pinned("rtsp://admin:pw@cam1.plant/stream1?ch=2", "10.30.0.7") == "rtsp://admin:pw@10.30.0.7/stream1?ch=2"
    assert pinned("http://cam2:8080/video.mjpg", "fd00::7") == "http://[fd00::7]:8080/video.mjpg"
    cameras = EgressPolicy(["10.30.0.0/16"], "source", "GOLDENSHOT_SERVER_SOURCE_URL_ALLOW")
    with pytest.raises(EgressRefused) as refused:
        cameras.check_url("rtsp://192.168.1.20/stream1")
    assert refused.value.code == "source_target_refused" and "GOLDENSHOT_SERVER_SOURCE_URL_ALLOW" in refused.value.message
    cameras.check_url("rtsp://10.30.0.7/stream1")  # the cameras' network, allowed


def test_a_receiver_that_was_down_gets_every_result_in_order_once_it_is_back(catalog):
    receiver = Receiver(status=503)
    product_id = _hooked(catalog, "plant-a", f"http://127.0.0.1:{receiver.port}/hook")
    for i in range(5):
        _queue(catalog, product_id, f"insp-{i}")
    sender = _sender(catalog, allow=LOOPBACK, backoff_s=0.05)
    sender.start()
    try:
        for _ in range(200):  # down: the first result is retried, the ones behind it wait their turn
            if catalog.deliveries.list(product_id)[0].attempts >= 3:
                break
            time.sleep(0.05)
        rows = catalog.deliveries.list(product_id)
        assert rows[0].attempts >= 3 and rows[0].state == "pending" and all(r.attempts == 0 for r in rows[1:])
        assert {p["x-goldenshot-delivery"] for p in receiver.posts} == {"insp-0"}
        receiver.status = 200
        rows = _settled(catalog, product_id, 5)
        assert all(r.delivered for r in rows)
        delivered = [p["x-goldenshot-delivery"] for p in receiver.posts[-5:]]
        assert delivered == [f"insp-{i}" for i in range(5)]  # in order, each once
    finally:
        sender.close()
        receiver.close()


def test_a_delivery_is_given_up_after_retry_for_then_replayed(catalog):
    day = WebhookSettings(5.0, 86400.0, 1.0, 600.0, 4)  # the defaults: 1 s doubling to 10 min, for a day
    assert day.wait(1) == 1.0 and day.wait(10) == 512.0 and day.wait(11) == day.wait(500) == 600.0
    assert day.waited(153) >= 86400 > day.waited(152)
    receiver = Receiver(status=500)
    product_id = _hooked(catalog, "plant-a", f"http://127.0.0.1:{receiver.port}/hook")
    _queue(catalog, product_id, "insp-0")
    _queue(catalog, product_id, "insp-1")
    sender = _sender(catalog, allow=LOOPBACK, retry_for_s=0.3, backoff_s=0.1)  # waits 0.1, 0.2: given up at the 2nd
    sender.start()
    try:
        rows = _settled(catalog, product_id, 2)  # a failed head no longer holds the ones behind it
        assert [(r.state, r.attempts) for r in rows] == [("failed", 2), ("failed", 2)] and "HTTP 500" in rows[0].last_error
        receiver.status = 200
        assert catalog.deliveries.replay(product_id) == 2
        rows = _settled(catalog, product_id, 2)
        assert [r.state for r in rows] == ["delivered", "delivered"]
        assert [p["x-goldenshot-delivery"] for p in receiver.posts[-2:]] == ["insp-0", "insp-1"]
        assert catalog.deliveries.replay(product_id, "insp-1") == 1  # one delivered result, sent again
        assert [r.state for r in _settled(catalog, product_id, 2)] == ["delivered", "delivered"]
        assert receiver.posts[-1]["x-goldenshot-delivery"] == "insp-1"
    finally:
        sender.close()
        receiver.close()


def test_results_queued_behind_a_slow_receiver_do_not_spin_the_sender(catalog):
    """A product's head in flight to a receiver that takes its time, with more results queued behind it: the
    sender sleeps until the lease ends or a sender frees. It used to wake on the queued rows (due, but not
    sendable) and loop on a core, which slowed every other tenant's inspections 2-3x (bench_abuse)."""
    hold = threading.Event()
    slow = Receiver(hold=hold)
    product = _hooked(catalog, "plant-a", f"http://127.0.0.1:{slow.port}/hook")
    for i in range(4):
        _queue(catalog, product, f"a-{i}")
    sender = _sender(catalog, allow=LOOPBACK, timeout_s=60.0)
    polls = 0
    looked_up = catalog.deliveries.due_products

    def counted(now: float) -> list[str]:
        nonlocal polls
        polls += 1
        return looked_up(now)

    catalog.deliveries.due_products = counted  # counts the sender loop's rounds
    sender.start()
    try:
        assert slow.arrived.wait(30)
        start = polls
        time.sleep(1.5)
        assert polls - start <= 3, f"{polls - start} rounds in 1.5 s while the head was in flight"
        assert catalog.deliveries.next_at() > time.time() + 30  # the head's lease, not the rows behind it
        assert len(slow.posts) == 1
    finally:
        hold.set()
        sender.close()
        slow.close()
