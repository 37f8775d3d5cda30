"""Bounds on work in flight: shares per caller, and a memory budget for decoded pixels.

Why: a server that queues without bound turns overload into timeouts everywhere (dead probes, stalled
line controllers), and one that decodes every upload at once turns eight big pictures into gigabytes
(issue 20). Work over a bound is refused at once with a retry hint; decodes wait for room in the budget.
"""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from PIL import Image, UnidentifiedImageError

from services.common.bus import FairQueue
from services.core.errors import Busy, TooManyRequests


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

    def __init__(self, pixels: int, per_tenant: int, wait_s: float, retry_after: int, cpu_share: float = 0.5, burst_s: float = 1.0) -> None:
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

    def _blocked_for(self, pixels: int, tenant: str, now: float) -> float | None:
        """None when the decode may start now; else seconds to wait at most before looking again (inf: until notified)."""
        if self.in_flight + pixels > self.pixels or self._held[tenant] + pixels > self.per_tenant:
            return float("inf")
        owed = self._paid_until.get(tenant, now) - self.burst_s - now
        return owed if owed > 0 else None

    @contextmanager
    def hold(self, pixels: int, tenant: str, wait: bool = False) -> Iterator[Callable[[], None]]:
        """wait: wait as long as it takes (jobs); else at most wait_s, then Busy (requests answer 503).

        Yields `decoded`: call it when the decode is done, so the CPU spent after it (an inference) is not
        charged as decoding; if it is never called, the whole block is."""
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
        started, cpu_start = time.monotonic(), time.thread_time()
        spent: list[float] = []

        def decoded() -> None:
            if not spent:
                spent.append(time.thread_time() - cpu_start)

        try:
            yield decoded
        finally:
            decoded()
            with self._room:
                self.in_flight -= pixels
                self._held[tenant] -= pixels
                self._paid_until[tenant] = max(self._paid_until.get(tenant, started), started) + spent[0] / self.cpu_share
                self._room.notify_all()


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
