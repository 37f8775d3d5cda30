"""The services' configuration in one typed object, read from env (GOLDENSHOT_SERVER_*) and the CLI.

The engine's own settings (backbone, coreset, scoring...) stay in goldenshot.settings.Settings,
read from GOLDENSHOT_*; a service holds one of each. Defaults are safe: loopback only, CORS closed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Where the server listens, where it keeps data, and the limits it enforces on clients."""

    model_config = SettingsConfigDict(env_prefix="GOLDENSHOT_SERVER_", extra="ignore")

    # which parts run in this process: "all" (the embedded server), or one deployable of the fleet
    role: Literal["all", "ingest", "builder", "scorer"] = "all"
    scorer_url: str | None = None
    # /metrics on its own port (Prometheus only, by NetworkPolicy) instead of the API port; None: API port
    metrics_port: int | None = Field(None, ge=1, le=65535)  # ingest: the scorer service's gRPC host:port; None: score in-process
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    grpc_port: int | None = Field(50051, ge=0, le=65535)  # the scorer's gRPC API on `host`; None: off, 0: any free port
    data_dir: Path = Path("data")
    # SQLAlchemy URL of the catalog the services share (PostgreSQL in a fleet); None: SQLite in data_dir
    catalog_url: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"  # JSON lines on stderr; INFO logs each request
    # console build served at / when it exists (services/console/dist after `make console`)
    console_dir: Path = Path(__file__).resolve().parents[1] / "console" / "dist"

    features: Literal["local", "triton"] = "local"  # the backbone in-process, or served by Triton
    triton_url: str = "127.0.0.1:8001"  # Triton's gRPC endpoint
    triton_model: str = "backbone"
    triton_timeout_s: float = Field(10.0, gt=0)

    object_store: Literal["local", "s3"] = "local"  # local: files under data_dir/objects
    s3_endpoint: str | None = None  # host:port of MinIO / any S3, no scheme
    s3_access_key: str | None = None  # with the secret: from env only, never a CLI flag
    s3_secret_key: SecretStr | None = None
    s3_bucket: str = "goldenshot"  # created when missing
    s3_secure: bool = False  # TLS
    s3_region: str = "us-east-1"

    bus: Literal["memory", "nats"] = "memory"  # memory: jobs run in this process only
    nats_url: str = "nats://127.0.0.1:4222"
    nats_stream: str = "GOLDENSHOT_JOBS"  # JetStream stream of job messages (created when missing)
    job_max_deliver: int = Field(5, ge=1)  # deliveries of a job message before it goes to goldenshot.jobs.dead
    job_ack_wait_s: float = Field(600.0, gt=0)  # a worker silent this long loses its job to another (heartbeats every third)
    # jobs a worker process takes from NATS at once, running ones included (at least job_workers): tenants take
    # turns among them. Larger: fairer over a longer backlog; but the waiting ones cannot go to another replica
    job_fetch_window: int = Field(16, ge=1)

    qdrant_url: str | None = None  # a Qdrant server; None: the Qdrant Edge engine in-process, shards in data_dir/vectors
    qdrant_api_key: str | None = None
    vector_search_threads: int | None = Field(1, ge=1)  # Qdrant Edge search threads per shard; None: one per CPU
    explain_top_k: int = Field(5, ge=1, le=50)  # golden patches per region that /explain returns at most
    similar_limit: int = Field(10, ge=1, le=100)  # past inspections that /similar returns at most

    require_api_key: bool = False  # False: requests without a key act as tenant "default"
    cors_origins: list[str] = []  # closed unless listed

    max_request_bytes: int = Field(256 * 2**20, ge=1024)  # whole request body
    max_files: int = Field(200, ge=1)  # parts per multipart upload
    max_golden: int = Field(200, ge=1)  # golden samples per product
    max_products: int = Field(1000, ge=1)  # products per tenant (a quota)
    max_open_jobs: int = Field(20, ge=1)  # jobs queued or running per tenant (a quota); more get 429
    page_limit: int = Field(200, ge=1)  # most items per page of a list
    tuning_limit: int = Field(5000, ge=1)  # newest inspections whose scores threshold tuning is shown
    replay_max: int = Field(500, ge=1)  # most stored inspections one replay job scores again
    note_max_chars: int = Field(2000, ge=1)  # a label's note
    max_mask_shapes: int = Field(32, ge=1, le=256)  # rectangles and polygons in a product's ignore mask

    # drift (services/core/drift.py): the recent scores of the active version against its golden leave-one-out scores
    drift_window: int = Field(100, ge=5)  # the last N inspections compared
    drift_min_inspections: int = Field(20, ge=5)  # fewer than this: no verdict yet
    drift_high: float = Field(1.2, gt=1.0)  # flagged when the recent median is this many times the golden one or more ...
    drift_low: float = Field(0.8, gt=0.0, lt=1.0)  # ... or this fraction of it or less (tile test goods sit at 1.05, a threshold near 1.3)
    drift_every: int = Field(10, ge=1)  # the scorer refreshes the drift gauge every N inspections of a product
    # golden sample health: a sample kept in the bank whose leave-one-out score is this many times the
    # median of the others' is flagged as an outlier (a wrong-product photo raises the threshold silently)
    golden_outlier_ratio: float = Field(1.4, gt=1.0)

    # inspections scored at once; they share the engine's threads (goldenshot.threads): one alone uses
    # them all, two on two threads use one each, faster together than one after the other
    inference_slots: int = Field(2, ge=1)
    # REST inspections waiting for a slot beyond the ones scoring; more get 503 + Retry-After at once
    inspect_queue: int = Field(16, ge=0)
    inspect_per_tenant: int = Field(8, ge=1)  # one tenant's inspections in flight (REST); more get 429
    retry_after_s: int = Field(1, ge=1)  # the Retry-After of a 503/429 for saturation
    # decoded pixels in flight over every decode (uploads, builds, batches), taken from the header before decoding;
    # an image waits for room: bounds decode memory, not only one image. A decode of one pixel peaks near 20 bytes
    # (RGB, copies, the library's float resize), so the default keeps decoding near 1.3 GB
    decode_budget_pixels: int = Field(64_000_000, ge=1_000_000)
    decode_budget_per_tenant: int = Field(32_000_000, ge=1_000_000)  # one tenant's share: the rest stays for the others
    decode_wait_s: float = Field(30.0, gt=0)  # the longest a decode waits for budget before 503
    # core-seconds of decoding one tenant may use per second in the long run (1 s of burst free): huge pictures
    # from one tenant leave the other cores to the others (issue 20); 0.5 is a 24 MP JPEG line at several frames/s
    decode_cpu_per_tenant: float = Field(0.5, gt=0)
    # a tenant past that share decodes on threads this much nicer than the rest (0: same priority), so the cores
    # go to other tenants' inferences first; it still gets what they leave
    decode_yield_nice: int = Field(10, ge=0, le=19)
    decode_yield_pixels: int = Field(16_000_000, ge=1)  # photos this large decode on those threads too: bulk work
    job_workers: int = Field(1, ge=1)  # builds and batches run at once
    hot_products: int = Field(32, ge=1)  # fingerprints kept hot in memory (least recently used dropped)

    # gRPC: Scorer calls at once (all clients), per client address and per tenant; more get RESOURCE_EXHAUSTED.
    # Health has threads of its own beyond these, so a probe never queues behind work.
    grpc_max_calls: int = Field(16, ge=1)
    grpc_calls_per_peer: int = Field(8, ge=1)
    grpc_calls_per_tenant: int = Field(8, ge=1)
    grpc_health_threads: int = Field(2, ge=1)
    grpc_stream_idle_s: float = Field(30.0, gt=0)  # a stream that sends nothing this long is cancelled
    grpc_stream_max_s: float = Field(600.0, gt=0)  # and none lives longer than this

    webhook_timeout_s: float = Field(5.0, gt=0)
    # a receiver that is down is retried with backoff (doubling from backoff_s, capped at backoff_max_s)
    # for retry_for_s, in order per product; then the delivery is failed, listed and can be replayed
    webhook_retry_for_s: float = Field(86400.0, gt=0)
    webhook_backoff_s: float = Field(1.0, gt=0)
    webhook_backoff_max_s: float = Field(600.0, gt=0)
    webhook_senders: int = Field(4, ge=1)  # deliveries in flight at once; each tenant has at most one of them
    # internal webhook targets allowed (CIDRs such as the plant network's "10.20.0.0/16", or host names);
    # every other target must resolve to public addresses only: loopback, link-local (cloud metadata),
    # private and unspecified addresses are refused, checked again at each delivery
    webhook_allow: list[str] = []

    # retention (docs/server.md): inspection images and maps removed oldest first past an age or a
    # per-tenant byte budget; results are kept. None: no bound (the disk is the bound: set one for a line)
    retention_days: float | None = Field(None, gt=0)
    retention_bytes_per_tenant: int | None = Field(None, gt=0)
    retention_sweep_s: float = Field(300.0, gt=0)  # how often the policy is applied

    # sources (docs/line.md): folders and video files only below these roots; none listed: folder and file sources refused
    source_roots: list[Path] = []
    source_poll_s: float = Field(0.2, gt=0, le=60)  # how often a folder source looks for new files
    source_settle_s: float = Field(0.5, ge=0, le=600)  # a file unchanged this long is complete
    # a file closed by its writer or moved in is complete at once (Linux inotify); settle still covers what no event reports
    source_events: bool = True
    source_retry_s: float = Field(5.0, gt=0, le=3600)  # wait before reopening a stream or retrying after an error
    source_max_fps: float = Field(30.0, gt=0)  # frames per second a stream source may ask for at most
    # internal camera addresses stream sources may open (CIDRs such as the cameras' "10.30.0.0/16", or host
    # names), checked like webhook_allow when set and at each (re)open; device indexes need no entry
    source_url_allow: list[str] = []

    # the MQTT sink (docs/line.md): no host, no publisher (sinks can be set; they publish once one is configured)
    mqtt_host: str | None = None
    mqtt_port: int = Field(1883, ge=1, le=65535)
    mqtt_client_id: str = Field("goldenshot", min_length=1, max_length=23)  # 23: what every MQTT 3.1.1 broker accepts
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None  # from env only
    mqtt_poll_s: float = Field(0.05, gt=0, le=60)  # how often new results are looked for
    mqtt_timeout_s: float = Field(5.0, gt=0)  # CONNACK / PUBACK wait
    mqtt_retry_s: float = Field(2.0, gt=0, le=3600)  # wait before reconnecting to a broker that is down

    @model_validator(mode="after")
    def _s3_complete(self) -> ServiceSettings:
        if self.object_store == "s3":
            missing = [name for name in ("s3_endpoint", "s3_access_key", "s3_secret_key") if not getattr(self, name)]
            if missing:
                raise ValueError(f"object_store=s3 needs {', '.join('GOLDENSHOT_SERVER_' + m.upper() for m in missing)}")
            if "://" in str(self.s3_endpoint):
                raise ValueError("s3_endpoint is host:port without a scheme (s3_secure selects TLS)")
        return self
