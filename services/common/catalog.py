"""The catalog: one SQL database holding every entity's repository (services/core/repositories/).

Metadata lives in SQL (SQLite file in the data dir by default; any SQLAlchemy URL, e.g. PostgreSQL,
for several ingest replicas); bytes live in the object store. Each change is one transaction, so a
failed request or a crash leaves either the old state or the new one, never half of it.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select, text

from services.core.repositories.golden import GoldenRepository
from services.core.repositories.history import HistoryRepository
from services.core.repositories.inspections import InspectionRepository
from services.core.repositories.jobs import JobRepository
from services.core.repositories.keys import KeyRepository
from services.core.repositories.labels import LabelRepository
from services.core.repositories.masks import IgnoreMaskRepository
from services.core.repositories.mqtt import MqttSinkRepository
from services.core.repositories.products import ProductRepository
from services.core.repositories.sources import SourceRepository
from services.core.repositories.stored_images import StoredImageRepository
from services.core.repositories.versions import VersionRepository
from services.core.repositories.webhooks import DeliveryRepository, WebhookRepository
from services.core.tables import metadata


class Catalog:
    """The engine, the schema created once, and one repository per entity."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url, connect_args={"check_same_thread": False} if url.startswith("sqlite") else {})
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        with self.engine.begin() as conn:
            if conn.dialect.name == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
                # webhook secrets are in here: the owner only (SQLite gives its -wal and -shm files the same mode)
                os.chmod(self.engine.url.database, 0o600)
            if conn.dialect.name == "postgresql":  # three services starting at once must not race on CREATE TABLE
                conn.execute(text("SELECT pg_advisory_xact_lock(7429113)"))
            metadata.create_all(conn)
            _add_columns(conn)
        self.products = ProductRepository(self.engine)
        self.golden = GoldenRepository(self.engine)
        self.versions = VersionRepository(self.engine)
        self.jobs = JobRepository(self.engine)
        self.inspections = InspectionRepository(self.engine)
        self.stored = StoredImageRepository(self.engine)
        self.webhooks = WebhookRepository(self.engine)
        self.deliveries = DeliveryRepository(self.engine)
        self.keys = KeyRepository(self.engine)
        self.sources = SourceRepository(self.engine)
        self.mqtt = MqttSinkRepository(self.engine)
        self.labels = LabelRepository(self.engine)
        self.history = HistoryRepository(self.engine)
        self.masks = IgnoreMaskRepository(self.engine)

    def ping(self) -> None:
        """Raises when the database cannot answer (readiness)."""
        with self.engine.connect() as conn:
            conn.execute(select(1))


def _add_columns(conn: Connection) -> None:
    """Columns added to a table since a catalog was made, added to it (create_all makes missing tables
    only). Only additive changes are allowed in services/core/tables.py, each new column with a server
    default or nullable, so ADD COLUMN is all an older catalog needs."""
    found = inspect(conn)
    for table in metadata.sorted_tables:
        have = {c["name"] for c in found.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have:
                kind = column.type.compile(dialect=conn.dialect)
                default = f" DEFAULT {column.server_default.arg}" if column.server_default is not None else ""
                conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}{default}'))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL: readers never wait for the writer; a crash mid-transaction rolls back on the next open."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
