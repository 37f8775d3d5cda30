"""The REST application: routers, one error format, request limits, metrics, health, the console."""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from goldenshot import __version__
from services.common.logs import REQUEST_ID
from services.common.names import new_id
from services.core.errors import BackendUnavailable, Busy, Conflict, DomainError, Gone, InvalidImage, InvalidRequest, NotFound, TooManyRequests, Unauthorized, Unavailable, Unprocessable
from services.ingest import exports, fingerprints, health, inspections, labels, limits, lines, products, sources
from services.ingest.uploads import too_large
from services.runtime import Runtime
from services.schemas import ErrorOut, StatusOut

log = logging.getLogger(__name__)
access = logging.getLogger("goldenshot.access")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

METRICS_TYPE = "text/plain; version=0.0.4"
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
STATUS: dict[type[DomainError], int] = {
    InvalidRequest: 400,
    Unauthorized: 401,
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    InvalidImage: 422,
    Unprocessable: 422,
    Unavailable: 503,
    TooManyRequests: 429,
    Busy: 503,
}
_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "validation_error"}


def create_app(runtime: Runtime) -> FastAPI:
    """The app over a runtime; the runtime's workers start and stop with the app's lifespan."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            runtime.close()

    # no /docs or /redoc: Swagger UI comes from a CDN, which a strict CSP on the console's origin (where the
    # console keeps the API key) must not allow; /openapi.json stays for tools
    app = FastAPI(
        docs_url=None,
        redoc_url=None,
        title="goldenshot",
        version=__version__,
        lifespan=lifespan,
        description="Few-shot visual anomaly detection: products, golden samples, fingerprints, inspections.",
        responses={"4XX": {"model": ErrorOut, "description": "the request cannot be served"}, "5XX": {"model": ErrorOut, "description": "the server or a backend failed"}},
    )
    app.state.runtime = runtime
    serves_api = runtime.scorer is not None  # the builder answers health and metrics only
    routers = (products.router, fingerprints.router, exports.router, labels.router, inspections.router, sources.router, sources.mqtt_router, limits.router, lines.router, health.router)
    for router in routers if serves_api else ():
        app.include_router(router)
    _add_errors(app)
    _add_system_routes(app, runtime)
    if runtime.service.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=runtime.service.cors_origins, allow_methods=["*"], allow_headers=["*"])
    app.add_middleware(BodyLimit, limit=runtime.service.max_request_bytes)
    app.add_middleware(RequestMetrics, runtime=runtime)
    app.add_middleware(SecurityHeaders)
    if serves_api and (runtime.service.console_dir / "index.html").is_file():
        app.mount("/", ConsoleFiles(directory=runtime.service.console_dir, html=True), name="console")
    return app


class ConsoleFiles(StaticFiles):
    """The built console. Its own URLs (/setup/…, /inspect/…, /analytics/…) are no files: they get index.html
    and the console's router shows the page, so a link to a product, version or inspection opens directly."""

    ROUTES = frozenset({"setup", "inspect", "analytics", "lines"})

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as e:
            if e.status_code != 404 or path.split("/", 1)[0] not in self.ROUTES:
                raise
            return await super().get_response("index.html", scope)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _add_errors(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        response = _error(next((STATUS[c] for c in type(exc).__mro__ if c in STATUS), 500), exc.code, exc.message)
        if isinstance(exc, Busy):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(BackendUnavailable)
    async def backend_unavailable(request: Request, exc: BackendUnavailable) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return _error(503, "unavailable", f"{exc.backend} is unavailable; try again later")

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> Response:
        if exc.status_code < 400:
            return Response(status_code=exc.status_code, headers=exc.headers)
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return _error(exc.status_code, _CODES.get(exc.status_code, "error"), message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()[:5]]
        return _error(422, "validation_error", "; ".join(problems) or "invalid request")

    @app.exception_handler(OSError)
    async def storage_error(request: Request, exc: OSError) -> JSONResponse:
        log.error("storage error on %s %s: %s", request.method, request.url.path, exc)
        if exc.errno in _FULL:
            return _error(507, "insufficient_storage", "the server's storage is full; nothing of this request was kept")
        return _error(503, "unavailable", f"a backend is unavailable ({exc.strerror or type(exc).__name__}); nothing of this request was kept")

    @app.exception_handler(OperationalError)
    async def database_error(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database error on %s %s: %s", request.method, request.url.path, exc)
        if "full" in str(exc.orig):
            return _error(507, "insufficient_storage", "the server's storage is full; nothing of this request was kept")
        return _error(503, "unavailable", "the catalog database is unavailable; nothing of this request was kept")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "internal", "internal error; the server log has the details")


def _add_system_routes(app: FastAPI, runtime: Runtime) -> None:
    # probes answer from the event loop (liveness) or a thread of their own (readiness's backend pings):
    # never from the thread pool that requests waiting for an inference slot fill up (issue 20)
    probes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="probes")

    @app.get("/healthz", tags=["system"])
    async def healthz() -> StatusOut:
        return StatusOut(status="ok")

    def ping_backends() -> None:
        runtime.catalog.ping()
        runtime.objects.ping()
        runtime.vectors.ping()
        runtime.bus.ping()

    @app.get("/readyz", tags=["system"])
    async def readyz() -> StatusOut:
        try:
            await asyncio.get_running_loop().run_in_executor(probes, ping_backends)
        except Exception as exc:
            raise Unavailable(f"{type(exc).__name__}: {str(exc)[:200]}", code="not_ready") from None
        return StatusOut(status="ready")

    # /metrics names every tenant's products: on the API port only while the server runs open (one tenant);
    # with keys it is served on metrics_port alone (the chart sets it; Prometheus reaches it by NetworkPolicy)
    if runtime.service.metrics_port is None and not runtime.service.require_api_key:

        @app.get("/metrics", tags=["system"], response_class=Response, responses={200: {"description": "Prometheus text format", "content": {METRICS_TYPE: {"schema": {"type": "string"}}}}})
        def metrics() -> Response:
            return Response(runtime.metrics.exposition(), media_type=METRICS_TYPE)


class BodyLimit:
    """413 for a request body over the limit: at once from Content-Length, or as soon as the stream passes it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            error = too_large("the request body", self.limit)
            await _error(error.status_code, _CODES[error.status_code], error.detail)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise too_large("the request body", self.limit)
            return message

        await self.app(scope, limited, send)


class RequestMetrics:
    """Latency per route template (not per URL, which would explode the label set), one access-log line
    per request, and a request id (the client's X-Request-ID or a new one) echoed in the response."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.histogram = runtime.metrics.requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else new_id()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, sending)
        finally:
            REQUEST_ID.reset(token)
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            self.histogram.labels(scope["method"], template, str(status)).observe(elapsed)
            access.info("request", extra={"request_id": request_id, "method": scope["method"], "route": template, "status": status, "ms": round(elapsed * 1000, 2)})


class SecurityHeaders:
    """A strict CSP and no framing on every answer: the console keeps the API key in localStorage on this
    origin, so nothing but its own scripts may run here and no other site may frame it (clickjacking)."""

    HEADERS = (
        (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
         b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in self.HEADERS if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, sending)
