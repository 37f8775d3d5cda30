"""NatsBus against a real nats-server with JetStream (one per test, on a free port, its store in a temp
dir): each job once across workers and groups, redelivery after an exception, dead letters, heartbeats
for long jobs, and nothing lost when a worker or the server dies. Events are checked on both buses."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from backends import NatsServer, wait_until
from serving import ROOT, free_port
from services.common.bus import BusUnavailable, MemoryBus
from services.common.bus_nats import DEAD_LETTER, NatsBus

ACK_WAIT_S = 2.0
BUS = {"ack_wait_s": ACK_WAIT_S, "retry_delay_s": 0.05, "max_deliver": 3, "timeout_s": 3.0}

# a worker process that takes a job and never finishes it, for the kill -9 test
WORKER = f"""
import pathlib, sys, time
from services.common.bus_nats import NatsBus
bus = NatsBus(sys.argv[1], **{BUS!r})
def handle(job_id):
    pathlib.Path(sys.argv[2]).write_text(job_id)
    time.sleep(600)
bus.start(handle, 1)
time.sleep(600)
"""


@pytest.fixture
def server(tmp_path):
    server = NatsServer(tmp_path / "jetstream").start()
    yield server
    server.kill()


@pytest.fixture
def buses(server):
    """make(**overrides) -> a NatsBus on the test's server; all closed at the end."""
    made: list[NatsBus] = []

    def make(**overrides: object) -> NatsBus:
        made.append(NatsBus(server.url, **{**BUS, **overrides}))
        return made[-1]

    yield make
    for bus in made:
        bus.close(timeout=5)


class Log:
    """What the handlers did, from several worker threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.done: list[tuple[str, str]] = []  # (worker name, job id)

    def handler(self, name: str = "w", fail: dict[str, int] | None = None, seconds: float = 0.0):
        """A handler that raises on the first fail[job] calls of a job, else works `seconds`."""

        def handle(job_id: str) -> None:
            with self.lock:
                self.calls[job_id] += 1
                calls = self.calls[job_id]
            if calls <= (fail or {}).get(job_id, 0):
                raise RuntimeError(f"{job_id} failed on call {calls}")
            time.sleep(seconds)
            with self.lock:
                self.done.append((name, job_id))

        return handle

    def jobs(self) -> Counter[str]:
        with self.lock:
            return Counter(job for _, job in self.done)


def _stream(url: str, read):
    async def run():
        nc = await nats.connect(url)
        try:
            return await read(nc.jetstream())
        finally:
            await nc.close()

    return asyncio.run(run())


def dead_letters(url: str) -> int:
    async def read(js):
        info = await js.stream_info("GOLDENSHOT_JOBS", subjects_filter=DEAD_LETTER)
        return (info.state.subjects or {}).get(DEAD_LETTER, 0)

    return _stream(url, read)


def last_dead_letter(url: str):
    return _stream(url, lambda js: js.get_last_msg("GOLDENSHOT_JOBS", DEAD_LETTER))


def test_each_job_once_across_workers_and_repeated_publishes(buses):
    log = Log()
    first, second = buses(), buses()  # two processes of one worker group share its durable consumer
    first.start(log.handler("first", seconds=0.01), 2)
    second.start(log.handler("second", seconds=0.01), 1)
    ids = [f"job-{i}" for i in range(40)]
    for i, job_id in enumerate(ids):
        (first if i % 2 else second).publish(job_id, "build" if i % 3 else "batch", f"plant-{i % 4}")
    first.publish("job-0", "batch", "plant-0")  # a retried publish of the same job: stored once
    wait_until(lambda: len(log.done) >= len(ids), 20, "40 jobs handled")
    time.sleep(0.5)  # time for a duplicate to show up
    assert log.jobs() == Counter(ids)
    assert {name for name, _ in log.done} == {"first", "second"}
    assert first.depth() == 0


def test_worker_groups_take_only_their_kinds(buses):
    builds, batches = Log(), Log()
    buses(kinds=("build",)).start(builds.handler(), 1)
    buses(kinds=("batch",)).start(batches.handler(), 1)
    publisher = buses()
    for i in range(6):
        publisher.publish(f"b{i}", "build" if i < 2 else "batch", "plant-a")
    wait_until(lambda: len(builds.done) + len(batches.done) >= 6, 10, "6 jobs handled")
    assert builds.jobs() == Counter(["b0", "b1"]) and batches.jobs() == Counter(["b2", "b3", "b4", "b5"])
    for bad in ("dead", "Build", "a.b", "*", ""):
        with pytest.raises(ValueError, match="bad job kind"):
            publisher.publish("x", bad, "plant-a")
    with pytest.raises(BusUnavailable, match="another worker group"):  # one group per kind
        buses(kinds=("build", "batch")).start(builds.handler(), 1)


def test_failing_handler_is_redelivered_then_succeeds(server, buses):
    log = Log()
    buses().start(log.handler(fail={"flaky": 2}), 1)
    buses().publish("flaky", "build", "plant-a")
    wait_until(lambda: log.jobs()["flaky"] == 1, 10, "flaky job done")
    time.sleep(0.3)
    assert log.calls["flaky"] == 3 and dead_letters(server.url) == 0


def test_poison_job_goes_to_dead_letters_after_max_deliver(server, buses):
    log = Log()
    bus = buses()
    bus.start(log.handler(fail={"poison": 99}), 1)
    bus.publish("poison", "build", "plant-a")
    bus.publish("good", "batch", "plant-a")
    wait_until(lambda: dead_letters(server.url) == 1, 10, "a dead letter")
    letter = last_dead_letter(server.url)
    assert letter.data == b"poison"
    assert letter.headers["Goldenshot-Kind"] == "build" and letter.headers["Goldenshot-Deliveries"] == "3"
    assert "RuntimeError: poison failed on call 3" in letter.headers["Goldenshot-Error"]
    time.sleep(0.5)  # terminated: never delivered again
    assert log.calls["poison"] == 3 and log.jobs() == Counter(["good"])
    assert bus.depth() == 0


def test_job_published_while_no_worker_runs_is_handled_later(buses):
    publisher = buses()
    for job_id in ("a", "b", "c"):
        publisher.publish(job_id, "build", "plant-a")
    assert publisher.depth() == 3
    publisher.close()
    log = Log()
    buses().start(log.handler(), 1)
    wait_until(lambda: len(log.done) == 3, 10, "3 queued jobs handled")
    assert log.jobs() == Counter("abc")


def test_tenants_take_turns_within_the_fetch_window(server, buses):
    """One tenant's three queued jobs delay another tenant's by one job, not three (issue 20, finding 4);
    the subjects carry a hash of the tenant, never its name."""
    publisher = buses()
    for job_id, tenant in (("a1", "plant-a"), ("a2", "plant-a"), ("a3", "plant-a"), ("b1", "plant-b")):
        publisher.publish(job_id, "zeroshot", tenant)
    subjects = _stream(server.url, lambda js: js.stream_info("GOLDENSHOT_JOBS", subjects_filter=">")).state.subjects
    assert len(subjects) == 2 and not any("plant" in subject for subject in subjects)
    log = Log()
    buses(kinds=("zeroshot",)).start(log.handler(), 1)
    wait_until(lambda: len(log.done) == 4, 10, "4 jobs handled")
    assert [job for _, job in log.done] == ["a1", "b1", "a2", "a3"]  # before: a1, a2, a3, b1


def test_jobs_queued_on_the_old_subjects_still_run(server, buses):
    """An upgraded deployment: its consumer filters `goldenshot.jobs.build` only and a job waits on that
    subject; the new worker widens the consumer and runs jobs of both layouts."""
    publisher = buses()  # the stream, unchanged

    async def before_groups(js):
        old = ConsumerConfig(name="workers-build", durable_name="workers-build", ack_policy=AckPolicy.EXPLICIT, filter_subjects=["goldenshot.jobs.build"])
        await js.add_consumer("GOLDENSHOT_JOBS", old)
        await js.publish("goldenshot.jobs.build", b"old", stream="GOLDENSHOT_JOBS", headers={"Nats-Msg-Id": "old"})

    _stream(server.url, before_groups)
    publisher.publish("new", "build", "plant-a")
    log = Log()
    worker = buses(kinds=("build",))
    worker.start(log.handler(), 1)
    wait_until(lambda: len(log.done) == 2, 10, "both jobs handled")
    assert log.jobs() == Counter(["old", "new"]) and worker.depth() == 0


def test_waiting_jobs_keep_their_messages_with_heartbeats(buses):
    """A job held for its turn is not handed to another process after ack_wait."""
    holder = buses(ack_wait_s=1.0)
    for job_id in ("long", "next"):
        holder.publish(job_id, "build", "plant-a")
    log = Log()
    holder.start(log.handler("holder", seconds=2.5), 1)  # takes both: "next" waits 2.5 s
    wait_until(lambda: log.calls["long"] == 1, 5, "long job started")
    buses(ack_wait_s=1.0).start(log.handler("other"), 1)
    wait_until(lambda: len(log.done) == 2, 10, "both jobs handled")
    time.sleep(0.5)
    assert log.done == [("holder", "long"), ("holder", "next")] and log.calls == Counter(["long", "next"])


def test_stopping_worker_gives_its_waiting_jobs_back_at_once(buses):
    """Closing finishes the job in hand and naks the waiting ones, so another process runs them now,
    not after ack_wait."""
    holder = buses(ack_wait_s=30.0)
    for job_id in ("long", "next"):
        holder.publish(job_id, "build", "plant-a")
    log = Log()
    holder.start(log.handler("holder", seconds=3.0), 1)
    wait_until(lambda: log.calls["long"] == 1, 5, "long job started")
    buses(ack_wait_s=30.0).start(log.handler("other"), 1)
    closing = threading.Thread(target=holder.close)
    closing.start()
    wait_until(lambda: ("other", "next") in log.done, 2.5, "the waiting job run by the other process")
    closing.join(10)
    assert sorted(log.done) == [("holder", "long"), ("other", "next")] and log.calls == Counter(["long", "next"])


def test_long_job_keeps_its_message_with_heartbeats(buses):
    log = Log()
    bus = buses(ack_wait_s=1.0)
    bus.start(log.handler(seconds=2.5), 2)  # a second worker would get it after 1 s without heartbeats
    bus.publish("long", "build", "plant-a")
    wait_until(lambda: len(log.done) == 1, 10, "long job done")
    time.sleep(0.5)
    assert log.calls["long"] == 1


def test_close_finishes_the_job_in_hand(buses):
    log = Log()
    bus = buses()
    bus.start(log.handler(seconds=0.5), 1)
    bus.publish("in-hand", "build", "plant-a")
    wait_until(lambda: log.calls["in-hand"] == 1, 5, "job started")
    bus.close()
    assert log.jobs() == Counter(["in-hand"])
    after = Log()
    buses().start(after.handler(), 1)
    time.sleep(ACK_WAIT_S + 0.5)  # an unacked job would be redelivered by now
    assert after.calls == Counter()


def test_killed_worker_loses_its_job_to_another(server, buses, tmp_path):
    marker = tmp_path / "taken"
    child = subprocess.Popen([sys.executable, "-c", WORKER, server.url, str(marker)], cwd=ROOT)
    try:
        buses().publish("orphan", "build", "plant-a")
        wait_until(marker.exists, 30, "the worker process took the job")
        time.sleep(ACK_WAIT_S)  # still alive past ack_wait: its heartbeats keep the job
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        killed = time.monotonic()
        log = Log()
        buses().start(log.handler(), 1)
        wait_until(lambda: len(log.done) == 1, 2 * ACK_WAIT_S + 2, "the orphan redelivered")
        assert log.jobs() == Counter(["orphan"]) and time.monotonic() - killed < 2 * ACK_WAIT_S + 2
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)


def test_server_crash_mid_stream_loses_nothing(server, buses):
    log = Log()
    bus = buses()
    bus.start(log.handler(seconds=0.05), 1)
    ids = [f"j{i}" for i in range(30)]
    for job_id in ids[:20]:
        bus.publish(job_id, "build", "plant-a")
    wait_until(lambda: len(log.done) >= 5, 10, "5 jobs handled")
    server.kill()
    wait_until(lambda: _not_ready(bus), 3, "the bus sees the server gone")
    with pytest.raises(BusUnavailable):
        bus.publish("lost", "build", "plant-a")  # no server: an error after timeout_s, not a hang
    server.start()
    for job_id in ids[20:]:  # reconnects by itself
        bus.publish(job_id, "batch", "plant-a")
    wait_until(lambda: set(log.jobs()) >= set(ids), 30, "every job handled")
    assert set(log.jobs()) == set(ids)  # at least once; a job whose ack died with the server runs again


def _not_ready(bus: NatsBus) -> bool:
    try:
        bus.ping()
    except BusUnavailable:
        return True
    return False


def test_unreachable_server_is_a_clear_error():
    url = f"nats://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(BusUnavailable, match="unreachable"):
        NatsBus(url, timeout_s=1.0)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("kind", ["memory", "nats"])
def test_events_reach_every_subscriber(kind, request):
    if kind == "memory":
        bus = MemoryBus()
        publisher, listeners = bus, [bus, bus]
    else:
        make = request.getfixturevalue("buses")
        publisher, listeners = make(), [make(), make()]
    got: list[list[dict]] = [[], []]
    for listener, box in zip(listeners, got):
        listener.subscribe_events("fingerprint.ready", box.append)
    publisher.publish_event("fingerprint.ready", {"product_id": "p1", "version": 2})
    publisher.publish_event("fingerprint.other", {"product_id": "p1"})
    wait_until(lambda: all(got), 5, "events delivered")
    time.sleep(0.2)
    assert got == [[{"product_id": "p1", "version": 2}]] * 2
    with pytest.raises(ValueError, match="bad event name"):
        publisher.publish_event("fingerprint.*", {})
    with pytest.raises(TypeError):
        publisher.publish_event("fingerprint.ready", {"not json": object()})
