"""Job bus adapter: job ids go in, worker threads take them out; events go to whoever listens.

Embedded: an in-process queue (MemoryBus). Distributed: NATS JetStream (services/common/bus_nats.py),
same interface. The bus only carries ids: the job itself (params, state, progress) lives in the
catalog, so a restart re-publishes what was open and nothing is lost. Events ("fingerprint ready")
are hints to other processes, at most once; whoever needs the truth reads the catalog.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from services.core.errors import BackendUnavailable

log = logging.getLogger(__name__)

_EVENT = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")

EventCallback = Callable[[dict], None]
T = TypeVar("T")


class BusUnavailable(BackendUnavailable):
    """The job bus cannot be reached or did not confirm a publish."""

    backend = "the job bus"


class JobBus(Protocol):
    """Delivers each published job id to one worker, at least once."""

    keeps_messages: bool  # True: messages outlive the process (a restart need not publish open jobs again)

    def publish(self, job_id: str, kind: str, group: str) -> None:
        """Queue a job of a kind ("build", "batch"); workers may consume only some kinds. Groups (tenants)
        take turns, so one group's queued jobs do not hold another's back (issue 20)."""

    def start(self, handle: Callable[[str], None], workers: int) -> None: ...

    def depth(self) -> int:
        """Jobs waiting, not yet taken by a worker."""

    def ping(self) -> None:
        """Raise BusUnavailable when jobs cannot be published (readiness)."""

    def close(self) -> None: ...

    def publish_event(self, event: str, payload: dict) -> None:
        """Tell every subscriber of `event` (e.g. "fingerprint.ready"); payload must be JSON."""

    def subscribe_events(self, event: str, callback: EventCallback) -> None:
        """Call callback(payload) for each later event of that name, on a thread of the bus."""


def check_event(event: str) -> str:
    """Lower-case dotted tokens: a valid NATS subject piece with no wildcards."""
    if not _EVENT.fullmatch(event):
        raise ValueError(f"bad event name {event!r}")
    return event


class FairQueue(Generic[T]):
    """Round robin over groups (tenants): each get() takes the oldest item of the group whose turn it is,
    so one tenant's three long jobs delay another tenant's build by one job at most, not three (issue 20).
    Both buses use it: the in-process one for its queue, NatsBus for the jobs a worker holds."""

    def __init__(self) -> None:
        self._groups: OrderedDict[str, deque[T]] = OrderedDict()  # in turn order
        self._ready = threading.Condition()

    def put(self, item: T, group: str) -> None:
        with self._ready:
            self._groups.setdefault(group, deque()).append(item)
            self._ready.notify()

    def get(self) -> T:
        """The next group's oldest item; blocks while the queue is empty."""
        with self._ready:
            while not self._groups:
                self._ready.wait()
            group, items = self._groups.popitem(last=False)
            item = items.popleft()
            if items:  # its next item waits for every other group's turn
                self._groups[group] = items
            return item

    def remove(self, item: T, group: str) -> bool:
        """Take `item` out of its group's line (a waiter that gave up); False when it is not there."""
        with self._ready:
            items = self._groups.get(group)
            if items is None or item not in items:
                return False
            items.remove(item)
            if not items:
                del self._groups[group]
            return True

    def clear(self) -> None:
        with self._ready:
            self._groups.clear()

    def qsize(self) -> int:
        with self._ready:
            return sum(len(items) for items in self._groups.values())


class MemoryBus:
    """A fair queue drained by worker threads. A job whose handler raises is queued again after
    retry_delay_s, as NATS redelivers a nak'd message; the runner's attempt count bounds the retries."""

    keeps_messages = False

    def __init__(self, retry_delay_s: float = 2.0) -> None:
        self.retry_delay_s = retry_delay_s
        self._queue: FairQueue[tuple[str, str] | None] = FairQueue()  # (job id, group); None stops a worker
        self._threads: list[threading.Thread] = []
        self._listeners: defaultdict[str, list[EventCallback]] = defaultdict(list)

    def publish(self, job_id: str, kind: str, group: str) -> None:
        """One queue for every kind: the embedded process runs them all, tenants taking turns."""
        self._queue.put((job_id, group), group)

    def start(self, handle: Callable[[str], None], workers: int) -> None:
        for i in range(workers):
            thread = threading.Thread(target=self._work, args=(handle,), name=f"job-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self, handle: Callable[[str], None]) -> None:
        while (item := self._queue.get()) is not None:
            job_id, group = item
            try:
                handle(job_id)
            except Exception:  # a worker must survive any job
                log.exception("job %s escaped its handler; retrying in %.1f s", job_id, self.retry_delay_s)
                retry = threading.Timer(self.retry_delay_s, self.publish, (job_id, "", group))
                retry.daemon = True
                retry.start()

    def depth(self) -> int:
        return self._queue.qsize()

    def ping(self) -> None:
        """In process: always there."""

    def publish_event(self, event: str, payload: dict) -> None:
        """Synchronous, in the publisher's thread; the JSON round trip refuses what NATS would refuse."""
        message = json.dumps(payload)
        for callback in list(self._listeners[check_event(event)]):
            try:
                callback(json.loads(message))
            except Exception:  # one listener's bug must not stop the publisher
                log.exception("listener of event %s failed", event)

    def subscribe_events(self, event: str, callback: EventCallback) -> None:
        self._listeners[check_event(event)].append(callback)

    def close(self, timeout: float = 30.0) -> None:
        """Stop after the jobs in hand; queued ones stay open in the catalog for the next start."""
        self._queue.clear()
        for _ in self._threads:
            self._queue.put(None, "")
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
