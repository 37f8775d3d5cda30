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
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, UnidentifiedImageError

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
    """Decoded pixels in flight over the whole process, and for each tenant. A decode reserves its image's
    pixels (from the header) before decoding and gives them back when its pixels are dropped; it waits
    while the budget or its tenant's share is spent, so one tenant's huge pictures leave the rest of the
    budget to the others. An image larger than a tenant's share takes all of it: it runs alone for that
    tenant rather than never."""

    def __init__(self, pixels: int, per_tenant: int, wait_s: float, retry_after: int) -> None:
        self.pixels = pixels
        self.per_tenant = min(per_tenant, pixels)
        self.wait_s = wait_s
        self.retry_after = retry_after
        self.in_flight = 0
        self._held: Counter[str] = Counter()  # per tenant
        self._room = threading.Condition()

    @contextmanager
    def hold(self, pixels: int, tenant: str, wait: bool = False) -> Iterator[None]:
        """wait: wait as long as it takes (jobs); else at most wait_s, then Busy (requests answer 503)."""
        pixels = min(pixels, self.per_tenant)
        deadline = None if wait else time.monotonic() + self.wait_s
        with self._room:
            while self.in_flight + pixels > self.pixels or self._held[tenant] + pixels > self.per_tenant:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise Busy("the server is decoding too many pictures at once; retry shortly", code="decode_budget", retry_after=self.retry_after)
                self._room.wait(left)
            self.in_flight += pixels
            self._held[tenant] += pixels
        try:
            yield
        finally:
            with self._room:
                self.in_flight -= pixels
                self._held[tenant] -= pixels
                self._room.notify_all()
