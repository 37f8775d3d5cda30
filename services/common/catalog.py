"""The catalog: products, golden samples, fingerprint versions, jobs, inspections, keys, webhooks.

Metadata lives in SQL (SQLite file in the data dir by default; any SQLAlchemy URL, e.g. PostgreSQL,
for several ingest replicas); bytes live in the object store. Each change is one transaction, so a
failed request or a crash leaves either the old state or the new one, never half of it.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, text

from services.core.errors import NotFound
from services.core.repositories.golden import GoldenRepository
from services.core.repositories.inspections import InspectionRepository, queued
from services.core.repositories.products import ProductRepository
from services.core.repositories.versions import VersionRepository
from services.core.tables import OPEN_STATES, api_keys, deliveries, jobs, metadata, now_iso, webhooks


def _row(row: Any) -> dict | None:
    return None if row is None else dict(row._mapping)


class Catalog:
    """All metadata reads and writes; each method is one transaction. Entities moved to their own
repository (services/core/repositories/) are attributes: catalog.products, .golden, .versions, .inspections."""

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
        self.inspections = InspectionRepository(self.engine)

    def _all(self, query: Any) -> list[dict]:
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query).all()]

    def _first(self, query: Any) -> dict | None:
        with self.engine.connect() as conn:
            return _row(conn.execute(query).first())

    def _one(self, query: Any, missing: str) -> dict:
        row = self._first(query)
        if row is None:
            raise NotFound(missing)
        return row

    def _scalar(self, query: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def ping(self) -> None:
        """Raises when the database cannot answer (readiness)."""
        with self.engine.connect() as conn:
            conn.execute(select(1))

    # jobs
    def create_job(self, row: dict) -> dict:
        with self.engine.begin() as conn:
            conn.execute(jobs.insert().values(**row, state="queued", stage="queued", done=0, total=0, attempts=0, created_at=now_iso()))
        return self.job(row["id"])

    def job(self, job_id: str, tenant: str | None = None) -> dict:
        query = select(jobs).where(jobs.c.id == job_id)
        if tenant is not None:
            query = query.where(jobs.c.tenant == tenant)
        return self._one(query, f"job '{job_id}' does not exist")

    def jobs(self, tenant: str, product_id: str | None, state: str | None, limit: int) -> list[dict]:
        query = select(jobs).where(jobs.c.tenant == tenant)
        if product_id is not None:
            query = query.where(jobs.c.product_id == product_id)
        if state is not None:
            query = query.where(jobs.c.state == state)
        return self._all(query.order_by(jobs.c.created_at.desc()).limit(limit))

    def open_jobs(self, product_id: str | None = None) -> list[dict]:
        """Jobs queued or interrupted mid-run, oldest first: what a restart must run again."""
        query = select(jobs).where(jobs.c.state.in_(OPEN_STATES))
        if product_id is not None:
            query = query.where(jobs.c.product_id == product_id)
        return self._all(query.order_by(jobs.c.created_at))

    def oldest_open_job_age(self) -> float:
        """Seconds since the oldest open job was created; 0 with none (a metric: stuck jobs)."""
        oldest = self._scalar(select(func.min(jobs.c.created_at)).where(jobs.c.state.in_(OPEN_STATES)))
        return 0.0 if oldest is None else (datetime.now(timezone.utc) - datetime.fromisoformat(oldest)).total_seconds()

    def update_job(self, job_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(**values))

    def start_job(self, job_id: str) -> dict | None:
        """Mark a queued (or interrupted) job running; None if it is already finished or gone."""
        with self.engine.begin() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
            if row is None or row.state not in OPEN_STATES:
                return None
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(state="running", started_at=now_iso(), attempts=row.attempts + 1))
        return self.job(job_id)

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
