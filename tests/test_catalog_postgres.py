"""The catalog on PostgreSQL (the fleet's shared catalog), against the server on 127.0.0.1:5432."""

from __future__ import annotations

import threading
import time

import pytest

from services.common.catalog import Catalog
from services.core.errors import Conflict
from services.core.models import Inspection


def test_services_starting_together_share_one_schema(postgres_url):
    errors: list[BaseException] = []

    def open_catalog() -> None:
        try:
            Catalog(postgres_url).engine.dispose()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_catalog) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_products_jobs_inspections_and_claims_on_postgres(postgres_url):
    catalog = Catalog(postgres_url)
    product = catalog.products.create("a" * 32, "plant-a", "tile", "")
    with pytest.raises(Conflict):
        catalog.products.create("b" * 32, "plant-a", "tile", "")
    assert catalog.products.create("c" * 32, "plant-b", "tile", "").tenant == "plant-b"
    assert catalog.products.allocate_version(product.id) == 1 and catalog.products.allocate_version(product.id) == 2

    job = catalog.jobs.create("d" * 32, "plant-a", product.id, "tile", "build", {"version": 1})
    assert job.state == "queued" and catalog.jobs.oldest_open_age() >= 0
    assert catalog.jobs.start(job.id).attempts == 1
    catalog.jobs.update(job.id, state="succeeded", result={"version": 1})
    assert catalog.jobs.start(job.id) is None and catalog.jobs.open() == []

    for i in range(5):
        catalog.inspections.add(Inspection(
            id=f"{i:032d}", product_id=product.id, version=1, decision="OK" if i % 2 else "ANOMALOUS", score=float(i),
            threshold=2.5, pixel_threshold=2.5, regions=[], filename=f"{i}.png", width=8, height=8,
            image_key="k", map_key="m", batch_id=None, feedback=None, timings_ms={}, created_at=f"2026-11-27T00:00:0{i}",
        ))
    first = catalog.inspections.page(product.id, None, None, 2, None)
    rest = catalog.inspections.page(product.id, None, None, 10, first[-1].seq)
    assert [r.id for r in first + rest] == [f"{i:032d}" for i in range(4, -1, -1)]
    assert catalog.inspections.stats(product.id)["anomalous"] == 3

    catalog.deliveries.enqueue({"product_id": product.id, "inspection_id": "x", "url": "http://127.0.0.1:9", "secret": "", "body": "{}"})
    (due,) = catalog.deliveries.due(time.time() + 1)
    assert catalog.deliveries.claim(due, 30) and not catalog.deliveries.claim(due, 30)
    catalog.products.delete(product.id)
    assert [p.tenant for p in catalog.products.all()] == ["plant-b"]
    catalog.engine.dispose()


def test_racing_creates_cannot_pass_the_product_quota_on_postgres(postgres_url):
    catalog = Catalog(postgres_url)
    codes: list[str] = []

    def create(i: int) -> None:
        try:
            catalog.products.create(f"{i:032x}", "plant-a", f"p{i}", "", limit=3)
            codes.append("created")
        except Conflict as exc:
            codes.append(exc.code)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(codes) == ["created"] * 3 + ["quota_exceeded"] * 7
    assert catalog.products.count("plant-a") == 3
    catalog.engine.dispose()
