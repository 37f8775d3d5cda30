"""One process's services wired to their adapters: the embedded server's composition root."""

from __future__ import annotations

import logging
import math
import os
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from goldenshot import threads
from goldenshot.features import build_extractor
from goldenshot.settings import Settings
from services.builder.build import Builder
from services.common.admission import DecodeBudget, Gate
from services.common.auth import DEFAULT_TENANT
from services.common.bus import BusUnavailable, JobBus, MemoryBus
from services.common.catalog import Catalog
from services.common.egress import EgressPolicy
from services.common.jobs import JobRunner
from services.common.lease import Lease
from services.common.metrics import Metrics
from services.common.mqtt import MqttPublisher
from services.common.objects import LocalObjectStore, ObjectStore
from services.common.settings import ServiceSettings
from services.common.triton_backbone import TritonBackbone
from services.common.vectors import EdgeVectorStore, QdrantVectorStore, VectorStore
from services.common.webhooks import WebhookSender, WebhookSettings
from services.core.defects import DefectLibrary
from services.core.drift import DriftMonitor, DriftSettings
from services.core.explanations import Explanations
from services.core.fingerprints import Fingerprints
from services.core.golden import GoldenSamples
from services.core.golden_health import GoldenHealth
from services.core.golden_patches import GoldenPatches
from services.core.inspections import Inspections
from services.core.labels import Labels
from services.core.masks import IgnoreMasks
from services.core.lines import Lines
from services.core.mqtt import MqttSinks
from services.core.products import Products
from services.core.retention import Retention
from services.core.sources import Sources
from services.core.tenants import keyless_products
from services.schemas import InspectionOut
from services.scorer.batch import BatchRunner
from services.scorer.client import RemoteScorer
from services.scorer.grpc_guard import CallGuard, CallLimits
from services.scorer.grpc_server import GrpcServer, ScorerService, start_grpc
from services.scorer.replay import ReplayRunner
from services.scorer.scorer import Scorer
from services.scorer.zeroshot_job import ZeroShotRunner

log = logging.getLogger(__name__)
FINGERPRINT_READY = "fingerprint-ready"


def catalog_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'catalog.db'}"


def private_dir(path: Path) -> Path:
    """The data dir, created or narrowed to its owner (0700): images, results and the catalog are a
    factory's data, and files created inside get the process's umask narrowed to match (0600)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    os.umask(0o077)
    return path


def open_object_store(service: ServiceSettings) -> ObjectStore:
    """S3 when configured, else files under the data dir."""
    if service.object_store == "s3":
        from services.common.objects_s3 import S3ObjectStore  # minio only where S3 is used

        secret = service.s3_secret_key.get_secret_value() if service.s3_secret_key else ""
        return S3ObjectStore(service.s3_endpoint or "", service.s3_access_key or "", secret, service.s3_bucket, service.s3_secure, service.s3_region)
    return LocalObjectStore(Path(service.data_dir) / "objects")


# the job kinds each role consumes
KINDS = {"all": ("build", "batch", "zeroshot", "replay"), "ingest": (), "builder": ("build",), "scorer": ("batch", "zeroshot", "replay")}


def open_vector_store(service: ServiceSettings) -> VectorStore:
    """A Qdrant server when configured, else the Qdrant engine in-process with its shards in the data dir."""
    if service.qdrant_url is not None:
        return QdrantVectorStore(service.qdrant_url, service.qdrant_api_key)
    return EdgeVectorStore(Path(service.data_dir) / "vectors", service.vector_search_threads)


def open_bus(service: ServiceSettings) -> JobBus:
    """NATS JetStream when configured (consuming the role's kinds), else the in-process queue; tenants
    take turns on both."""
    if service.bus == "nats":
        from services.common.bus_nats import NatsBus  # nats-py only where NATS is used

        kinds = KINDS[service.role] or KINDS["all"]
        return NatsBus(service.nats_url, kinds, service.nats_stream, service.job_max_deliver, service.job_ack_wait_s, fetch_window=service.job_fetch_window)
    return MemoryBus()


def queue_depth(bus: JobBus) -> float:
    """For the metrics gauge: NaN while the bus is unreachable, so /metrics still answers."""
    try:
        return bus.depth()
    except BusUnavailable:
        return math.nan


class Runtime:
    """Embedded adapters by default: SQLite catalog, local object store, Qdrant Edge, in-process bus
    and backbone; settings swap in S3, a Qdrant server, NATS JetStream and Triton.

    The role picks what runs: "all" is the embedded server; "ingest" serves REST and scores through the
    scorer service (scorer_url); "builder" consumes build jobs; "scorer" serves gRPC and REST and
    consumes batch jobs. Every role shares the catalog (catalog_url), objects and vectors.
    """

    def __init__(self, service: ServiceSettings, engine: Settings) -> None:
        self.service = service
        self.engine = engine
        data = private_dir(Path(service.data_dir))
        threads.share.set_threads(engine.threads)
        self.catalog = Catalog(service.catalog_url or catalog_url(data))
        self.objects = open_object_store(service)
        self.vectors = open_vector_store(service)
        self.patches = GoldenPatches(self.catalog, self.objects, self.vectors)
        self.defects = DefectLibrary(self.catalog, self.objects, self.vectors)
        self.bus = open_bus(service)
        self.metrics = Metrics(queue_depth=lambda: queue_depth(self.bus), oldest_open_job=self.catalog.jobs.oldest_open_age)
        self.egress = EgressPolicy(service.webhook_allow)
        hooks = WebhookSettings(service.webhook_timeout_s, service.webhook_retry_for_s, service.webhook_backoff_s, service.webhook_backoff_max_s, service.webhook_senders)
        self.webhooks = WebhookSender(self.catalog, self.metrics, lambda product, row: InspectionOut.of(product, row).model_dump_json(), hooks, self.egress)
        self.runner = JobRunner(self.catalog, self.bus, self.metrics, service.max_open_jobs)
        self.budget = DecodeBudget(
            service.decode_budget_pixels,
            service.decode_budget_per_tenant,
            service.decode_wait_s,
            service.retry_after_s,
            service.decode_cpu_per_tenant,
            yield_nice=service.decode_yield_nice,
            yield_pixels=service.decode_yield_pixels,
        )
        # REST inspections in flight: the ones scoring plus a short queue; beyond it 503 / 429 at once
        self.inspect_gate = Gate(service.inference_slots + service.inspect_queue, service.inspect_per_tenant, service.retry_after_s)
        drift = DriftSettings(service.drift_window, service.drift_min_inspections, service.drift_high, service.drift_low, service.drift_every)
        self.drift = DriftMonitor(self.catalog, drift)
        self.mqtt_sinks = MqttSinks(self.catalog)
        self.mqtt: MqttPublisher | None = None  # in the embedded server and every ingest replica; one holds the lease and publishes
        if service.role in ("all", "ingest") and service.mqtt_host is not None:
            password = service.mqtt_password.get_secret_value() if service.mqtt_password else None
            self.mqtt = MqttPublisher(
                self.catalog, lambda product, row: InspectionOut.of(product, row).model_dump_json(), service.mqtt_host, service.mqtt_port,
                service.mqtt_client_id, service.mqtt_username, password, service.mqtt_poll_s, service.mqtt_timeout_s, service.mqtt_retry_s,
                Lease(self.catalog.engine, "mqtt-publisher"),
            )
        self.scorer: Scorer | RemoteScorer | None = None  # None in the builder, which serves no API
        self.scores_here = service.role in ("all", "scorer") or (service.role == "ingest" and service.scorer_url is None)
        if service.role == "ingest" and service.scorer_url is not None:
            max_message = engine.limits.max_bytes + 2**20
            self.scorer = RemoteScorer(self.catalog, service.scorer_url, service.triton_timeout_s + 30.0, max_message)
        if self.scores_here or service.role == "builder":
            served = TritonBackbone(service.triton_url, service.triton_model, service.triton_timeout_s) if service.features == "triton" else None
            self.extractor = build_extractor(engine, served)
        if self.scores_here:
            self.scorer = Scorer(
                self.catalog, self.objects, self.extractor, engine, self.metrics, service.inference_slots, service.hot_products, self.webhooks, self.budget, self.defects,
                self.drift, self.mqtt.wake if self.mqtt is not None else None,
            )
            self.runner.handlers["batch"] = BatchRunner(self.catalog, self.objects, self.scorer)
            self.runner.handlers["zeroshot"] = ZeroShotRunner(self.catalog, self.objects, self.scorer, self.extractor, engine)
            self.runner.handlers["replay"] = ReplayRunner(self.catalog, self.objects, self.scorer)
        if service.role in ("all", "builder"):
            self.runner.handlers["build"] = Builder(self.catalog, self.objects, self.patches, self.extractor, engine, self._fingerprint_ready, self.budget)
        if self.scorer is not None:  # the use cases the APIs serve
            self.products = Products(self.catalog, self.objects, self.vectors, self.scorer, self.egress, service.max_products)
            self.golden = GoldenSamples(self.catalog, self.objects, engine.limits.max_pixels, service.max_golden, self.budget)
            self.fingerprints = Fingerprints(self.catalog, self.objects, self.vectors, self.runner, service.replay_max)
            self.inspections = Inspections(self.catalog, self.objects, self.scorer, self.runner, self.golden, engine.limits.max_pixels, service.page_limit)
            self.labels = Labels(self.catalog, self.objects, self.golden, self.defects, service.note_max_chars, service.tuning_limit)
            self.masks = IgnoreMasks(self.catalog, service.max_mask_shapes)
            self.golden_health = GoldenHealth(self.catalog, self.objects, service.golden_outlier_ratio)
            self.explanations = Explanations(self.catalog, self.patches, self.defects, service.explain_top_k, service.similar_limit)
        self.sources: Sources | None = None  # folders and streams feed the scorer in this process
        if self.scores_here:
            self.sources = Sources(
                self.catalog, self.scorer, data, service.source_roots,
                EgressPolicy(service.source_url_allow, "source", "GOLDENSHOT_SERVER_SOURCE_URL_ALLOW"),
                service.source_poll_s, service.source_settle_s, service.source_retry_s, service.source_max_fps, service.source_events,
            )
        self.lines = Lines(self.catalog, self.sources)
        # sweeps where inspections are written (the embedded server, the scorers); idempotent across replicas
        self.retention = Retention(self.catalog, self.objects, self.metrics, service.retention_days, service.retention_bytes_per_tenant, service.retention_sweep_s)
        self.grpc: GrpcServer | None = None
        self.metrics_server: WSGIServer | None = None
        self.repair: threading.Thread | None = None

    def start(self) -> None:
        if self.service.require_api_key and self.service.role in ("all", "ingest"):
            self._warn_keyless()
        if self.service.metrics_port is not None:
            self.metrics_server, _ = start_http_server(self.service.metrics_port, addr=self.service.host, registry=self.metrics.registry)
        if self.service.role in ("all", "builder"):  # the roles that write collections keep them whole
            # every version's collection found (or rebuilt from its fingerprint file) off the start path
            self.repair = threading.Thread(target=self.patches.reconcile, name="vector-repair", daemon=True)
            self.repair.start()
        if self.scores_here:
            self.defects.start()
        self.runner.start(KINDS[self.service.role], self.service.job_workers)
        if self.scores_here:
            self.webhooks.start()
            self.bus.subscribe_events(FINGERPRINT_READY, self._warm)
            self.sources.start()
            self.retention.start()
        if self.mqtt is not None:
            self.mqtt.start()
        if self.service.role in ("all", "scorer") and self.service.grpc_port is not None:
            s = self.service
            limits = CallLimits(s.grpc_max_calls, s.grpc_calls_per_peer, s.grpc_calls_per_tenant, s.grpc_health_threads, s.grpc_stream_idle_s, s.grpc_stream_max_s)
            guard = CallGuard(self.catalog, s.require_api_key, limits)
            max_message = self.engine.limits.max_bytes + 2**20
            self.grpc = start_grpc(ScorerService(self.catalog, self.scorer), guard, s.host, s.grpc_port, max_message)
            log.info("gRPC scorer listening", extra={"address": f"{self.service.host}:{self.grpc.port}"})

    def _warn_keyless(self) -> None:
        """Name the products no key can see now that keys are required, and the command that fixes it:
        products made while keys were optional belong to the default tenant, which has no key by default."""
        hidden = keyless_products(self.catalog)
        if not hidden:
            return
        data_dir = f" --data-dir {self.service.data_dir}"
        commands = [f"goldenshot keys adopt TENANT{data_dir}" if tenant == DEFAULT_TENANT else f"goldenshot keys create {tenant}{data_dir}" for tenant in hidden]
        log.warning(
            "%d product(s) belong to tenants without an API key: no key can see them. Run: %s",
            sum(hidden.values()), "; ".join(commands),
            extra={"event": "keyless_products", "products": sum(hidden.values()), "tenants": hidden, "commands": commands},
        )

    def _fingerprint_ready(self, product_id: str, version: int) -> None:
        """Tell the scorers, so they load the new bank before its first inspection needs it."""
        try:
            self.bus.publish_event(FINGERPRINT_READY, {"product_id": product_id, "version": version})
        except BusUnavailable as exc:  # only a warm-up is lost: scorers load on first use
            log.warning("fingerprint-ready event not sent: %s", exc)

    def _warm(self, payload: dict) -> None:
        product = self.catalog.products.by_id(str(payload.get("product_id")))
        if product is not None and product.active_version is not None:
            self.scorer.ready(product)

    def close(self) -> None:
        if self.metrics_server is not None:
            self.metrics_server.shutdown()
        if self.grpc is not None:
            self.grpc.stop(grace=5)
        if isinstance(self.scorer, RemoteScorer):
            self.scorer.close()
        if self.sources is not None:  # before the bus and stores they feed close
            self.sources.close()
        if self.mqtt is not None:
            self.mqtt.close()
        self.retention.close()
        self.bus.close()
        self.webhooks.close()
        self.defects.close()
        if self.repair is not None:
            self.repair.join(timeout=60)
        self.vectors.close()
        self.catalog.engine.dispose()
