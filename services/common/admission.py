"""Bounds on work in flight: shares per caller, and a memory budget for decoded pixels.

Why: a server that queues without bound turns overload into timeouts everywhere (dead probes, stalled
line controllers), and one that decodes every upload at once turns eight big pictures into gigabytes
(issue 20). Work over a bound is refused at once with a retry hint; decodes wait for room in the budget.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from PIL import Image, UnidentifiedImageError

from services.common.bus import FairQueue
from services.core.errors import Busy, TooManyRequests

T = TypeVar("T")


class Shares:
    """Calls in flight per key; taking one share more than a key's bound is refused (nothing taken)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def take(self, bounds: list[tuple[str, int]]) -> str | None:
        """None when every share was taken, else the first key that is full."""
        with self._lock:
            full = next((key for key, bound in bounds if self._counts[key] >= bound), None)
            if full is None:
                self._counts.update(key for key, _ in bounds)
            return full

    def give(self, keys: list[str]) -> None:
        with self._lock:
            self._counts.subtract(keys)
            for key in keys:
                if self._counts[key] <= 0:
                    del self._counts[key]


class Gate:
    """Requests of one kind (REST inspections) in flight: at most `capacity` in all (the ones scoring plus
    a short queue) and `per_tenant` for each tenant; beyond that the caller is told to retry (503 / 429)."""

    def __init__(self, capacity: int, per_tenant: int, retry_after: int) -> None:
        self.capacity = capacity
        self.per_tenant = per_tenant
        self.retry_after = retry_after
        self.shares = Shares()

    @contextmanager
    def admit(self, tenant: str) -> Iterator[None]:
        bounds = [("all", self.capacity), (f"tenant:{tenant}", self.per_tenant)]
        full = self.shares.take(bounds)
        if full == "all":
            raise Busy("the server is saturated; retry shortly", retry_after=self.retry_after)
        if full is not None:
            raise TooManyRequests(f"tenant '{tenant}' has {self.per_tenant} requests in flight already; retry shortly", retry_after=self.retry_after)
        try:
            yield
        finally:
            self.shares.give([key for key, _ in bounds])


def header_pixels(data: bytes) -> int:
    """Width x height from the image header alone (no pixel is decoded); 0 when it is no image, which the
    decoder then refuses with its own message."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return 0
    return width * height


class DecodeBudget:
    """Decoded pixels in flight over the whole process, and for each tenant, and each tenant's decoding CPU.

    A decode reserves its image's pixels (from the header) before decoding and gives them back when its
    pixels are dropped; it waits while the budget or its tenant's share is spent, so one tenant's huge
    pictures leave the rest of the budget to the others. An image larger than a tenant's share takes all
    of it: it runs alone for that tenant rather than never.

    Memory is not the only thing a huge picture takes: a 64-megapixel PNG costs half a second of a core
    to decode, so one tenant decoding them back to back held a core of two, and another tenant's p95 rose
    4-5x (issue 20). So each tenant's decoding CPU time (the holding thread's, measured) is also paid
    back at `cpu_share` core-seconds per second: after a decode that took c seconds of CPU, the tenant's
    next decode waits until c / cpu_share seconds after the last one started, less a burst allowance.
    """

    def __init__(
        self,
        pixels: int,
        per_tenant: int,
        wait_s: float,
        retry_after: int,
        cpu_share: float = 0.5,
        burst_s: float = 1.0,
        yield_nice: int = 10,
        yield_pixels: int = 16_000_000,
    ) -> None:
        self.pixels = pixels
        self.per_tenant = min(per_tenant, pixels)
        self.wait_s = wait_s
        self.retry_after = retry_after
        self.cpu_share = cpu_share
        self.burst_s = burst_s
        self.in_flight = 0
        self._held: Counter[str] = Counter()  # per tenant
        self._paid_until: dict[str, float] = {}  # per tenant: when its decoding CPU is paid back (monotonic)
        self._room = threading.Condition()
        self.lane = YieldingLane(2, yield_nice) if yield_nice > 0 else None  # where a tenant over its share decodes
        self.yield_pixels = yield_pixels  # ... and every photo this large: bulk work, next to others' inferences

    def _blocked_for(self, pixels: int, tenant: str, now: float) -> float | None:
        """None when the decode may start now; else seconds to wait at most before looking again (inf: until notified)."""
        if self.in_flight + pixels > self.pixels or self._held[tenant] + pixels > self.per_tenant:
            return float("inf")
        owed = self._paid_until.get(tenant, now) - self.burst_s - now
        return owed if owed > 0 else None

    @contextmanager
    def hold(self, pixels: int, tenant: str, wait: bool = False) -> Iterator[Decoding]:
        """wait: wait as long as it takes (jobs); else at most wait_s, then Busy (requests answer 503).

        Yields a Decoding: run the decode through its run() (or call it when the decode is done), so the
        CPU spent after it (an inference) is not charged as decoding; if neither happens, the whole block is.
        A tenant that owes decoding CPU when admitted, or a photo of yield_pixels or more, decodes in the
        yielding lane."""
        pixels = min(pixels, self.per_tenant)
        deadline = None if wait else time.monotonic() + self.wait_s
        with self._room:
            while (blocked := self._blocked_for(pixels, tenant, time.monotonic())) is not None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise Busy("the server is decoding too many pictures at once; retry shortly", code="decode_budget", retry_after=self.retry_after)
                timeout = min(x for x in (left, blocked) if x is not None)
                self._room.wait(None if timeout == float("inf") else timeout)
            self.in_flight += pixels
            self._held[tenant] += pixels
            started = time.monotonic()
            yields = self._paid_until.get(tenant, started) > started or pixels >= self.yield_pixels  # owes CPU, or bulk
        decoding = Decoding(self.lane if yields else None)
        try:
            yield decoding
        finally:
            decoding()
            with self._room:
                self.in_flight -= pixels
                self._held[tenant] -= pixels
                self._paid_until[tenant] = max(self._paid_until.get(tenant, started), started) + (decoding.spent or 0.0) / self.cpu_share
                self._room.notify_all()


class Decoding:
    """One admitted decode: where it runs, and the CPU it took (charged to its tenant's share)."""

    def __init__(self, lane: YieldingLane | None) -> None:
        self.lane = lane  # None: in the caller's thread (no hop for the common small photo)
        self._cpu_start = time.thread_time()
        self.spent: float | None = None  # CPU seconds, once the decode is done

    def run(self, decode: Callable[[], T]) -> T:
        """decode() in this decode's lane; marks the decode done. A decode that fails (a corrupt picture)
        is charged too."""
        if self.lane is None:
            try:
                return decode()
            finally:
                self()

        def timed() -> T:  # the lane thread's own CPU time
            start = time.thread_time()
            try:
                return decode()
            finally:
                self.spent = time.thread_time() - start

        return self.lane.run(timed)

    def __call__(self) -> None:
        """The decode is done (in the caller's thread): its CPU so far is what the tenant is charged."""
        if self.spent is None:
            self.spent = time.thread_time() - self._cpu_start


class YieldingLane:
    """Worker threads at a lower OS priority (nice + `nice`, Linux applies it per thread): decodes of a tenant
    over its decoding share, and of huge photos, run here, so the scheduler gives the cores to inferences
    first and the rest to them. Work-conserving: on an idle machine the lane runs at full speed. Raising
    niceness needs no privilege, but lowering it back does, so the lane keeps threads of its own.
    Why: within its share, one tenant's 64 MP decodes still ran beside another tenant's two-thread
    inference at equal priority, and a parallel op runs at the pace of its slowest thread (bench_abuse)."""

    def __init__(self, threads: int, nice: int) -> None:
        self.nice = nice
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="decode-yielding", initializer=self._lower)

    def _lower(self) -> None:
        if hasattr(os, "setpriority"):
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + self.nice))

    def run(self, work: Callable[[], T]) -> T:
        """work() on a lane thread; the caller waits for it."""
        return self._pool.submit(work).result()


class _Ticket:
    """One call waiting for an inference slot."""

    def __init__(self) -> None:
        self._granted = threading.Event()

    def grant(self) -> None:
        self._granted.set()

    @property
    def granted(self) -> bool:
        return self._granted.is_set()

    def wait(self) -> None:
        self._granted.wait()


class FairSlots:
    """`slots` inference slots handed out by tenant in turn. A plain semaphore wakes waiters first come,
    first served, so a tenant with eight requests queued puts eight inferences ahead of another tenant's
    one (issue 20: 4.4x its quiet p95 under attack); here the waiting calls stand in the job bus's
    FairQueue, so each waiting tenant gets one slot per round."""

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._line: FairQueue[_Ticket] = FairQueue()
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        return self._line.qsize()

    def _hand_out(self) -> None:
        """Free slots to the next tickets in turn (called with the lock held)."""
        while self._free and self._line.qsize():
            self._free -= 1
            self._line.get().grant()

    def _give_back(self) -> None:
        with self._lock:
            self._free += 1
            self._hand_out()

    @contextmanager
    def hold(self, tenant: str) -> Iterator[None]:
        """Wait for a slot and this tenant's turn; the slot is given back on leaving."""
        ticket = _Ticket()
        with self._lock:
            self._line.put(ticket, tenant)
            self._hand_out()
        try:
            ticket.wait()
        except BaseException:  # given up (an exception in the wait): leave the line, or give back the slot granted meanwhile
            with self._lock:
                gave_up = self._line.remove(ticket, tenant)
            if not gave_up:
                self._give_back()
            raise
        try:
            yield
        finally:
            self._give_back()
