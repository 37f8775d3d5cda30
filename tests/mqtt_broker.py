"""A real mosquitto on 127.0.0.1 (started and stopped by PID) and a durable QoS 1 subscriber, for the
MQTT sink's tests and bench/bench_line.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as paho

from serving import free_port

MOSQUITTO = "/usr/sbin/mosquitto"


class Mosquitto:
    """A real broker on 127.0.0.1 with persistence, so a durable subscriber's session survives its restart."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {folder}/\n"
            f"user root\nlog_dest file {folder}/mosquitto.log\n"
        )

    def start(self) -> Mosquitto:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                assert self.proc.poll() is None, (self.folder / "mosquitto.log").read_text()
                time.sleep(0.1)
        raise TimeoutError("mosquitto did not listen")

    def stop(self) -> None:
        """SIGTERM by PID: mosquitto saves its sessions and exits."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(20)
        self.proc = None


@contextmanager
def subscriber(port: int, topic: str) -> Iterator[list[tuple[str, bytes, float]]]:
    """A durable QoS 1 subscription (clean_session off) that reconnects by itself; yields what arrives:
    (topic, payload, time.perf_counter() at arrival)."""
    received: list[tuple[str, bytes, float]] = []
    subscribed = threading.Event()
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="line-test", clean_session=False, protocol=paho.MQTTv311)
    client.on_connect = lambda c, *args: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *args: subscribed.set()
    client.on_message = lambda c, u, message: received.append((message.topic, message.payload, time.perf_counter()))
    client.reconnect_delay_set(0.2, 1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert subscribed.wait(30)
    try:
        yield received
    finally:
        client.disconnect()
        client.loop_stop()
