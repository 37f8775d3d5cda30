"""The process's inference threads, shared among the inspections that run at once.

One inspection alone scores fastest with every thread (settings.threads) on its backbone and kNN.
Two at once on two cores score faster each on one thread than both on two: the threads of one wait
for those of the other, and each parallel step pays to split and join. So a server may run several
inspections at once and each takes threads // running, re-read at every backbone call and before the
kNN: a lone request keeps its speed, a busy server its throughput.

torch's thread count is set per calling thread once that thread has run parallel work, and process-wide
before, so the share sets it in the thread that is about to use it (`apply`), on entering, before the
kNN and on leaving; onnxruntime fixes a session's threads, so the backbone keeps one session per width.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch


class ThreadShare:
    """The inference threads shared by the inspections inside `running()`, once `set_threads` has said
    how many there are (the CLI and the servers do); until then torch's own setting and each session's
    stand, so a program that only imports the library keeps its thread counts."""

    def __init__(self) -> None:
        self.threads: int | None = None
        self._running = 0
        self._lock = threading.Lock()

    def width(self, most: int) -> int:
        """Threads a running inspection may use now, at most `most`."""
        if self.threads is None:
            return most
        return max(1, min(most, self.threads // max(1, self._running)))

    def set_threads(self, threads: int) -> None:
        """The process's inference threads (settings.threads): the most a lone inspection uses."""
        self.threads = max(1, threads)
        self.apply()

    def apply(self) -> None:
        """torch's threads for the calling thread's next steps: its share now (unchanged until set_threads)."""
        if self.threads is not None:
            torch.set_num_threads(self.width(self.threads))

    @contextmanager
    def running(self) -> Iterator[None]:
        """Count one more inspection in flight while inside; torch gets the share on entering and leaving."""
        with self._lock:
            self._running += 1
        self.apply()
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
            self.apply()


share = ThreadShare()
