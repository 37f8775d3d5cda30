"""Job bus on NATS JetStream for the distributed deployment: the JobBus protocol over nats-py.

A job is a message `goldenshot.jobs.<kind>.<group>` (<group>: a hash of the tenant, never its name)
whose body is the job id, in one work-queue stream on disk: it lives until a worker acks it. Its
Nats-Msg-Id is the job id, so a publish repeated within the stream's duplicate window (2 min) is
stored once. Each worker group (its tuple of kinds) pulls from one durable consumer: a message is
acked only after the handler returned; an exception naks it for a later redelivery; after
max_deliver deliveries without success it is copied to `goldenshot.jobs.dead` (kept in the stream
for an operator) and terminated. While a handler runs, in-progress acks every ack_wait/3 keep a long
build from going to a second worker; a worker that dies stops them, and its job goes to another
worker after ack_wait.

Tenants take turns (issue 20): a worker process holds up to fetch_window jobs (running ones included),
kept alive with the same in-progress acks while they wait, and a free worker takes the oldest job of
the group whose turn it is (FairQueue, as on the in-process bus). Fairness holds within that window;
jobs behind it wait in stream order, and the per-tenant open-jobs quota bounds how many one tenant can
queue ahead. A process that stops gives its waiting jobs back at once (a nak, which counts as a
delivery). Messages `goldenshot.jobs.<kind>` from before groups still run, as one group of their own.

nats-py is asyncio and the services are threads: the bus runs its event loop in one background
thread and handlers in its own worker threads, so a build never stalls the heartbeats.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, ServiceUnavailableError

from services.common.bus import BusUnavailable, EventCallback, FairQueue, check_event

log = logging.getLogger(__name__)

JOBS = "goldenshot.jobs"
DEAD_LETTER = f"{JOBS}.dead"
EVENTS = "goldenshot.events"
POLL_S = 0.5  # how long one pull waits for a job; also how long close() waits for the pull loop
_KIND = re.compile(r"[a-z0-9_-]+")
_CONSUMER_NOT_UNIQUE = 10100  # JetStream: a work-queue stream already has a consumer for that subject
T = TypeVar("T")


def kind_subject(kind: str) -> str:
    """The subject of a job kind, as published before groups; "dead" is the dead-letter subject, not a kind."""
    if not _KIND.fullmatch(kind) or f"{JOBS}.{kind}" == DEAD_LETTER:
        raise ValueError(f"bad job kind {kind!r}")
    return f"{JOBS}.{kind}"


def job_subject(kind: str, group: str) -> str:
    """`goldenshot.jobs.<kind>.<token>`: workers see a job's group without a catalog read; the token is
    a hash, so tenant names stay out of subjects, NATS monitoring and its logs."""
    return f"{kind_subject(kind)}.{hashlib.sha256(group.encode()).hexdigest()[:16]}"


def kind_and_group(subject: str) -> tuple[str, str]:
    """The kind and group token of a job subject; a message published before groups is in group ""."""
    kind, _, group = subject.removeprefix(f"{JOBS}.").partition(".")
    return kind, group


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


class NatsBus:
    """Publishes jobs of any kind; consumes (after start) the kinds it was made for."""

    keeps_messages = True

    def __init__(
        self,
        url: str,
        kinds: tuple[str, ...] = ("build", "batch"),
        stream: str = "GOLDENSHOT_JOBS",
        max_deliver: int = 5,
        ack_wait_s: float = 600.0,
        retry_delay_s: float = 2.0,
        timeout_s: float = 5.0,
        fetch_window: int = 16,
    ) -> None:
        """Connects and creates the stream when missing; BusUnavailable when the server cannot be reached.
        fetch_window: jobs this process holds at once when it consumes (see the module's docstring)."""
        if not kinds or max_deliver < 1 or ack_wait_s <= 0 or timeout_s <= 0 or fetch_window < 1:
            raise ValueError("NatsBus needs kinds, max_deliver >= 1, fetch_window >= 1 and positive ack_wait_s and timeout_s")
        self.url = url
        self.kinds = kinds
        # each kind's subjects with and without a group: jobs queued before groups still run
        self.subjects = [subject for kind in kinds for subject in (kind_subject(kind), f"{kind_subject(kind)}.>")]
        self.stream = stream
        self.durable = "workers-" + "-".join(kinds)  # one durable consumer per worker group
        self.max_deliver = max_deliver
        self.ack_wait_s = ack_wait_s
        self.retry_delay_s = retry_delay_s
        self.timeout_s = timeout_s
        self.fetch_window = fetch_window
        self._stopping = False
        self._released = False  # closing: the waiting jobs went back to the stream
        self._fetcher: asyncio.Task | None = None
        self._workers: list[asyncio.Task] = []
        self._pull: Any = None  # the pull subscription, once started
        self._waiting: FairQueue[tuple[Msg, asyncio.Task]] = FairQueue()  # (job message, its heartbeat)
        self._in_hand = 0  # jobs fetched and not yet settled: waiting or running
        self._changed = asyncio.Condition()  # a job fetched or settled, or closing
        self._pool: ThreadPoolExecutor | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats-bus", daemon=True)
        self._thread.start()
        try:
            self._nc = self._call(self._connect(), "connect")
        except BaseException:
            self._stop_loop()
            raise
        self._js = self._nc.jetstream(timeout=timeout_s)

    # --- the loop thread ---------------------------------------------------------------------
    def _call(self, coro: Coroutine[Any, Any, T], action: str) -> T:
        """Run a coroutine on the bus loop and wait for it; NATS failures as BusUnavailable."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(2 * self.timeout_s)  # the NATS calls inside time out at timeout_s
        except BusUnavailable:
            raise
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            future.cancel()
            raise BusUnavailable(f"job bus {self.url}: {action} failed: {_one_line(str(exc)) or type(exc).__name__}") from exc

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()

    async def _connect(self) -> Client:
        nc = Client()
        options = {
            "name": "goldenshot",
            "connect_timeout": self.timeout_s,
            "max_reconnect_attempts": -1,  # a service waits for its bus to come back
            "reconnect_time_wait": 1.0,
            "drain_timeout": self.timeout_s,
            "error_cb": self._on_error,
            "disconnected_cb": self._on_disconnect,
            "reconnected_cb": self._on_reconnect,
        }
        try:
            await asyncio.wait_for(nc.connect(self.url, **options), self.timeout_s)
        except asyncio.TimeoutError:
            raise BusUnavailable(f"job bus {self.url} unreachable: {_one_line(str(nc.last_error or 'no answer'))}") from None
        try:
            await self._declare(nc)
        except BaseException:
            await nc.close()
            raise
        return nc

    async def _declare(self, nc: Client) -> None:
        version = nc.connected_server_version
        if (version.major, version.minor) < (2, 10):  # a consumer with several filter subjects
            raise BusUnavailable(f"job bus {self.url}: nats-server {version.major}.{version.minor}.{version.patch} is too old, the job bus needs 2.10 or newer")
        js = nc.jetstream(timeout=self.timeout_s)
        try:
            await js.add_stream(StreamConfig(name=self.stream, subjects=[f"{JOBS}.>"], retention=RetentionPolicy.WORK_QUEUE, storage=StorageType.FILE))
        except (nats.errors.NoRespondersError, ServiceUnavailableError):
            raise BusUnavailable(f"job bus {self.url}: JetStream is not enabled (start nats-server with -js)") from None

    async def _on_error(self, exc: Exception) -> None:
        log.warning("job bus %s: %s", self.url, _one_line(str(exc)) or type(exc).__name__)

    async def _on_disconnect(self) -> None:
        if not self._stopping:
            log.warning("job bus %s disconnected; reconnecting", self.url)

    async def _on_reconnect(self) -> None:
        log.info("job bus %s reconnected", self.url)

    # --- jobs --------------------------------------------------------------------------------
    def publish(self, job_id: str, kind: str, group: str) -> None:
        """Returns once the stream stored it (a PubAck); during a reconnect it waits up to timeout_s."""
        self._call(self._publish(job_subject(kind, group), job_id), f"publish job {job_id}")

    async def _publish(self, subject: str, job_id: str) -> None:
        await self._connected()
        await self._js.publish(subject, job_id.encode(), stream=self.stream, headers={"Nats-Msg-Id": job_id})

    async def _connected(self) -> None:
        """Wait out a reconnect: nats-py would buffer a publish made while disconnected and send it
        after the caller was told it failed."""
        deadline = self._loop.time() + self.timeout_s
        while not self._nc.is_connected:
            if self._loop.time() > deadline:
                raise BusUnavailable(f"job bus {self.url}: not connected")
            await asyncio.sleep(0.05)

    def start(self, handle: Callable[[str], None], workers: int) -> None:
        """`workers` threads run handle(job_id); one pull loop keeps up to max(fetch_window, workers) jobs
        in hand, and a free worker takes the oldest job of the group whose turn it is."""
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="job-worker")
        self._fetcher, self._workers = self._call(self._start_workers(handle, workers), "subscribe workers")

    async def _start_workers(self, handle: Callable[[str], None], workers: int) -> tuple[asyncio.Task, list[asyncio.Task]]:
        # made here, not by a bus that only publishes: a work-queue stream refuses two consumers of one kind.
        # No server-side max_deliver: _deliver counts deliveries and dead-letters the last one itself.
        # A consumer from before groups is updated in place to the new filters.
        consumer = ConsumerConfig(name=self.durable, durable_name=self.durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=self.ack_wait_s, filter_subjects=self.subjects)
        try:
            await self._js.add_consumer(self.stream, consumer)
        except BadRequestError as exc:
            if exc.err_code != _CONSUMER_NOT_UNIQUE:
                raise
            raise BusUnavailable(
                f"job bus {self.url}: another worker group of stream {self.stream} already takes one of the kinds {', '.join(self.kinds)}; "
                "each kind has one group (remove the old group's consumer with `nats consumer rm`)"
            ) from None
        self._pull = await self._js.pull_subscribe_bind(durable=self.durable, stream=self.stream)
        fetcher = asyncio.create_task(self._fetch(max(self.fetch_window, workers)), name="job-fetch")
        return fetcher, [asyncio.create_task(self._work(handle), name=f"job-worker-{i}") for i in range(workers)]

    async def _fetch(self, window: int) -> None:
        """Keep up to `window` jobs in hand; waiting ones get heartbeats as running ones do."""
        while not self._stopping:
            async with self._changed:
                await self._changed.wait_for(lambda: self._in_hand < window or self._stopping)
                room = window - self._in_hand
            if self._stopping:
                return
            try:
                msgs = await self._pull.fetch(room, timeout=POLL_S)  # what is queued now, or the first job within POLL_S
            except nats.errors.TimeoutError:
                continue
            except Exception as exc:  # server restarting, connection lost: the next pull tries again
                log.warning("job bus %s: pull failed: %s", self.url, _one_line(str(exc)) or type(exc).__name__)
                await asyncio.sleep(POLL_S)
                continue
            async with self._changed:
                for msg in msgs:
                    self._waiting.put((msg, asyncio.create_task(self._heartbeat(msg))), kind_and_group(msg.subject)[1])
                self._in_hand += len(msgs)
                self._changed.notify_all()

    async def _work(self, handle: Callable[[str], None]) -> None:
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: self._released or self._waiting.qsize() > 0)
                if self._released:
                    return
                msg, beat = self._waiting.get()  # does not block: one is waiting
            try:
                await self._deliver(msg, handle)
            except Exception:  # a worker must survive any message
                log.exception("job bus %s: delivery of %r failed", self.url, msg.data[:100])
            finally:
                beat.cancel()
                async with self._changed:
                    self._in_hand -= 1
                    self._changed.notify_all()

    async def _deliver(self, msg: Msg, handle: Callable[[str], None]) -> None:
        job_id, tries = msg.data.decode(errors="replace"), msg.metadata.num_delivered  # junk: an unknown job, ignored
        try:
            if tries > self.max_deliver:  # each earlier delivery died with its worker (or was given back at a stop)
                await self._bury(msg, f"no worker finished it in {self.max_deliver} deliveries")
            elif self._stopping:  # taken while closing: another worker may have it at once
                await msg.nak()
            else:
                try:
                    await self._loop.run_in_executor(self._pool, handle, job_id)
                except Exception as exc:
                    log.exception("job %s escaped its handler (delivery %d of %d)", job_id, tries, self.max_deliver)
                    if tries >= self.max_deliver:
                        await self._bury(msg, f"{type(exc).__name__}: {exc}")
                    else:
                        await msg.nak(delay=self.retry_delay_s * tries)
                else:
                    await msg.ack()
        except nats.errors.Error as exc:  # not settled: the server hands the job out again after ack_wait
            log.warning("job %s: delivery not settled: %s", job_id, _one_line(str(exc)) or type(exc).__name__)

    async def _heartbeat(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(self.ack_wait_s / 3)
            try:
                await msg.in_progress()
            except nats.errors.Error as exc:
                log.warning("job bus %s: heartbeat lost: %s", self.url, exc)

    async def _bury(self, msg: Msg, reason: str) -> None:
        """Dead letter first (stored, acked by the stream), then terminate the original."""
        job_id = msg.data.decode(errors="replace")
        headers = {
            "Nats-Msg-Id": f"{job_id}.dead",
            "Goldenshot-Kind": kind_and_group(msg.subject)[0],
            "Goldenshot-Deliveries": str(msg.metadata.num_delivered),
            "Goldenshot-Error": _one_line(reason),
        }
        await self._js.publish(DEAD_LETTER, msg.data, stream=self.stream, headers=headers)
        await msg.term()
        log.error("job %s moved to %s: %s", job_id, DEAD_LETTER, headers["Goldenshot-Error"])

    def depth(self) -> int:
        """Jobs of this bus's kinds that no worker has started yet: its consumer's pending count plus the
        jobs this process holds waiting (not those another process holds); on a bus that only publishes,
        the stream's count of them (taken but unfinished ones included)."""
        return self._call(self._depth(), "read the queue depth")

    async def _depth(self) -> int:
        if self._workers:
            return (await self._js.consumer_info(self.stream, self.durable)).num_pending + self._waiting.qsize()
        info = await self._js.stream_info(self.stream, subjects_filter=f"{JOBS}.>")
        return sum(count for subject, count in (info.state.subjects or {}).items() if kind_and_group(subject)[0] in self.kinds)

    def ping(self) -> None:
        if not self._nc.is_connected:
            raise BusUnavailable(f"job bus {self.url}: not connected")
        self.depth()  # a JetStream round trip

    # --- events ------------------------------------------------------------------------------
    def publish_event(self, event: str, payload: dict) -> None:
        """Core NATS, at most once: a hint to listeners, never the only copy of a fact."""
        data = json.dumps(payload).encode()
        self._call(self._publish_event(f"{EVENTS}.{check_event(event)}", data), f"publish event {event}")

    async def _publish_event(self, subject: str, data: bytes) -> None:
        await self._connected()
        await self._nc.publish(subject, data)

    def subscribe_events(self, event: str, callback: EventCallback) -> None:
        """Returns once the server knows the subscription, so no event published after it is missed."""
        self._call(self._subscribe(f"{EVENTS}.{check_event(event)}", callback), f"subscribe to {event}")

    async def _subscribe(self, subject: str, callback: EventCallback) -> None:
        async def deliver(msg: Msg) -> None:
            try:
                await asyncio.to_thread(callback, json.loads(msg.data))  # a slow listener never blocks the loop
            except Exception:
                log.exception("listener of %s failed", subject)

        await self._nc.subscribe(subject, cb=deliver)
        await self._nc.flush(self.timeout_s)

    # --- shutdown ----------------------------------------------------------------------------
    def close(self, timeout: float = 30.0) -> None:
        """Stop pulling, let the jobs in hand finish (up to timeout) and ack them, drain the
        connection. A job still running after that is not acked: another worker gets it after ack_wait."""
        if self._stopping:
            return
        self._stopping = True
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(timeout), self._loop).result(timeout + 3 * POLL_S + 2 * self.timeout_s)
        except Exception as exc:
            log.warning("job bus %s: unclean close: %s", self.url, _one_line(str(exc)) or type(exc).__name__)
        finally:
            self._stop_loop()
            if self._pool is not None:
                self._pool.shutdown(wait=False)

    async def _shutdown(self, timeout: float) -> None:
        if self._fetcher is not None:
            async with self._changed:
                self._changed.notify_all()  # a fetcher waiting for room sees _stopping
            await asyncio.wait([self._fetcher], timeout=2 * POLL_S)  # a pull lasts POLL_S
            self._fetcher.cancel()
            async with self._changed:
                waiting = [self._waiting.get() for _ in range(self._waiting.qsize())]
                self._released = True
                self._changed.notify_all()  # idle workers end
            for msg, beat in waiting:  # back to the stream at once, for another process
                beat.cancel()
                try:
                    await msg.nak()
                except nats.errors.Error as exc:  # not given back: redelivered after ack_wait
                    log.warning("job bus %s: could not give back a waiting job: %s", self.url, _one_line(str(exc)) or type(exc).__name__)
            _, running = await asyncio.wait(self._workers, timeout=timeout + POLL_S)
            for task in running:
                task.cancel()
            await self._pull.unsubscribe()  # left subscribed, its unread pull replies would hold drain() up
        try:
            await self._nc.drain()  # sends the last acks; bounded by drain_timeout
        except (nats.errors.Error, asyncio.TimeoutError):
            await self._nc.close()
