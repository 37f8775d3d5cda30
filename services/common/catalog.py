"""The catalog: products, golden samples, fingerprint versions, jobs, inspections, keys, webhooks.

Metadata lives in SQL (SQLite file in the data dir by default; any SQLAlchemy URL, e.g. PostgreSQL,
for several ingest replicas); bytes live in the object store. Each change is one transaction, so a
failed request or a crash leaves either the old state or the new one, never half of it.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, text

from services.core.repositories.golden import GoldenRepository
from services.core.repositories.inspections import InspectionRepository, queued
from services.core.repositories.jobs import JobRepository
from services.core.repositories.products import ProductRepository
from services.core.repositories.versions import VersionRepository
from services.core.tables import api_keys, deliveries, metadata, now_iso, webhooks


def _row(row: Any) -> dict | None:
    return None if row is None else dict(row._mapping)


class Catalog:
    """All metadata reads and writes; each method is one transaction. Entities moved to their own
repository (services/core/repositories/) are attributes: catalog.products, .golden, .versions, .jobs, .inspections."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url, connect_args={"check_same_thread": False} if url.startswith("sqlite") else {})
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # three services starting at once must not race on CREATE TABLE
                conn.execute(text("SELECT pg_advisory_xact_lock(7429113)"))
            metadata.create_all(conn)
        self.products = ProductRepository(self.engine)
        self.golden = GoldenRepository(self.engine)
        self.versions = VersionRepository(self.engine)
        self.jobs = JobRepository(self.engine)
        self.inspections = InspectionRepository(self.engine)

    def _all(self, query: Any) -> list[dict]:
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query).all()]

    def _first(self, query: Any) -> dict | None:
        with self.engine.connect() as conn:
            return _row(conn.execute(query).first())

    def _scalar(self, query: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def ping(self) -> None:
        """Raises when the database cannot answer (readiness)."""
        with self.engine.connect() as conn:
            conn.execute(select(1))

    # API keys
    def add_key(self, key_hash: str, tenant: str, label: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(api_keys.insert().values(key_hash=key_hash, tenant=tenant, label=label, created_at=now_iso()))

    def key(self, key_hash: str) -> dict | None:
        return self._first(select(api_keys).where(api_keys.c.key_hash == key_hash))

    def keys(self) -> list[dict]:
        return self._all(select(api_keys.c.tenant, api_keys.c.label, api_keys.c.created_at))

    def revoke_keys(self, tenant: str) -> int:
        with self.engine.begin() as conn:
            return conn.execute(api_keys.delete().where(api_keys.c.tenant == tenant)).rowcount

    # webhooks and their delivery outbox
    def set_webhook(self, product_id: str, url: str, secret: str, events: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(webhooks.delete().where(webhooks.c.product_id == product_id))
            conn.execute(webhooks.insert().values(product_id=product_id, url=url, secret=secret, events=events, created_at=now_iso()))

    def webhook(self, product_id: str) -> dict | None:
        return self._first(select(webhooks).where(webhooks.c.product_id == product_id))

    def delete_webhook(self, product_id: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(webhooks.delete().where(webhooks.c.product_id == product_id)).rowcount > 0

    def enqueue_delivery(self, row: dict) -> None:
        with self.engine.begin() as conn:
            conn.execute(deliveries.insert().values(**queued(row)))

    def due_deliveries(self, now: float, limit: int = 20) -> list[dict]:
        query = select(deliveries).where(deliveries.c.delivered.is_(False), deliveries.c.failed.is_(False), deliveries.c.next_at <= now)
        return self._all(query.order_by(deliveries.c.next_at).limit(limit))

    def claim_delivery(self, seq: int, seen_next_at: float, lease_s: float) -> bool:
        """Take a due delivery for lease_s seconds; False if another sender (replica) took it first."""
        with self.engine.begin() as conn:
            taken = conn.execute(
                deliveries.update().where(deliveries.c.seq == seq, deliveries.c.next_at == seen_next_at).values(next_at=time.time() + lease_s)
            )
        return taken.rowcount == 1

    def next_delivery_at(self) -> float | None:
        query = select(func.min(deliveries.c.next_at)).where(deliveries.c.delivered.is_(False), deliveries.c.failed.is_(False))
        return self._scalar(query)

    def update_delivery(self, seq: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(deliveries.update().where(deliveries.c.seq == seq).values(**values))

    def deliveries(self, product_id: str) -> list[dict]:
        return self._all(select(deliveries).where(deliveries.c.product_id == product_id).order_by(deliveries.c.seq))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL: readers never wait for the writer; a crash mid-transaction rolls back on the next open."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
