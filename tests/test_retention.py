"""Retention: inspection images removed oldest first past an age or a tenant's byte budget; results kept."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from services.common.catalog import Catalog
from services.common.metrics import Metrics
from services.common.objects import LocalObjectStore, ObjectNotFound
from services.core.errors import Gone
from services.core.inspections import Inspections
from services.core.models import Inspection, StoredImage
from services.core.retention import Retention
from tests.serving import Server, files, wait_job

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)


class Store:
    def __init__(self, root: Path) -> None:
        self.catalog = Catalog(f"sqlite:///{root / 'catalog.db'}")
        self.objects = LocalObjectStore(root / "objects")
        self.metrics = Metrics(lambda: 0.0, lambda: 0.0)
        self.products = {t: self.catalog.products.create(f"{t:0>32}"[-32:], t, "tile", "") for t in ("a", "b")}

    def inspect(self, tenant: str, n: int, size: int, feedback: str | None = None) -> str:
        """An inspection of tenant's product stored n hours after T0 with `size` bytes of image."""
        product = self.products[tenant]
        inspection_id = f"{tenant}{n:031d}"
        created = (T0 + timedelta(hours=n)).isoformat(timespec="microseconds")
        prefix = f"products/{product.id}/inspections/{inspection_id}"
        self.objects.put(f"{prefix}/image", b"x" * size)
        self.objects.put(f"{prefix}/overlay.png", b"drawn later, removed with the rest")
        inspection = Inspection(
            id=inspection_id, product_id=product.id, version=1, decision="OK", score=1.0, threshold=2.0, pixel_threshold=2.0, regions=[],
            filename=f"{n}.png", width=8, height=8, image_key=f"{prefix}/image", map_key=f"{prefix}/map", batch_id=None, feedback=feedback,
            timings_ms={}, created_at=created,
        )
        self.catalog.inspections.add(inspection, None, StoredImage(inspection_id=inspection_id, product_id=product.id, tenant=tenant, nbytes=size, created_at=created))
        return inspection_id

    def kept(self, inspection_id: str) -> bool:
        tenant = inspection_id[0]
        try:
            self.objects.get(f"products/{self.products[tenant].id}/inspections/{inspection_id}/image")
            return True
        except ObjectNotFound:
            return False


@pytest.fixture()
def store(tmp_path):
    store = Store(tmp_path)
    yield store
    store.catalog.engine.dispose()


def test_a_byte_budget_removes_a_tenants_oldest_images_and_keeps_every_result(store):
    a = [store.inspect("a", n, 100) for n in range(10)]
    spared = store.inspect("a", 10, 100, feedback="false_alarm")  # evidence for the next fingerprint
    b = [store.inspect("b", n, 100) for n in range(3)]
    retention = Retention(store.catalog, store.objects, store.metrics, None, 450, 60.0)
    assert retention.sweep(T0 + timedelta(days=1)) == 7  # a keeps 1000 bytes over its 450
    assert [store.kept(i) for i in a] == [False] * 7 + [True] * 3 and store.kept(spared)
    assert all(store.kept(i) for i in b)  # another tenant's images are not its to pay for
    assert store.catalog.stored.usage() == {"a": 400, "b": 300}
    assert store.catalog.inspections.get(store.products["a"].id, a[0]).decision == "OK"  # the result stays
    assert store.catalog.stored.removed_at(a[0]) is not None and store.catalog.stored.removed_at(a[-1]) is None
    assert not list((store.objects.root / "products" / store.products["a"].id / "inspections" / a[0]).rglob("*"))
    assert store.metrics.stored_bytes.labels("a")._value.get() == 400
    assert retention.sweep(T0 + timedelta(days=1)) == 0  # within budget: nothing more


def test_an_age_limit_removes_what_is_older_whatever_the_tenant(store):
    ids = [store.inspect(t, n, 10) for t in ("a", "b") for n in range(0, 48, 12)]  # 0, 12, 24, 36 h
    retention = Retention(store.catalog, store.objects, store.metrics, 1.0, None, 60.0)
    assert retention.sweep(T0 + timedelta(hours=37)) == 4  # older than 13 h: 0 and 12 h of each tenant
    assert [store.kept(i) for i in ids] == [False, False, True, True] * 2


def test_the_inspection_answers_gone_once_its_image_is_removed(store):
    inspection_id = store.inspect("a", 0, 100)
    Retention(store.catalog, store.objects, store.metrics, None, 1, 60.0).sweep(T0)
    inspections = Inspections(store.catalog, store.objects, None, None, None, 4_000_000, 100)
    with pytest.raises(Gone) as gone:
        inspections.image(store.products["a"], inspection_id)
    assert gone.value.code == "image_removed" and "result is kept" in gone.value.message


def test_a_server_with_a_budget_keeps_results_and_answers_410_for_removed_images(tmp_path, tile_root):
    env = {"GOLDENSHOT_SERVER_RETENTION_BYTES_PER_TENANT": "1", "GOLDENSHOT_SERVER_RETENTION_SWEEP_S": "0.3"}
    server = Server(tmp_path / "data", env).start()
    try:
        with server.client() as c:
            assert c.post("/v1/products", json={"name": "tile"}).status_code == 201
            c.post("/v1/products/tile/golden", files=files(sorted((tile_root / "train" / "good").iterdir())[:3]))
            assert wait_job(c, c.post("/v1/products/tile/fingerprints").json()["id"])["state"] == "succeeded"
            good = sorted((tile_root / "test" / "good").iterdir())[0]
            inspected = c.post("/v1/products/tile/inspect", files=files([good], "file")).json()
            url = f"/v1/products/tile/inspections/{inspected['id']}"
            deadline = time.monotonic() + 30
            while c.get(f"{url}/image").status_code == 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            gone = c.get(f"{url}/image")
            assert gone.status_code == 410 and gone.json()["error"]["code"] == "image_removed", gone.text
            assert c.get(f"{url}/overlay.png").status_code == 410
            assert c.get(url).json()["decision"] == inspected["decision"]  # the result is kept
    finally:
        server.stop()
