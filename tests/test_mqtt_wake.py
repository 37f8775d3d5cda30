"""The MQTT publisher woken by a stored result (real SQLite catalog, real mosquitto on 127.0.0.1):
published at once, not at its next poll."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mqtt_broker import MOSQUITTO, Mosquitto, subscriber
from test_catalog import _inspection

from services.common.catalog import Catalog
from services.common.lease import Lease
from services.common.mqtt import MqttPublisher
from services.core.mqtt import MqttSinks


def test_a_woken_publisher_sends_a_stored_result_long_before_its_poll(tmp_path):
    if not Path(MOSQUITTO).is_file():
        pytest.fail(f"{MOSQUITTO} missing: apt-get install -y mosquitto (make mosquitto)")
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.products.create("p", "default", "tile", "")
    MqttSinks(catalog).set(catalog.products.by_id("p"), "plant/{product}", "all")
    broker = Mosquitto(tmp_path).start()
    publisher = MqttPublisher(
        catalog, lambda product, row: row.id, "127.0.0.1", broker.port, "wake-test", None, None, poll_s=60.0, timeout_s=5.0, retry_s=0.5,
        lease=Lease(catalog.engine, "mqtt-publisher"),
    )
    try:
        with subscriber(broker.port, "plant/#") as received:
            publisher.start()
            time.sleep(2.0)  # its first look found nothing: the next poll is a minute away
            catalog.inspections.add(_inspection("1" * 32))
            time.sleep(1.0)
            assert received == []  # not woken: nothing looks before the poll
            woken = time.perf_counter()
            publisher.wake()
            deadline = time.monotonic() + 10
            while not received and time.monotonic() < deadline:
                time.sleep(0.01)
            assert [payload for _, payload, _ in received] == [b"1" * 32]
            assert received[0][2] - woken < 2.0
    finally:
        publisher.close()
        broker.stop()
        catalog.engine.dispose()
