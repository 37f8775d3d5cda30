"""The catalog's SQL schema: one table per entity, the same on SQLite (embedded) and PostgreSQL (a fleet).

Changing a column here changes every deployment's database: keep it compatible with existing files.
Changes are additive only: a new table, or a new column with a server default (or nullable), which
services.common.catalog adds to an older catalog when it opens it.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, BigInteger, Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text, UniqueConstraint, text

metadata = MetaData()

products = Table(
    "products",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("name", String(63), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", String(32), nullable=False),
    Column("active_version", Integer),
    Column("next_version", Integer, nullable=False, default=1),
    UniqueConstraint("tenant", "name"),
)

golden = Table(
    "golden",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("product_id", String(32), nullable=False, index=True),
    Column("sha256", String(64), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("object_key", String(200), nullable=False),
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("product_id", "sha256"),
)

versions = Table(
    "versions",
    metadata,
    Column("product_id", String(32), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("created_at", String(32), nullable=False),
    Column("threshold", Float, nullable=False),
    Column("pixel_threshold", Float, nullable=False),
    Column("threshold_source", String(32), nullable=False),
    Column("golden_count", Integer, nullable=False),
    Column("coreset_rows", Integer, nullable=False),
    Column("golden_scores", JSON, nullable=False),
    Column("build_seconds", Float, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("object_key", String(200), nullable=False),
    Column("collection", String(100), nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("product_id", String(32), nullable=False, index=True),
    Column("product", String(63), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("stage", String(32), nullable=False, default=""),
    Column("done", Integer, nullable=False, default=0),
    Column("total", Integer, nullable=False, default=0),
    Column("error", JSON),
    Column("params", JSON, nullable=False),
    Column("result", JSON),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", String(32), nullable=False),
    Column("started_at", String(32)),
    Column("finished_at", String(32)),
)

inspections = Table(
    "inspections",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("product_id", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("decision", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("pixel_threshold", Float, nullable=False),
    Column("regions", JSON, nullable=False),
    Column("filename", String(200), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("image_key", String(200), nullable=False),
    Column("map_key", String(200), nullable=False),
    Column("batch_id", String(32)),
    Column("feedback", String(32)),
    Column("timings_ms", JSON, nullable=False),
    Column("created_at", String(32), nullable=False),
    Index("ix_inspections_product_seq", "product_id", "seq"),
    Index("ix_inspections_batch", "batch_id"),
)

# what each inspection keeps in the object store (image and score map), for the retention policy;
# a row of its own so existing catalogs gain it without a migration (older inspections have none)
stored_images = Table(
    "stored_images",
    metadata,
    Column("inspection_id", String(40), primary_key=True),
    Column("product_id", String(32), nullable=False, index=True),
    Column("tenant", String(64), nullable=False),
    Column("nbytes", BigInteger, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("removed_at", String(32)),
    Index("ix_stored_images_tenant_kept", "tenant", "removed_at", "created_at"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("label", String(100), nullable=False, default=""),
    Column("created_at", String(32), nullable=False),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("product_id", String(32), primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("secret", String(200), nullable=False),
    Column("events", String(16), nullable=False),
    Column("created_at", String(32), nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("product_id", String(32), nullable=False),
    Column("inspection_id", String(40), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("secret", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_at", Float, nullable=False),
    Column("delivered", Boolean, nullable=False, default=False),
    Column("failed", Boolean, nullable=False, default=False),
    Column("last_error", String(300)),
    Index("ix_deliveries_due", "delivered", "failed", "next_at"),
)

sources = Table(
    "sources",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("product_id", String(32), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # folder | stream
    Column("target", String(2000), nullable=False),  # a folder path, a stream URL, a video file or a device index
    Column("fps", Float, nullable=False),  # stream: frames inspected per second
    Column("sort", Boolean, nullable=False),  # folder: move handled files into ok/, anomalous/, failed/
    Column("enabled", Boolean, nullable=False),  # started with the server
    Column("created_at", String(32), nullable=False),
    # stream: a frame inspected per trigger (POST .../trigger) instead of at fps; added after the table was (catalog._add_columns)
    Column("triggered", Boolean, nullable=False, server_default=text("false")),
)

mqtt_sinks = Table(
    "mqtt_sinks",
    metadata,
    Column("product_id", String(32), primary_key=True),
    Column("topic", String(256), nullable=False),  # template: {tenant}, {product}, {decision}
    Column("events", String(16), nullable=False),  # anomalous | all
    Column("cursor", Integer, nullable=False),  # the seq of the last inspection published (inspections is the outbox)
    Column("created_at", String(32), nullable=False),
)

labels = Table(
    "labels",
    metadata,
    Column("inspection_id", String(40), primary_key=True),  # one label per inspection: a new one replaces it
    Column("product_id", String(32), nullable=False),
    Column("label", String(32), nullable=False),  # confirmed_defect | false_alarm | missed_defect
    Column("note", Text, nullable=False, default=""),
    Column("actor", String(200), nullable=False),  # who: "tenant/key label", or "local"
    Column("created_at", String(32), nullable=False),
    Index("ix_labels_product_label", "product_id", "label"),
)

version_origins = Table(
    "version_origins",
    metadata,
    Column("product_id", String(32), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("parent_version", Integer, nullable=False),  # the version whose bank it reuses
    Column("actor", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)

activations = Table(
    "activations",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("product_id", String(32), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("previous_version", Integer),  # None: the product's first
    Column("actor", String(200), nullable=False),
    Column("created_at", String(32), nullable=False),
)

ignore_masks = Table(
    "ignore_masks",
    metadata,
    Column("product_id", String(32), primary_key=True),
    Column("shapes", JSON, nullable=False),  # goldenshot.masks shapes, normalised image coordinates
    Column("updated_at", String(32), nullable=False),
)

OPEN_STATES = ("queued", "running")


def now_iso() -> str:
    """UTC, ISO 8601 with microseconds, so string order is time order."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")
