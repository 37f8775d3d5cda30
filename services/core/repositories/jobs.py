"""Jobs and their state machine: queued -> running -> succeeded | failed, back to queued on a retry."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, func, select

from services.core.errors import NotFound
from services.core.models import Job, JobKind
from services.core.tables import OPEN_STATES, jobs, now_iso


class JobRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, job_id: str, tenant: str, product_id: str, product: str, kind: JobKind, params: dict[str, Any]) -> Job:
        with self.engine.begin() as conn:
            conn.execute(jobs.insert().values(
                id=job_id, tenant=tenant, product_id=product_id, product=product, kind=kind, params=params,
                state="queued", stage="queued", done=0, total=0, attempts=0, created_at=now_iso(),
            ))
        return self.get(job_id)

    def get(self, job_id: str, tenant: str | None = None) -> Job:
        """tenant: only that tenant's job (an API caller); None: any (a worker)."""
        query = select(jobs).where(jobs.c.id == job_id)
        if tenant is not None:
            query = query.where(jobs.c.tenant == tenant)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"job '{job_id}' does not exist")
        return Job.model_validate(row._mapping)

    def list(self, tenant: str, product_id: str | None, state: str | None, limit: int) -> list[Job]:
        """Newest first."""
        query = select(jobs).where(jobs.c.tenant == tenant)
        if product_id is not None:
            query = query.where(jobs.c.product_id == product_id)
        if state is not None:
            query = query.where(jobs.c.state == state)
        return self._all(query.order_by(jobs.c.created_at.desc()).limit(limit))

    def open(self, product_id: str | None = None) -> list[Job]:
        """Jobs queued or interrupted mid-run, oldest first: what a restart must run again."""
        query = select(jobs).where(jobs.c.state.in_(OPEN_STATES))
        if product_id is not None:
            query = query.where(jobs.c.product_id == product_id)
        return self._all(query.order_by(jobs.c.created_at))

    def open_builds(self, product_ids: list[str]) -> dict[str, Job]:
        """The newest open build of each product that has one, in one query (a page of products)."""
        query = select(jobs).where(jobs.c.product_id.in_(product_ids), jobs.c.kind == "build", jobs.c.state.in_(OPEN_STATES)).order_by(jobs.c.created_at)
        return {job.product_id: job for job in self._all(query)}  # the newest last, so it stays

    def open_count(self, tenant: str) -> int:
        """The tenant's jobs queued or running."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(jobs).where(jobs.c.tenant == tenant, jobs.c.state.in_(OPEN_STATES))).scalar_one()

    def oldest_open_age(self) -> float:
        """Seconds since the oldest open job was created; 0 with none (a metric: stuck jobs)."""
        with self.engine.connect() as conn:
            oldest = conn.execute(select(func.min(jobs.c.created_at)).where(jobs.c.state.in_(OPEN_STATES))).scalar_one()
        return 0.0 if oldest is None else (datetime.now(timezone.utc) - datetime.fromisoformat(oldest)).total_seconds()

    def update(self, job_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(**values))

    def start(self, job_id: str) -> Job | None:
        """Mark a queued (or interrupted) job running; None if it is already finished or gone."""
        with self.engine.begin() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
            if row is None or row.state not in OPEN_STATES:
                return None
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(state="running", started_at=now_iso(), attempts=row.attempts + 1))
        return self.get(job_id)

    def _all(self, query: Any) -> list[Job]:
        with self.engine.connect() as conn:
            return [Job.model_validate(r._mapping) for r in conn.execute(query)]
