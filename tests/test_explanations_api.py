"""Explanations and the defect library through the REST routes, on the embedded runtime (Qdrant Edge in-process):
the nearest golden patch in every region, top-k golden patches and similar past defects on request,
tenant isolation, 404s and empty answers, and a failing vector store that never loses an inspection."""

from __future__ import annotations

import threading
import time
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from goldenshot.data import load_category
from goldenshot.settings import Settings
from services.common.auth import hash_key
from services.common.names import new_id
from services.common.settings import ServiceSettings
from services.core.keys import defects_name
from services.ingest.app import create_app
from services.runtime import Runtime
from serving import files

ACME, OTHER = {"X-API-Key": "key-acme"}, {"X-API-Key": "key-other"}


@pytest.fixture(scope="module")
def tile(tile_root: Path):
    return load_category(tile_root)


@pytest.fixture(scope="module")
def served(tmp_path_factory, tile) -> Iterator[tuple[TestClient, Runtime]]:
    """Tenant acme's product 'tile' with v1 built from 3 golden tiles; tenant other has a 'tile' too."""
    service = ServiceSettings(data_dir=tmp_path_factory.mktemp("explain") / "data", require_api_key=True, grpc_port=None)
    runtime = Runtime(service, Settings())
    runtime.catalog.keys.add(hash_key("key-acme"), "acme", "test")
    runtime.catalog.keys.add(hash_key("key-other"), "other", "test")
    with TestClient(create_app(runtime), base_url="http://127.0.0.1") as client:
        for headers in (ACME, OTHER):
            assert client.post("/v1/products", json={"name": "tile"}, headers=headers).status_code == 201
        golden = sorted(tile.train)[:3]
        assert client.post("/v1/products/tile/golden", files=files(golden), headers=ACME).status_code == 201
        job = client.post("/v1/products/tile/fingerprints", headers=ACME).json()
        _wait(client, job["id"])
        yield client, runtime


def _wait(client: TestClient, job_id: str) -> None:
    for _ in range(1200):
        job = client.get(f"/v1/jobs/{job_id}", headers=ACME).json()
        if job["state"] in ("succeeded", "failed"):
            assert job["state"] == "succeeded", job
            return
        time.sleep(0.25)
    raise TimeoutError(job_id)


def _inspect(client: TestClient, name: str, data: bytes) -> dict:
    answer = client.post("/v1/products/tile/inspect", files=[("file", (name, data, "application/octet-stream"))], headers=ACME)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _defect(path: Path, corner: int) -> bytes:
    """A good tile with a large dark block painted on it at one of four places: anomalous for sure."""
    image = np.array(Image.open(path).convert("RGB"))
    h, w = image.shape[:2]
    y, x = (corner // 2) * h // 2 + h // 8, (corner % 2) * w // 2 + w // 8
    image[y : y + h // 4, x : x + w // 4] = 0
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def inspected(served, tile) -> tuple[list[dict], dict]:
    """Three anomalous inspections, their library entries written, and what /similar said of the first
    while the product had no defect history yet."""
    client, runtime = served
    spare = sorted(tile.train)[3:]
    first = _inspect(client, "d0.png", _defect(spare[0], 0))
    runtime.defects.wait()
    alone = client.get(f"/v1/products/tile/inspections/{first['id']}/similar", headers=ACME).json()
    results = [first] + [_inspect(client, f"d{i}.png", _defect(spare[i], i)) for i in (1, 2)]
    assert all(r["decision"] == "ANOMALOUS" and r["regions"] for r in results)
    runtime.defects.wait()
    return results, alone


def test_every_region_names_its_nearest_golden_patch(inspected):
    for result in inspected[0]:
        for region in result["regions"]:
            nearest = region["nearest_golden"]
            assert nearest["golden_id"] and nearest["distance"] > 0 and 0 <= nearest["row"] < nearest["grid_h"]


def test_explain_returns_the_top_k_golden_patches_from_the_collection(served, inspected):
    client, _ = served
    result = inspected[0][0]
    answer = client.get(f"/v1/products/tile/inspections/{result['id']}/explain", params={"k": 3}, headers=ACME)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [r["region"] for r in body["regions"]] == list(range(len(result["regions"])))
    for explained, region in zip(body["regions"], result["regions"]):
        golden = explained["golden"]
        assert len(golden) == 3 and [g["distance"] for g in golden] == sorted(g["distance"] for g in golden)
        # the store's nearest is the row the scorer found with its own matmul
        inline = region["nearest_golden"]
        assert (golden[0]["golden_id"], golden[0]["row"], golden[0]["col"]) == (inline["golden_id"], inline["row"], inline["col"])
        assert golden[0]["distance"] == pytest.approx(inline["distance"], rel=1e-3)
        assert golden[0]["image_url"] == f"/v1/products/tile/golden/{inline['golden_id']}/image"
        assert all(g["bbox"] is not None for g in golden if g["view"] == 0)


def test_similar_defects_rank_past_inspections_and_follow_feedback(served, inspected):
    client, runtime = served
    first, second, third = (r["id"] for r in inspected[0])
    assert inspected[1] == {"inspection_id": first, "items": []}  # no defect history yet: an empty list
    body = client.get(f"/v1/products/tile/inspections/{first}/similar", headers=ACME).json()
    found = [item["inspection"]["id"] for item in body["items"]]
    assert set(found) == {second, third} and first not in found
    assert [i["distance"] for i in body["items"]] == sorted(i["distance"] for i in body["items"])
    assert client.post(f"/v1/products/tile/inspections/{second}/feedback", json={"label": "false_alarm"}, headers=ACME).status_code == 200
    body = client.get(f"/v1/products/tile/inspections/{first}/similar", params={"limit": 1}, headers=ACME).json()
    assert len(body["items"]) == 1
    labelled = {i["inspection"]["id"]: i["inspection"]["feedback"] for i in client.get(f"/v1/products/tile/inspections/{first}/similar", headers=ACME).json()["items"]}
    assert labelled[second] == "false_alarm" and labelled[third] is None
    product = runtime.catalog.products.get("acme", "tile")
    space = runtime.defects.space(product.id, 1)
    labels = {p["inspection_id"]: p["label"] for p in runtime.vectors.points(defects_name(product.id, space), {"inspection_id": second})[1]}
    assert labels == {second: "false_alarm"}


def _noise(path: Path) -> bytes:
    """A good tile with a block of bright coloured noise: a defect unlike the dark blocks."""
    image = np.array(Image.open(path).convert("RGB"))
    h, w = image.shape[:2]
    image[h // 3 : h // 3 + h // 4, w // 3 : w // 3 + w // 4] = np.random.default_rng(0).integers(128, 256, (h // 4, w // 4, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def test_recurring_defects_group_into_kinds(served, inspected, tile):
    client, runtime = served
    blocks = {r["id"] for r in inspected[0]}
    noisy = _inspect(client, "noise.png", _noise(sorted(tile.train)[6]))
    assert noisy["decision"] == "ANOMALOUS"
    runtime.defects.wait()
    body = client.get("/v1/products/tile/defects/kinds", headers=ACME).json()
    version = client.get("/v1/products/tile/fingerprints/1", headers=ACME).json()
    # kinds are cut at the kNN part's threshold, a distance between features, below the decision threshold with the residual in it
    assert body["scale"] == pytest.approx(version["distance_threshold"]) and body["scale"] < version["threshold"]
    kinds = body["kinds"]
    assert sum(k["regions"] for k in kinds) >= 4 and [k["regions"] for k in kinds] == sorted((k["regions"] for k in kinds), reverse=True)
    with_blocks = [k for k in kinds if k["example_inspection_id"] in blocks]
    assert with_blocks and with_blocks[0]["inspections"] >= 2, kinds  # the dark blocks recur as one kind
    assert any(k["example_inspection_id"] == noisy["id"] for k in kinds), kinds  # the noise is a kind of its own
    assert client.get("/v1/products/tile/defects/kinds", headers=OTHER).json() == {"kinds": [], "scale": None}  # their 'tile' has no history


def test_other_tenants_and_unknown_ids_are_not_found(served, inspected):
    client, _ = served
    mine = inspected[0][0]["id"]
    for route in ("explain", "similar"):
        assert client.get(f"/v1/products/tile/inspections/{mine}/{route}", headers=OTHER).status_code == 404  # their own 'tile'
        assert client.get(f"/v1/products/tile/inspections/{new_id()}/{route}", headers=ACME).status_code == 404
        assert client.get(f"/v1/products/nope/inspections/{mine}/{route}", headers=ACME).status_code == 404


def test_a_failing_vector_store_never_loses_the_inspection(served, tile, monkeypatch):
    client, runtime = served

    def down(*args, **kwargs):
        raise ConnectionError("vector store down")

    monkeypatch.setattr(runtime.vectors, "upsert", down)
    result = _inspect(client, "d3.png", _defect(sorted(tile.train)[6], 3))
    assert result["decision"] == "ANOMALOUS"
    runtime.defects.wait()
    stored = client.get(f"/v1/products/tile/inspections/{result['id']}", headers=ACME)
    assert stored.status_code == 200 and stored.json()["regions"] == result["regions"]
    assert client.get(f"/v1/products/tile/inspections/{result['id']}/similar", headers=ACME).json()["items"] == []
    explained = client.get(f"/v1/products/tile/inspections/{result['id']}/explain", headers=ACME).json()
    assert explained["regions"] and all(r["golden"] == [] for r in explained["regions"])


def test_a_damaged_library_shard_starts_again_empty_and_the_server_goes_on(served, inspected, tile):
    client, runtime = served
    product = runtime.catalog.products.get("acme", "tile")
    name = defects_name(product.id, runtime.defects.space(product.id, 1))
    runtime.vectors.close()  # let go of the open shard, as a restart would
    (Path(runtime.service.data_dir) / "vectors" / name / "edge_config.json").write_text("{torn")
    first = inspected[0][0]["id"]
    answer = client.get(f"/v1/products/tile/inspections/{first}/similar", headers=ACME)
    assert answer.status_code == 200 and answer.json()["items"] == []
    result = _inspect(client, "d4.png", _defect(sorted(tile.train)[7], 0))
    runtime.defects.wait()
    assert [p["inspection_id"] for p in runtime.vectors.points(name, {"inspection_id": result["id"]})[1]] == [result["id"]] * len(result["regions"])



def test_regions_queued_during_a_write_go_in_one_write_and_all_are_kept(served, tile, monkeypatch):
    """A busy line queues library entries while one is written: the next write takes all of them."""
    client, runtime = served
    real, calls, release = runtime.vectors.upsert, [], threading.Event()

    def held(name, ids, vectors, payloads):
        calls.append(len(ids))
        if len(calls) == 1:
            release.wait(30)
        return real(name, ids, vectors, payloads)

    monkeypatch.setattr(runtime.vectors, "upsert", held)
    results = [_inspect(client, "q0.png", _defect(sorted(tile.train)[8], 0))]
    for _ in range(300):  # until the first write has started
        if calls:
            break
        time.sleep(0.01)
    results += [_inspect(client, f"q{i}.png", _defect(sorted(tile.train)[8 + i], i)) for i in (1, 2)]
    release.set()
    runtime.defects.wait()
    assert len(calls) == 2 and calls[1] == len(results[1]["regions"]) + len(results[2]["regions"]), calls
    product = runtime.catalog.products.get("acme", "tile")
    name = defects_name(product.id, runtime.defects.space(product.id, 1))
    for result in results:
        assert sorted(p["region"] for p in runtime.vectors.points(name, {"inspection_id": result["id"]})[1]) == list(range(len(result["regions"])))


def test_a_library_entry_that_cannot_be_built_is_logged_and_the_next_ones_are_still_written(served, tile, monkeypatch):
    client, runtime = served
    real = runtime.defects.space
    monkeypatch.setattr(runtime.defects, "space", lambda *args: (_ for _ in ()).throw(ValueError("unreadable fingerprint")))
    _inspect(client, "s0.png", _defect(sorted(tile.train)[11], 0))
    runtime.defects.wait()
    monkeypatch.setattr(runtime.defects, "space", real)
    later = _inspect(client, "s1.png", _defect(sorted(tile.train)[12], 1))
    product = runtime.catalog.products.get("acme", "tile")
    name = defects_name(product.id, real(product.id, 1))
    for _ in range(200):  # the writer thread must still be alive to write it
        if runtime.vectors.points(name, {"inspection_id": later["id"]})[1]:
            break
        time.sleep(0.05)
    assert len(runtime.vectors.points(name, {"inspection_id": later["id"]})[1]) == len(later["regions"])
