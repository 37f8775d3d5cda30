"""The scorer's gRPC face (proto/goldenshot/v1/scorer.proto) over the same Scorer the REST API uses,
with the standard health service (Kubernetes' gRPC probe, grpc_health_probe) and server reflection
(grpcurl) beside it."""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Iterator
from concurrent import futures
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common.auth import HEADER
from services.common.catalog import Catalog
from services.common.logs import REQUEST_ID
from services.common.names import check_slug, display_name, new_id
from services.core.errors import ERRORS, BackendUnavailable, Busy, Conflict, DomainError, InvalidImage, InvalidRequest, NotFound, Unauthorized, Unavailable, Unprocessable
from services.core.models import Inspection, NearestGolden, Product
from services.proto.goldenshot.v1 import scorer_pb2 as pb
from services.proto.goldenshot.v1 import scorer_pb2_grpc as pb_grpc
from services.scorer.scorer import Scorer

if TYPE_CHECKING:
    from services.scorer.grpc_guard import CallGuard

STATUS: dict[type[DomainError], grpc.StatusCode] = {
    InvalidRequest: grpc.StatusCode.INVALID_ARGUMENT,
    InvalidImage: grpc.StatusCode.INVALID_ARGUMENT,
    Unprocessable: grpc.StatusCode.INVALID_ARGUMENT,
    Unauthorized: grpc.StatusCode.UNAUTHENTICATED,
    NotFound: grpc.StatusCode.NOT_FOUND,
    Conflict: grpc.StatusCode.FAILED_PRECONDITION,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    Busy: grpc.StatusCode.RESOURCE_EXHAUSTED,
}
access = logging.getLogger("goldenshot.access")
API_KEY_METADATA = HEADER.lower()
REQUEST_ID_METADATA = "x-request-id"
TENANT: ContextVar[str] = ContextVar("grpc_tenant")  # the caller's tenant, set by the guard before a handler runs


ERROR_KIND, ERROR_CODE = "goldenshot-error", "goldenshot-error-code"


def abort(context: grpc.ServicerContext, error: DomainError | BackendUnavailable) -> None:
    """The matching gRPC status, plus the domain error's class and code as trailing metadata, so a
    client (the ingest API) can raise exactly the error the scorer raised."""
    if isinstance(error, BackendUnavailable):
        error = Unavailable(f"{error.backend} is unavailable; try again later")
    kind = next(c for c in type(error).__mro__ if ERRORS.get(c.__name__) is c)  # InvalidName travels as InvalidRequest
    context.set_trailing_metadata(((ERROR_KIND, kind.__name__), (ERROR_CODE, error.code)))
    status = next((STATUS[c] for c in type(error).__mro__ if c in STATUS), grpc.StatusCode.INTERNAL)
    context.abort(status, error.message)


def inspection_message(product: Product, inspection: Inspection) -> pb.Inspection:
    regions = [
        pb.Region(
            x=r.bbox[0], y=r.bbox[1], width=r.bbox[2], height=r.bbox[3], area=r.area,
            peak_score=r.peak_score, mean_score=r.mean_score, polygon=[pb.Point(x=x, y=y) for x, y in r.polygon],
            nearest_golden=_nearest_golden(r.nearest_golden),
        )
        for r in inspection.regions
    ]
    return pb.Inspection(
        id=inspection.id, product=product.name, version=inspection.version, decision=inspection.decision, score=inspection.score,
        threshold=inspection.threshold, regions=regions, width=inspection.width, height=inspection.height, created_at=inspection.created_at,
        timings_ms=inspection.timings_ms,
    )


def _nearest_golden(near: NearestGolden | None) -> pb.NearestGolden | None:
    if near is None:
        return None
    return pb.NearestGolden(
        golden_id=near.golden_id or "", sample=near.sample, name=near.name, view=near.view, row=near.row, col=near.col,
        grid_h=near.grid_h, grid_w=near.grid_w, distance=near.distance,
    )


class ScorerService(pb_grpc.ScorerServicer):
    """Each call: tenant (authenticated by services.scorer.grpc_guard before the handler runs) -> product
    -> Scorer; a domain error becomes the matching status code."""

    def __init__(self, catalog: Catalog, scorer: Scorer) -> None:
        self.catalog = catalog
        self.scorer = scorer

    def _product(self, name: str, context: grpc.ServicerContext) -> Product:
        metadata = dict(context.invocation_metadata())
        REQUEST_ID.set(metadata.get(REQUEST_ID_METADATA) or new_id())  # each call runs in its own context
        check_slug(name, "product name")
        return self.catalog.products.get(TENANT.get(), name)

    def _inspect(self, request: pb.InspectRequest, context: grpc.ServicerContext) -> pb.Inspection:
        started = time.perf_counter()
        product = self._product(request.product, context)
        inspection = self.scorer.inspect(product, request.image, display_name(request.filename))
        access.info("grpc", extra={"method": "Inspect", "product": product.name, "decision": inspection.decision, "ms": round((time.perf_counter() - started) * 1000, 2)})
        return inspection_message(product, inspection)

    def Inspect(self, request: pb.InspectRequest, context: grpc.ServicerContext) -> pb.Inspection:
        try:
            return self._inspect(request, context)
        except (DomainError, BackendUnavailable) as exc:
            abort(context, exc)

    def InspectBatch(self, request_iterator: Iterator[pb.InspectRequest], context: grpc.ServicerContext) -> Iterator[pb.Inspection]:
        try:
            for request in request_iterator:
                yield self._inspect(request, context)
        except (DomainError, BackendUnavailable) as exc:
            abort(context, exc)

    def GetFingerprint(self, request: pb.GetFingerprintRequest, context: grpc.ServicerContext) -> pb.Fingerprint:
        try:
            product = self._product(request.product, context)
            if product.active_version is None:
                raise Conflict(f"product '{product.name}' has no fingerprint yet", code="no_fingerprint")
            active = self.catalog.versions.get(product.id, product.active_version)
        except (DomainError, BackendUnavailable) as exc:
            abort(context, exc)
        return pb.Fingerprint(
            product=product.name, version=active.version, threshold=active.threshold, pixel_threshold=active.pixel_threshold,
            coreset_rows=active.coreset_rows, sha256=active.sha256, created_at=active.created_at,
        )

    def Health(self, request: pb.HealthRequest, context: grpc.ServicerContext) -> pb.HealthReply:
        return pb.HealthReply(status="SERVING")


SCORER_SERVICE = pb.DESCRIPTOR.services_by_name["Scorer"].full_name


@dataclass(frozen=True)
class GrpcServer:
    server: grpc.Server
    health: health.HealthServicer
    guard: CallGuard
    port: int  # the bound one (a free port when 0 was asked for)

    def stop(self, grace: float) -> None:
        """Health answers NOT_SERVING first, so probes and balancers stop sending while calls drain."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace=grace).wait(grace * 2)
        self.guard.watchdog.stop()


def start_grpc(service: ScorerService, guard: CallGuard, host: str, port: int, max_message_bytes: int) -> GrpcServer:
    """Serve the scorer, health and reflection on host:port (0: a free port), every call through the guard
    (key, shares, stream deadlines), on as many threads as the guard's bounds need.

    The port is this process's alone: without SO_REUSEPORT a second server on the same port fails here,
    instead of silently sharing it and taking half of a line controller's calls.
    """
    options = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=guard.threads, thread_name_prefix="grpc"), options=options, interceptors=[guard])
    pb_grpc.add_ScorerServicer_to_server(service, server)
    checks = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(checks, server)
    reflection.enable_server_reflection((SCORER_SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:  # grpcio raises where older versions returned 0
        bound = 0
    if bound == 0:
        raise OSError(errno.EADDRINUSE, f"gRPC cannot listen on {host}:{port}: the port is in use (another scorer?) or the address is not local")
    server.start()
    guard.watchdog.start()
    for name in (health.OVERALL_HEALTH, SCORER_SERVICE):
        checks.set(name, health_pb2.HealthCheckResponse.SERVING)
    return GrpcServer(server, checks, guard, bound)
