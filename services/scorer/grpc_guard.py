"""Who may run a gRPC call and how many run at once, decided before any handler runs.

The sync gRPC server runs each call on a thread of a fixed pool. A stream opened without a key that
sends nothing, or one client opening many, used to hold those threads until Health itself timed out
(issue 20). So: the key is checked in the interceptor (no key, no thread for the handler); each call
takes a share (all work, per client address, per tenant) or is refused with RESOURCE_EXHAUSTED at once;
streams are cancelled when idle or too old; health checks run on threads the work can never take.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc

from services.common.admission import Shares
from services.common.auth import tenant_for
from services.common.catalog import Catalog
from services.core.errors import Busy, DomainError, TooManyRequests, Unavailable
from services.scorer.grpc_server import API_KEY_METADATA, TENANT, abort

log = logging.getLogger(__name__)

SCORER = "/goldenshot.v1.Scorer/"
HEALTH_CHECKS = ("/grpc.health.v1.Health/Check", "/goldenshot.v1.Scorer/Health")  # short, unary: their own threads
SPARE_THREADS = 2  # for refusing calls over a bound while every share is taken
WORK = "work"  # the share every call but a health check takes
ADMITTED = "x-goldenshot-admitted"  # initial metadata of a stream that passed the guard


@dataclass(frozen=True)
class CallLimits:
    max_calls: int  # work calls at once, all clients
    per_peer: int  # per client address (the port left out: one client, many connections)
    per_tenant: int
    health_threads: int
    idle_s: float  # a stream waiting this long for the client's next message is cancelled
    max_s: float  # no stream lives longer


class Watchdog:
    """One thread cancelling streams idle or older than their bounds: a handler blocked on the client's
    next message cannot time itself out, and grpcio has no per-message deadline."""

    def __init__(self, idle_s: float, max_s: float) -> None:
        self.idle_s = idle_s
        self.max_s = max_s
        self._lock = threading.Lock()
        self._streams: dict[int, tuple[grpc.ServicerContext, float, list[float | None]]] = {}  # id -> context, start, [waiting since]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="grpc-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def watch(self, context: grpc.ServicerContext) -> list[float | None]:
        """Register a stream; the returned cell holds when it began waiting for the client (None: not waiting)."""
        waiting: list[float | None] = [None]
        with self._lock:
            self._streams[id(context)] = (context, time.monotonic(), waiting)
        return waiting

    def forget(self, context: grpc.ServicerContext) -> None:
        with self._lock:
            self._streams.pop(id(context), None)

    def _loop(self) -> None:
        while not self._stop.wait(min(1.0, self.idle_s / 4)):
            now = time.monotonic()
            with self._lock:
                expired = [
                    (context, "idle" if waiting[0] is not None and now - waiting[0] > self.idle_s else "too old")
                    for context, started, waiting in self._streams.values()
                    if now - started > self.max_s or (waiting[0] is not None and now - waiting[0] > self.idle_s)
                ]
            for context, why in expired:
                log.warning("gRPC stream cancelled", extra={"peer": context.peer(), "reason": why})
                self.forget(context)
                context.cancel()


def _requests(requests: Iterator[Any], waiting: list[float | None]) -> Iterator[Any]:
    """The client's messages, marking the time spent waiting for each (the watchdog's idle clock)."""
    while True:
        waiting[0] = time.monotonic()
        try:
            request = next(requests)
        except StopIteration:
            return
        finally:
            waiting[0] = None
        yield request


def _peer_address(context: grpc.ServicerContext) -> str:
    """'ipv4:10.0.0.7:51234' -> 'ipv4:10.0.0.7': every connection of one client counts as one peer."""
    peer = context.peer() or "unknown"
    return peer.rsplit(":", 1)[0] if peer.startswith(("ipv4:", "ipv6:")) else peer


def _refusing(handler: grpc.RpcMethodHandler, error: DomainError) -> grpc.RpcMethodHandler:
    """A handler that only answers `error`: the real one never runs."""

    def refuse(_: Any, context: grpc.ServicerContext) -> Any:
        abort(context, error)

    return _replace(handler, lambda _: refuse)


def _replace(handler: grpc.RpcMethodHandler, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> grpc.RpcMethodHandler:
    """The same method handler (streaming kind, serializers) with its behaviour wrapped."""
    kind = f"{'stream' if handler.request_streaming else 'unary'}_{'stream' if handler.response_streaming else 'unary'}"
    factory = getattr(grpc, f"{kind}_rpc_method_handler")
    return factory(wrap(getattr(handler, kind)), request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer)


class CallGuard(grpc.ServerInterceptor):
    """Authentication, shares and stream deadlines for every call (see the module docstring)."""

    def __init__(self, catalog: Catalog, require_api_key: bool, limits: CallLimits) -> None:
        self.catalog = catalog
        self.require_api_key = require_api_key
        self.limits = limits
        self.shares = Shares()
        self.watchdog = Watchdog(limits.idle_s, limits.max_s)
        self.threads = limits.max_calls + limits.health_threads + SPARE_THREADS

    def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None], details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        if handler is None:
            return None
        if details.method in HEALTH_CHECKS:
            return _replace(handler, lambda inner: self._guarded(inner, handler, [("health", self.limits.health_threads)], None))
        tenant = None
        if details.method.startswith(SCORER):
            key = dict(details.invocation_metadata or ()).get(API_KEY_METADATA)
            try:
                tenant = tenant_for(self.catalog, key, self.require_api_key)
            except DomainError as exc:
                return _refusing(handler, exc)
            except Exception as exc:  # the catalog is down: the caller may retry, the server stays up
                log.warning("gRPC authentication failed: %s", exc)
                return _refusing(handler, Unavailable("the catalog is unavailable; try again later"))
        bounds = [(WORK, self.limits.max_calls)]
        if tenant is not None:
            bounds.append((f"tenant:{tenant}", self.limits.per_tenant))
        return _replace(handler, lambda inner: self._guarded(inner, handler, bounds, tenant))

    def _guarded(self, inner: Callable[..., Any], handler: grpc.RpcMethodHandler, bounds: list[tuple[str, int]], tenant: str | None) -> Callable[..., Any]:
        if handler.response_streaming:

            def streaming(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                with self._admitted(context, bounds, tenant, streaming=True) as waiting:
                    yield from inner(_requests(request, waiting) if handler.request_streaming else request, context)

            return streaming

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            with self._admitted(context, bounds, tenant, streaming=handler.request_streaming) as waiting:
                return inner(_requests(request, waiting) if handler.request_streaming else request, context)

        return unary

    @contextmanager
    def _admitted(self, context: grpc.ServicerContext, bounds: list[tuple[str, int]], tenant: str | None, streaming: bool) -> Iterator[list[float | None]]:
        """Take the call's shares (or refuse it at once), watch it while it streams, give back at the end."""
        bounds = [*bounds, (f"peer:{_peer_address(context)}", self.limits.per_peer)] if bounds[0][0] == WORK else bounds
        full = self.shares.take(bounds)
        if full is not None:
            what = full.split(":", 1)[0]
            abort(context, Busy("the scorer is saturated; retry later") if what in (WORK, "health") else TooManyRequests(f"too many gRPC calls at once for this {what}; retry later"))
        token = TENANT.set(tenant or "")
        waiting = [None]
        if streaming:
            waiting = self.watchdog.watch(context)
            context.send_initial_metadata(((ADMITTED, "1"),))  # the client may start sending: it holds its share
        try:
            yield waiting
        finally:
            if streaming:
                self.watchdog.forget(context)
            self.shares.give([key for key, _ in bounds])
            TENANT.reset(token)
