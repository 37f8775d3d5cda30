"""The SQL catalog without a server (SQLite in a temp dir): what must happen in one transaction."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.exc import IntegrityError

from services.common.catalog import Catalog


@pytest.fixture()
def catalog(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield catalog
    catalog.engine.dispose()


def _inspection(inspection_id: str) -> dict:
    return {
        "id": inspection_id, "product_id": "p", "version": 1, "decision": "ANOMALOUS", "score": 3.0, "threshold": 2.0,
        "pixel_threshold": 2.0, "regions": [], "filename": "a.png", "width": 8, "height": 8, "image_key": "i", "map_key": "m",
        "batch_id": None, "feedback": None, "timings_ms": {}, "created_at": "2026-12-02T00:00:00",
    }


def _delivery(inspection_id: str) -> dict:
    return {"product_id": "p", "inspection_id": inspection_id, "url": "http://127.0.0.1:9/hook", "secret": "", "body": "{}"}


def test_inspection_and_its_delivery_are_stored_together(catalog):
    catalog.add_inspection(_inspection("a" * 32), _delivery("a" * 32))
    catalog.add_inspection(_inspection("b" * 32))  # no webhook wants it
    assert [i["id"] for i in catalog.inspections("p", None, None, 10, None)] == ["b" * 32, "a" * 32]
    (due,) = catalog.due_deliveries(time.time() + 1)
    assert due["inspection_id"] == "a" * 32 and due["attempts"] == 0 and not due["delivered"]


def test_a_rerun_stores_neither_twice(catalog):
    catalog.add_inspection(_inspection("a" * 32), _delivery("a" * 32))
    catalog.add_inspection(_inspection("a" * 32), _delivery("a" * 32))  # a batch item scored again after a crash
    assert len(catalog.inspections("p", None, None, 10, None)) == 1 and len(catalog.deliveries("p")) == 1


def test_a_delivery_that_cannot_be_written_takes_the_inspection_back(catalog):
    broken = {**_delivery("a" * 32), "url": None}  # NOT NULL: the outbox insert fails inside the transaction
    with pytest.raises(IntegrityError):
        catalog.add_inspection(_inspection("a" * 32), broken)
    assert catalog.inspections("p", None, None, 10, None) == [] and catalog.deliveries("p") == []
