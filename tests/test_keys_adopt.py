"""Switching --require-api-key on: the start-up warning names the products no key can see and the
command that fixes it; `goldenshot keys adopt` gives them an owner whose key then sees them."""

from __future__ import annotations

import json
import subprocess
import sys

from serving import ROOT, Server, create_keys
from services.common.catalog import Catalog
from services.core.tables import stored_images
from services.core.tenants import adopt, keyless_products
from services.runtime import catalog_url


def _adopt(data_dir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "goldenshot", "keys", "adopt", *args, "--data-dir", str(data_dir)], cwd=ROOT, capture_output=True, text=True)


def _warnings(server: Server) -> list[dict]:
    lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    return [entry for entry in lines if entry.get("event") == "keyless_products"]


def _names(client, key: str) -> list[str]:
    return [p["name"] for p in client.get("/v1/products", headers={"X-API-Key": key}).json()["items"]]


def test_products_made_without_keys_get_an_owner(tmp_path):
    data = tmp_path / "data"
    open_server = Server(data).start()
    try:
        with open_server.client() as c:
            for name in ("housing", "gear"):
                assert c.post("/v1/products", json={"name": name}).status_code == 201
    finally:
        open_server.stop()
    assert _warnings(open_server) == []  # keys optional: nothing is hidden

    key = create_keys(data, "plant-a")["plant-a"]
    server = Server(data, args=["--require-api-key"]).start()
    try:
        [warning] = _warnings(server)
        assert warning["level"] == "WARNING" and warning["products"] == 2 and warning["tenants"] == {"default": 2}
        assert warning["commands"] == [f"goldenshot keys adopt TENANT --data-dir {data}"]
        with server.client() as c:
            assert _names(c, key) == []  # the switch hid them
            assert c.post("/v1/products", json={"name": "gear"}, headers={"X-API-Key": key}).status_code == 201

            done = _adopt(data, "plant-a")  # while the server runs
            assert done.returncode == 1, done.stdout + done.stderr  # one name clashed
            assert "1 product(s) of 'default' now belong to 'plant-a': housing" in done.stdout
            assert "already has products of these names: gear" in done.stderr
            assert _names(c, key) == ["gear", "housing"]

            again = _adopt(data, "plant-a")
            assert again.returncode == 1 and "0 product(s)" in again.stdout  # nothing more moves
    finally:
        server.stop()

    assert keyless_products(Catalog(catalog_url(data))) == {"default": 1}  # the clashing "gear" stays put, still warned about
    moved = _adopt(data, "plant-b")
    assert moved.returncode == 0 and "gear" in moved.stdout and "'plant-b' has no API key yet: goldenshot keys create plant-b" in moved.stdout
    assert keyless_products(Catalog(catalog_url(data))) == {"plant-b": 1}


def test_adopt_refuses_a_bad_tenant_name_and_adopting_by_the_same_tenant(tmp_path):
    done = _adopt(tmp_path / "data", "../evil")
    assert done.returncode == 2 and "tenant" in done.stderr and "not allowed" in done.stderr
    same = _adopt(tmp_path / "data", "default")
    assert same.returncode == 2 and "already belong to it" in same.stderr


def test_adopted_products_take_their_jobs_and_retention_share_along(tmp_path):
    """The owner's retention quota (bytes per tenant) counts the images of the products it adopted."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.products.create("p1", "default", "housing", "")
    catalog.jobs.create("j1", "default", "p1", "housing", "build", {})
    with catalog.engine.begin() as conn:
        conn.execute(stored_images.insert().values(inspection_id="i1", product_id="p1", tenant="default", nbytes=1000, created_at="2026-12-02T10:00:00+00:00"))
    done = adopt(catalog, "plant-a", "default")
    assert (done.moved, done.left) == (["housing"], [])
    assert catalog.stored.usage() == {"plant-a": 1000}
    assert catalog.jobs.get("j1", "plant-a").tenant == "plant-a"
    assert catalog.products.get("plant-a", "housing").id == "p1"
    catalog.engine.dispose()
