"""Asynchronous jobs (builds, batches): recorded in the catalog, carried by the bus, run by handlers.

A job is written to the catalog before its id is published, and marked finished only after its
handler's work is stored, so a crash at any point leaves it open; the next start publishes every
open job again and handlers are written to be re-run (same version, same inspection ids).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from services.common.bus import BusUnavailable, JobBus
from services.common.catalog import Catalog
from services.common.logs import REQUEST_ID
from services.common.metrics import Metrics
from services.common.names import new_id
from services.core.errors import BackendUnavailable, DomainError, TooManyRequests
from services.core.models import Job, JobKind, Product
from services.core.tables import now_iso

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
Handler = Callable[[Job, Progress], dict]


class JobRunner:
    """Submits jobs and runs them with the handler registered for their kind."""

    def __init__(self, catalog: Catalog, bus: JobBus, metrics: Metrics, open_per_tenant: int, max_attempts: int = 3) -> None:
        self.catalog = catalog
        self.bus = bus
        self.metrics = metrics
        self.open_per_tenant = open_per_tenant  # a tenant's jobs queued or running at once (a quota)
        self.max_attempts = max_attempts
        self.handlers: dict[str, Handler] = {}

    def submit(self, tenant: str, product: Product, kind: JobKind, params: dict, job_id: str | None = None) -> Job:
        """Record, then publish: a crash in between leaves a queued job the next start picks up. A tenant
        with its quota of open jobs is told to retry later (429) instead of queueing without bound."""
        if self.catalog.jobs.open_count(tenant) >= self.open_per_tenant:
            raise TooManyRequests(f"tenant '{tenant}' has {self.open_per_tenant} jobs queued or running; retry when one has finished", retry_after=10)
        params = {**params, "trace_id": REQUEST_ID.get()}  # the request's id follows the job into other processes
        job = self.catalog.jobs.create(job_id or new_id(), tenant, product.id, product.name, kind, params)
        try:
            self.bus.publish(job.id, kind, tenant)
        except BusUnavailable as exc:  # the client is told 503; the job must not run later behind its back
            self._finish(job, "failed", error={"code": "unavailable", "message": str(exc)})
            raise
        return job

    def start(self, kinds: tuple[str, ...], workers: int) -> None:
        """Consume jobs of `kinds`. An in-process bus forgets its queue on exit, so what a previous run
        left open is published again first; a durable bus still holds (or will redeliver) it."""
        if not kinds:
            return
        if not self.bus.keeps_messages:
            for job in self.catalog.jobs.open():
                log.info("resuming job %s (%s, %s)", job.id, job.kind, job.state)
                self.bus.publish(job.id, job.kind, job.tenant)
        self.bus.start(self.run, workers)

    def run(self, job_id: str) -> None:
        job = self.catalog.jobs.start(job_id)
        if job is None:  # finished or deleted meanwhile; a redelivery is not an error
            return
        token = REQUEST_ID.set(job.params.get("trace_id") or job_id)
        try:
            log.info("job started", extra={"job_id": job_id, "kind": job.kind, "attempt": job.attempts})
            self._run(job)
        finally:
            REQUEST_ID.reset(token)

    def _run(self, job: Job) -> None:
        job_id = job.id
        if job.attempts > self.max_attempts:  # it crashed the process every time: a poison job
            self._finish(job, "failed", error={"code": "internal", "message": f"gave up after {self.max_attempts} attempts"})
            self.metrics.dead_lettered.labels(job.kind).inc()
            return
        handler = self.handlers[job.kind]
        started = time.perf_counter()

        def progress(stage: str, done: int, total: int) -> None:
            self.catalog.jobs.update(job_id, stage=stage, done=done, total=total)

        outcome = "failed"
        try:
            result = handler(job, progress)
        except BackendUnavailable as exc:  # not the job's fault: back in the queue, the bus redelivers
            self.catalog.jobs.update(job_id, state="queued", stage="waiting", error={"code": "unavailable", "message": str(exc)})
            raise
        except DomainError as exc:
            self._finish(job, "failed", error={"code": exc.code, "message": exc.message})
        except MemoryError:  # final: run again it would fail the same way (or take the process down with it)
            log.error("job %s ran out of memory", job_id)
            self._finish(job, "failed", error={"code": "out_of_memory", "message": "the job ran out of memory; it is not retried (fewer or smaller images)"})
        except Exception as exc:
            log.exception("job %s failed", job_id)
            self._finish(job, "failed", error={"code": "internal", "message": f"{type(exc).__name__}: {str(exc)[:300]}"})
        else:
            self._finish(job, "succeeded", result=result)
            outcome = "succeeded"
        if job.kind == "build":
            self.metrics.builds.labels(outcome).observe(time.perf_counter() - started)

    def _finish(self, job: Job, state: str, result: dict | None = None, error: dict | None = None) -> None:
        log.info("job finished", extra={"job_id": job.id, "kind": job.kind, "state": state})
        self.catalog.jobs.update(job.id, state=state, result=result, error=error, stage="done" if state == "succeeded" else "failed", finished_at=now_iso())
        self.metrics.jobs.labels(job.kind, state).inc()

