"""The catalog's repositories without a server (SQLite in a temp dir): domain models in and out, and
what must happen in one transaction."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.exc import IntegrityError

from services.common.catalog import Catalog
from services.core.errors import Conflict, NotFound
from services.core.models import Golden, Inspection, Region, Version


@pytest.fixture()
def catalog(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield catalog
    catalog.engine.dispose()


def _inspection(inspection_id: str, decision: str = "ANOMALOUS", batch_id: str | None = None) -> Inspection:
    region = Region(bbox=(1, 2, 3, 4), area=9, peak_score=3.5, mean_score=2.5, polygon=[(1, 2), (4, 2), (4, 6)])
    return Inspection(
        id=inspection_id, product_id="p", version=1, decision=decision, score=3.0, threshold=2.0, pixel_threshold=2.0, regions=[region],
        filename="a.png", width=8, height=8, image_key="i", map_key="m", batch_id=batch_id, feedback=None, timings_ms={"knn": 1.5},
        created_at="2026-12-02T00:00:00",
    )


def _delivery(inspection_id: str) -> dict:
    return {"product_id": "p", "inspection_id": inspection_id, "url": "http://127.0.0.1:9/hook", "secret": "", "body": "{}"}


def test_an_inspection_comes_back_as_it_was_stored(catalog):
    stored = _inspection("a" * 32)
    catalog.inspections.add(stored)
    again = catalog.inspections.get("p", "a" * 32)
    assert again.seq is not None and again.model_copy(update={"seq": None}) == stored
    with pytest.raises(NotFound):
        catalog.inspections.get("other-product", "a" * 32)  # scoped to its product


def test_pages_filters_feedback_and_stats(catalog):
    for i in range(5):
        catalog.inspections.add(_inspection(f"{i:032d}", "OK" if i % 2 else "ANOMALOUS", batch_id="b" if i < 2 else None))
    first = catalog.inspections.page("p", None, None, 2, None)
    rest = catalog.inspections.page("p", None, None, 10, first[-1].seq)
    assert [i.id for i in first + rest] == [f"{i:032d}" for i in range(4, -1, -1)]
    assert {i.decision for i in catalog.inspections.page("p", "OK", None, 10, None)} == {"OK"}
    assert catalog.inspections.batch_done("b") == {f"{i:032d}" for i in range(2)}
    catalog.inspections.set_feedback("0" * 32, "false_alarm")
    assert catalog.inspections.get("p", "0" * 32).feedback == "false_alarm"
    stats = catalog.inspections.stats("p")
    assert (stats["total"], stats["ok"], stats["anomalous"], stats["false_alarms"]) == (5, 2, 3, 1) and catalog.inspections.count("p") == 5


def test_inspection_and_its_delivery_are_stored_together(catalog):
    catalog.inspections.add(_inspection("a" * 32), _delivery("a" * 32))
    catalog.inspections.add(_inspection("b" * 32))  # no webhook wants it
    assert [i.id for i in catalog.inspections.page("p", None, None, 10, None)] == ["b" * 32, "a" * 32]
    (due,) = catalog.deliveries.due(time.time() + 1)
    assert due.inspection_id == "a" * 32 and due.attempts == 0 and not due.delivered


def test_a_rerun_stores_neither_twice(catalog):
    catalog.inspections.add(_inspection("a" * 32), _delivery("a" * 32))
    catalog.inspections.add(_inspection("a" * 32), _delivery("a" * 32))  # a batch item scored again after a crash
    assert catalog.inspections.count("p") == 1 and len(catalog.deliveries.list("p")) == 1


def test_a_delivery_that_cannot_be_written_takes_the_inspection_back(catalog):
    broken = {**_delivery("a" * 32), "url": None}  # NOT NULL: the outbox insert fails inside the transaction
    with pytest.raises(IntegrityError):
        catalog.inspections.add(_inspection("a" * 32), broken)
    assert catalog.inspections.count("p") == 0 and catalog.deliveries.list("p") == []


def test_products_come_back_as_domain_models(catalog):
    tile = catalog.products.create("a" * 32, "plant-a", "tile", "magnetic tile")
    assert (tile.tenant, tile.name, tile.active_version, tile.next_version) == ("plant-a", "tile", None, 1)
    catalog.products.create("b" * 32, "plant-a", "screw", "")
    catalog.products.create("c" * 32, "plant-b", "tile", "")
    assert [p.name for p in catalog.products.list("plant-a")] == ["screw", "tile"] and len(catalog.products.all()) == 3
    assert catalog.products.by_id("a" * 32) == tile and catalog.products.by_id("d" * 32) is None
    assert [catalog.products.allocate_version(tile.id) for _ in range(2)] == [1, 2]
    with pytest.raises(NotFound):
        catalog.products.activate(tile.id, 1)  # reserved, never recorded
    catalog.inspections.add(_inspection("e" * 32).model_copy(update={"product_id": tile.id}), _delivery("e" * 32))
    catalog.products.delete(tile.id)  # with what was recorded about it
    assert catalog.products.by_id(tile.id) is None and catalog.inspections.count(tile.id) == 0
    with pytest.raises(NotFound):
        catalog.products.get("plant-a", "tile")


def test_golden_samples_and_versions(catalog):
    tile = catalog.products.create("a" * 32, "plant-a", "tile", "")
    samples = [
        Golden(id=f"{i:032d}", product_id=tile.id, sha256=str(i) * 64, filename=f"{i}.png", width=8, height=8, object_key=f"k{i}", created_at=f"2026-12-02T00:00:0{i}")
        for i in range(3)
    ]
    with pytest.raises(Conflict) as full:  # the limit is checked in the insert's transaction
        catalog.golden.add(samples, limit=2)
    assert full.value.code == "too_many_golden_samples" and catalog.golden.count(tile.id) == 0
    catalog.golden.add(samples, limit=3)
    assert catalog.golden.list(tile.id) == samples and catalog.golden.count(tile.id) == 3
    assert catalog.golden.delete(tile.id, samples[0].id) == samples[0] and catalog.golden.count(tile.id) == 2
    with pytest.raises(NotFound):
        catalog.golden.get(tile.id, samples[0].id)

    def built(version: int) -> Version:
        return Version(
            product_id=tile.id, version=version, created_at=f"2026-12-02T01:00:0{version}", threshold=2.0, pixel_threshold=2.5,
            threshold_source="leave-one-out", golden_count=2, coreset_rows=100, golden_scores={"mean": 1.0, "std": 0.1, "max": 1.2, "scores": [1.0, 1.2]},
            build_seconds=1.5, sha256="f" * 64, object_key=f"v{version}", collection=f"c{version}",
        )

    catalog.versions.add(built(1), activate=True)
    catalog.versions.add(built(2), activate=False)
    catalog.versions.add(built(2), activate=False)  # a build run again after a crash: the same version, once
    assert [v.version for v in catalog.versions.list(tile.id)] == [2, 1] and catalog.versions.get(tile.id, 1) == built(1)
    assert catalog.products.by_id(tile.id).active_version == 1
    catalog.products.activate(tile.id, 2)
    assert catalog.products.by_id(tile.id).active_version == 2
    catalog.products.delete(tile.id)
    with pytest.raises(NotFound):
        catalog.versions.add(built(3), activate=True)  # the product was deleted during the build


def test_jobs_run_through_their_states(catalog):
    job = catalog.jobs.create("a" * 32, "plant-a", "p", "tile", "build", {"version": 1})
    assert (job.state, job.stage, job.attempts, job.params) == ("queued", "queued", 0, {"version": 1})
    with pytest.raises(NotFound):
        catalog.jobs.get(job.id, tenant="plant-b")  # another tenant's job is not found
    assert catalog.jobs.open("p") == [job] and catalog.jobs.oldest_open_age() >= 0
    running = catalog.jobs.start(job.id)
    assert running.state == "running" and running.attempts == 1 and running.started_at is not None
    catalog.jobs.update(job.id, stage="coreset", done=2, total=4)
    assert catalog.jobs.get(job.id, tenant="plant-a").done == 2
    catalog.jobs.update(job.id, state="succeeded", result={"version": 1}, finished_at="2026-12-02T00:00:09")
    assert catalog.jobs.start(job.id) is None and catalog.jobs.open() == []  # a redelivery of a finished job
    assert [j.id for j in catalog.jobs.list("plant-a", "p", "succeeded", 10)] == [job.id] and catalog.jobs.list("plant-a", None, "failed", 10) == []


def test_webhooks_and_keys(catalog):
    assert catalog.webhooks.get("p") is None and not catalog.webhooks.delete("p")
    catalog.webhooks.set("p", "http://127.0.0.1:9/a", "", "all")
    hook = catalog.webhooks.set("p", "http://127.0.0.1:9/b", "s3cret", "anomalous")  # replaces the first
    assert (hook.url, hook.secret, hook.events) == ("http://127.0.0.1:9/b", "s3cret", "anomalous") and catalog.webhooks.get("p") == hook
    assert catalog.webhooks.delete("p") and catalog.webhooks.get("p") is None
    catalog.keys.add("a" * 64, "plant-a", "line 1")
    catalog.keys.add("b" * 64, "plant-a", "line 2")
    assert catalog.keys.get("a" * 64).tenant == "plant-a" and catalog.keys.get("c" * 64) is None
    assert [k.label for k in catalog.keys.list()] == ["line 1", "line 2"]
    assert catalog.keys.revoke("plant-a") == 2 and catalog.keys.list() == []


def test_an_older_catalog_gains_the_columns_added_since(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # the sources table as the previous release made it, with a row
        db.execute(
            "CREATE TABLE sources (id VARCHAR(32) PRIMARY KEY, product_id VARCHAR(32) NOT NULL, kind VARCHAR(16) NOT NULL, "
            "target VARCHAR(2000) NOT NULL, fps FLOAT NOT NULL, sort BOOLEAN NOT NULL, enabled BOOLEAN NOT NULL, created_at VARCHAR(32) NOT NULL)"
        )
        db.execute("INSERT INTO sources VALUES ('s1', 'p', 'stream', 'rtsp://cam/1', 2.0, 0, 1, '2026-12-01T00:00:00')")
    catalog = Catalog(f"sqlite:///{path}")
    try:
        (old,) = catalog.sources.list("p")
        assert old.id == "s1" and old.triggered is False and old.fps == 2.0
        catalog.sources.add("s2", "p", "stream", "rtsp://cam/2", 2.0, False, triggered=True)
        assert [s.triggered for s in catalog.sources.list("p")] == [False, True]
    finally:
        catalog.engine.dispose()
    Catalog(f"sqlite:///{path}").engine.dispose()  # opening it again adds nothing twice
