"""Prometheus metrics of a service, on its own registry (tests build many apps in one process)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0)
_BUILD = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)


class Metrics:
    """Request latency per route, stage latency, decisions, builds, jobs, queue depth and age, webhook deliveries."""

    def __init__(self, queue_depth: Callable[[], float], oldest_open_job: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Histogram(
            "goldenshot_http_request_duration_seconds", "HTTP request latency by route template", ["method", "route", "status"], registry=r, buckets=_LATENCY
        )
        self.stages = Histogram("goldenshot_stage_duration_seconds", "Inspection stage latency", ["stage"], registry=r, buckets=_LATENCY)
        self.inspections = Counter("goldenshot_inspections_total", "Inspections by decision", ["tenant", "product", "decision"], registry=r)
        self.builds = Histogram("goldenshot_build_duration_seconds", "Fingerprint build duration", ["outcome"], registry=r, buckets=_BUILD)
        self.jobs = Counter("goldenshot_jobs_total", "Finished jobs by kind and outcome", ["kind", "outcome"], registry=r)
        self.webhooks = Counter("goldenshot_webhook_deliveries_total", "Webhook delivery attempts by outcome", ["outcome"], registry=r)
        self.dead_lettered = Counter("goldenshot_jobs_dead_lettered_total", "Jobs given up after their last attempt", ["kind"], registry=r)
        self.stored_bytes = Gauge("goldenshot_stored_image_bytes", "Inspection images and maps kept, by tenant (retention sweeps)", ["tenant"], registry=r)
        self.images_removed = Counter("goldenshot_images_removed_total", "Inspection images removed by the retention policy", ["tenant", "reason"], registry=r)
        # median recent score over median golden leave-one-out score, per product (services/core/drift.py)
        self.drift = Gauge("goldenshot_drift_ratio", "Recent scores of good parts against the golden samples' (1: unchanged)", ["tenant", "product"], registry=r)
        self.queue = Gauge("goldenshot_queue_depth", "Jobs waiting on the bus", registry=r)
        self.queue.set_function(queue_depth)
        self.oldest_open = Gauge("goldenshot_oldest_open_job_seconds", "Age of the oldest queued or running job (stuck jobs)", registry=r)
        self.oldest_open.set_function(oldest_open_job)

    def observe_stages(self, timings_ms: dict[str, float]) -> None:
        for stage, ms in timings_ms.items():
            self.stages.labels(stage).observe(ms / 1000.0)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
