"""Job bus adapter: job ids go in, worker threads take them out.

Embedded: an in-process queue (MemoryBus). Distributed: NATS JetStream, same interface. The bus
only carries ids: the job itself (params, state, progress) lives in the catalog, so a restart
re-publishes what was open and nothing is lost.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)


class JobBus(Protocol):
    """Delivers each published job id to one worker, at least once."""

    def publish(self, job_id: str) -> None: ...

    def start(self, handle: Callable[[str], None], workers: int) -> None: ...

    def depth(self) -> int: ...

    def close(self) -> None: ...


class MemoryBus:
    """A queue.Queue drained by worker threads; the handler owns errors, the bus only logs escapes."""

    def __init__(self) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._threads: list[threading.Thread] = []

    def publish(self, job_id: str) -> None:
        self._queue.put(job_id)

    def start(self, handle: Callable[[str], None], workers: int) -> None:
        for i in range(workers):
            thread = threading.Thread(target=self._work, args=(handle,), name=f"job-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self, handle: Callable[[str], None]) -> None:
        while (job_id := self._queue.get()) is not None:
            try:
                handle(job_id)
            except Exception:  # a worker must survive any job
                log.exception("job %s escaped its handler", job_id)

    def depth(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float = 30.0) -> None:
        """Stop after the jobs in hand; queued ones stay open in the catalog for the next start."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
