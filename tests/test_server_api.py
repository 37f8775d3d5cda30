"""The embedded server through its real HTTP stack: a `goldenshot serve` process and httpx on 127.0.0.1."""

from __future__ import annotations

import io
import json
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from goldenshot.fingerprint import Fingerprint
from goldenshot.images import read_image
from goldenshot.inspector import Inspector
from serving import Server, files, wait_job

MAX_IMAGE_BYTES = 3_000_000
MAX_REQUEST_BYTES = 8_000_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {
        "GOLDENSHOT_LIMITS__MAX_BYTES": str(MAX_IMAGE_BYTES),
        "GOLDENSHOT_LIMITS__MAX_PIXELS": "4000000",
        "GOLDENSHOT_SERVER_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES),
    }
    srv = Server(tmp_path_factory.mktemp("srv") / "data", env).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    with server.client() as c:
        yield c


@pytest.fixture(scope="module")
def golden_paths(tile_root: Path) -> list[Path]:
    return sorted((tile_root / "train" / "good").iterdir())[:8]


@pytest.fixture(scope="module")
def tile(client, golden_paths) -> dict:
    """Product 'tile' with 8 golden samples and fingerprint v1 built and active."""
    assert client.post("/v1/products", json={"name": "tile", "description": "magnetic tile"}).status_code == 201
    assert client.post("/v1/products/tile/golden", files=files(golden_paths)).status_code == 201
    job = client.post("/v1/products/tile/fingerprints")
    assert job.status_code == 202 and job.json()["state"] in ("queued", "running")
    done = wait_job(client, job.json()["id"])
    assert done["state"] == "succeeded", done
    assert done["result"] == {"version": 1} and done["progress"]["fraction"] == 1.0
    return client.get("/v1/products/tile").json()


def _error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    return body["error"]["message"]


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (128, 128, 128)).save(buf, format="PNG")
    return buf.getvalue()


def test_product_lifecycle_and_names(client):
    created = client.post("/v1/products", json={"name": "widget-1", "description": "a widget"})
    assert created.status_code == 201 and created.json()["active_version"] is None
    _error(client.post("/v1/products", json={"name": "widget-1"}), 409, "conflict")
    assert "widget-1" in [p["name"] for p in client.get("/v1/products").json()["items"]]
    for hostile in ["../etc", "Widget", "t\u0456le", "a" * 64, "", "-x", "a b", "x\x00"]:
        _error(client.post("/v1/products", json={"name": hostile}), 400, "bad_request")
    _error(client.get("/v1/products/t%C3%AFle"), 400, "bad_request")
    _error(client.post("/v1/products", json={"name": 5}), 422, "validation_error")
    _error(client.post("/v1/products", content=b"{not json", headers={"content-type": "application/json"}), 422, "validation_error")
    assert client.delete("/v1/products/widget-1").status_code == 204
    _error(client.get("/v1/products/widget-1"), 404, "not_found")
    _error(client.delete("/v1/products/widget-1"), 404, "not_found")
    _error(client.get("/v1/no/such/route"), 404, "not_found")
    _error(client.put("/v1/products"), 405, "method_not_allowed")


def test_golden_upload_is_all_or_nothing(client, golden_paths, tmp_path):
    client.post("/v1/products", json={"name": "gold"})
    corrupt = tmp_path / "bad.jpg"
    corrupt.write_bytes(golden_paths[0].read_bytes()[:300])  # truncated JPEG
    message = _error(client.post("/v1/products/gold/golden", files=files([golden_paths[1], corrupt])), 422, "invalid_image")
    assert "bad.jpg" in message
    assert client.get("/v1/products/gold/golden").json()["items"] == []

    up = client.post("/v1/products/gold/golden", files=files(golden_paths[:3]))
    assert up.status_code == 201 and len(up.json()["items"]) == 3 and up.json()["duplicates"] == []
    again = client.post("/v1/products/gold/golden", files=files(golden_paths[2:4])).json()
    assert [g["filename"] for g in again["items"]] == [golden_paths[3].name] and again["duplicates"] == [golden_paths[2].name]
    only_known = client.post("/v1/products/gold/golden", files=files(golden_paths[:2]))
    assert only_known.status_code == 201 and only_known.json() == {"items": [], "duplicates": [p.name for p in golden_paths[:2]]}
    items = client.get("/v1/products/gold/golden").json()["items"]
    assert len(items) == 4 and client.get("/v1/products/gold").json()["golden_count"] == 4
    first = next(g for g in items if g["filename"] == golden_paths[0].name)
    image = client.get(first["image_url"])
    assert image.content == golden_paths[0].read_bytes() and image.headers["content-type"] == "image/jpeg"
    assert client.delete(f"/v1/products/gold/golden/{first['id']}").status_code == 204
    assert len(client.get("/v1/products/gold/golden").json()["items"]) == 3
    _error(client.delete(f"/v1/products/gold/golden/{first['id']}"), 404, "not_found")
    _error(client.get("/v1/products/gold/golden/..%2f..%2fcatalog.db/image"), 404, "not_found")
    _error(client.get("/v1/products/gold/golden/not-an-id/image"), 400, "bad_request")


def test_bad_uploads_get_clear_errors(client, golden_paths):
    client.post("/v1/products", json={"name": "bad-input"})
    url = "/v1/products/bad-input/golden"
    _error(client.post(url, json={"files": []}), 415, "unsupported_media_type")
    _error(client.post(url, files={"other": ("a.png", _png(8, 8), "image/png")}), 400, "bad_request")
    _error(client.post(url, data={"files": "text, not a file"}, files={"x": ("a", b"1", "text/plain")}), 400, "bad_request")
    _error(client.post(url, files={"files": ("empty.png", b"", "image/png")}), 400, "bad_request")
    _error(client.post(url, files={"files": ("big.png", _png(2100, 2100), "image/png")}), 422, "invalid_image")  # > max pixels
    bomb = _png(1, 1)  # a 4-megapixel IHDR over 1 pixel of data: rejected from the header
    bomb = bomb[:16] + (3000).to_bytes(4, "big") + (3000).to_bytes(4, "big") + bomb[24:29]
    bomb += zlib.crc32(bomb[12:29]).to_bytes(4, "big") + _png(1, 1)[33:]
    assert "too large" in _error(client.post(url, files={"files": ("bomb.png", bomb, "image/png")}), 422, "invalid_image")
    noise = np.random.default_rng(0).integers(0, 255, (1100, 1100, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, format="PNG")  # about 3.6 MB > the per-image limit
    _error(client.post(url, files={"files": ("noise.png", buf.getvalue(), "image/png")}), 413, "payload_too_large")
    many = [("files", (f"{i}.bin", bytes(1_000_000), "image/png")) for i in range(9)]  # 9 MB > request limit
    _error(client.post(url, files=many), 413, "payload_too_large")
    truncated = client.build_request("POST", url, files=files(golden_paths[:1]))
    body = truncated.read()[:-50]  # multipart closing boundary lost
    truncated = client.post(url, content=body, headers={"content-type": truncated.headers["content-type"]})
    assert truncated.status_code == 400 and truncated.json()["error"]["code"] in ("bad_request", "invalid_image")
    assert client.get("/v1/products/bad-input").json()["golden_count"] == 0


def test_build_preconditions(client):
    client.post("/v1/products", json={"name": "empty"})
    _error(client.post("/v1/products/empty/fingerprints"), 409, "no_golden_samples")
    _error(client.post("/v1/products/empty/inspect", files={"file": ("a.png", _png(64, 64), "image/png")}), 409, "no_fingerprint")
    _error(client.get("/v1/products/empty/fingerprints/1"), 404, "not_found")
    _error(client.post("/v1/products/empty/fingerprints/7/activate"), 404, "not_found")
    _error(client.post("/v1/products/empty/fingerprints", json={"threshold": -1}), 422, "validation_error")
    _error(client.get("/v1/jobs/0123456789abcdef0123456789abcdef"), 404, "not_found")
    _error(client.get("/v1/jobs/../../x"), 404, "not_found")


def test_inspect_matches_the_library_and_stores_results(client, tile, tile_root, tmp_path):
    assert tile["active_version"] == 1 and tile["golden_count"] == 8
    fp_file = tmp_path / "v1.safetensors"
    fp_file.write_bytes(client.get("/v1/products/tile/fingerprints/1/file").content)
    library = Inspector.load(fp_file)
    version = client.get("/v1/products/tile/fingerprints/1").json()  # the build's choice, as the fingerprint holds it
    assert version["selfconfig"] == library.fingerprint.meta.selfconfig.model_dump() and version["strays"] == []
    assert version["target_fpr"] == library.fingerprint.meta.target_fpr
    cases = {"good": tile_root / "test/good/exp1_num_106729.jpg", "fray": tile_root / "test/fray/exp6_num_258703.jpg"}
    results = {}
    for label, path in cases.items():
        response = client.post("/v1/products/tile/inspect", files=files([path], "file"))
        assert response.status_code == 200, response.text
        result = results[label] = response.json()
        expected = library.inspect(read_image(path))
        assert result["score"] == pytest.approx(expected.score, rel=1e-5)
        assert result["decision"] == expected.decision and result["version"] == 1
        assert result["threshold"] == pytest.approx(library.threshold) and len(result["regions"]) == len(expected.regions)
        assert set(result["timings_ms"]) >= {"decode", "features", "knn", "regions", "store"}
    assert results["good"]["decision"] == "OK" and results["fray"]["decision"] == "ANOMALOUS"

    fray = results["fray"]
    stored = client.get(f"/v1/products/tile/inspections/{fray['id']}").json()
    assert stored["score"] == fray["score"] and stored["regions"] == fray["regions"]
    assert client.get(fray["image_url"]).content == cases["fray"].read_bytes()
    for url in (fray["heatmap_url"], fray["overlay_url"]):
        png = client.get(url)
        assert png.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(png.content)).size == (fray["width"], fray["height"])
    _error(client.get(fray["heatmap_url"].replace("heatmap", "other")), 422, "validation_error")

    raw = client.post("/v1/products/tile/inspect", content=cases["good"].read_bytes(), headers={"content-type": "image/jpeg", "x-filename": "../../raw.jpg"})
    assert raw.status_code == 200 and raw.json()["score"] == pytest.approx(results["good"]["score"], rel=1e-6)
    assert raw.json()["filename"] == "raw.jpg"
    _error(client.post("/v1/products/tile/inspect", files=files([cases["good"], cases["fray"]], "file")), 400, "bad_request")
    _error(client.post("/v1/products/tile/inspect", files={"file": ("x.jpg", b"GIF89a garbage", "image/gif")}), 422, "invalid_image")


def test_listing_filters_and_pages(client, tile, tile_root):
    paths = sorted((tile_root / "test" / "break").iterdir())[:3]
    ids = [client.post("/v1/products/tile/inspect", files=files([p], "file")).json()["id"] for p in paths]
    page = client.get("/v1/products/tile/inspections", params={"limit": 2}).json()
    assert [i["id"] for i in page["items"]] == ids[::-1][:2] and page["next_cursor"] is not None
    rest = client.get("/v1/products/tile/inspections", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert rest["items"][0]["id"] == ids[0]
    anomalous = client.get("/v1/products/tile/inspections", params={"decision": "ANOMALOUS", "limit": 1000}).json()["items"]
    assert anomalous and all(i["decision"] == "ANOMALOUS" for i in anomalous)
    _error(client.get("/v1/products/tile/inspections", params={"decision": "maybe"}), 422, "validation_error")
    _error(client.get("/v1/products/tile/inspections", params={"limit": 0}), 422, "validation_error")
    stats = client.get("/v1/products/tile/stats").json()
    assert stats["total"] == stats["ok"] + stats["anomalous"] >= 3 and stats["by_day"] and stats["threshold"] > 0


def test_versions_threshold_override_and_rollback(client, tile, tile_root):
    good = tile_root / "test/good/exp1_num_106729.jpg"
    before = client.post("/v1/products/tile/inspect", files=files([good], "file")).json()
    job = client.post("/v1/products/tile/fingerprints", json={"threshold": before["score"] / 2}).json()
    during = client.post("/v1/products/tile/inspect", files=files([good], "file")).json()
    if client.get(f"/v1/jobs/{job['id']}").json()["state"] != "succeeded":  # a build takes >1 s, an inspection 40 ms
        assert during["version"] == 1 and during["decision"] == "OK"
    assert wait_job(client, job["id"])["result"] == {"version": 2}
    versions = client.get("/v1/products/tile/fingerprints").json()["items"]
    assert [v["version"] for v in versions] == [2, 1] and [v["active"] for v in versions] == [True, False]
    assert versions[0]["threshold_source"] == "user" and versions[1]["threshold_source"] == "leave-one-out"
    after = client.post("/v1/products/tile/inspect", files=files([good], "file")).json()
    assert after["version"] == 2 and after["decision"] == "ANOMALOUS" and after["score"] == pytest.approx(before["score"], rel=1e-5)

    rolled = client.post("/v1/products/tile/fingerprints/1/activate")
    assert rolled.status_code == 200 and rolled.json()["active"]
    back = client.post("/v1/products/tile/inspect", files=files([good], "file")).json()
    assert back["version"] == 1 and back["decision"] == before["decision"] == "OK"
    assert client.get("/v1/products/tile").json()["fingerprint"]["version"] == 1


def test_batch_job_scores_every_image(client, tile, tile_root, tmp_path):
    paths = [tile_root / "test/good/exp1_num_106729.jpg", *sorted((tile_root / "test" / "fray").iterdir())[:2]]
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    job = client.post("/v1/products/tile/batches", files=files([*paths, corrupt]))
    assert job.status_code == 202 and job.json()["kind"] == "batch"
    done = wait_job(client, job.json()["id"])
    assert done["state"] == "succeeded" and done["result"]["count"] == 3
    assert [f["filename"] for f in done["result"]["failed"]] == ["corrupt.png"]
    items = client.get("/v1/products/tile/inspections", params={"batch": done["id"]}).json()["items"]
    assert sorted(i["filename"] for i in items) == sorted(p.name for p in paths)
    single = client.post("/v1/products/tile/inspect", files=files([paths[1]], "file")).json()
    assert next(i for i in items if i["filename"] == paths[1].name)["score"] == pytest.approx(single["score"], rel=1e-5)
    assert done["result"]["anomalous"] == sum(i["decision"] == "ANOMALOUS" for i in items)


def test_feedback_adds_a_false_alarm_to_the_golden_samples(client, tile, tile_root):
    path = sorted((tile_root / "test" / "good").iterdir())[5]
    inspection = client.post("/v1/products/tile/inspect", files=files([path], "file")).json()
    count = client.get("/v1/products/tile").json()["golden_count"]
    marked = client.post(f"/v1/products/tile/inspections/{inspection['id']}/feedback", json={"label": "false_alarm", "add_to_golden": True})
    assert marked.status_code == 200 and marked.json()["feedback"] == "false_alarm"
    assert client.get("/v1/products/tile").json()["golden_count"] == count + 1
    client.post(f"/v1/products/tile/inspections/{inspection['id']}/feedback", json={"add_to_golden": True})
    assert client.get("/v1/products/tile").json()["golden_count"] == count + 1  # same image: not twice
    assert client.get("/v1/products/tile/stats").json()["false_alarms"] >= 1
    _error(client.post(f"/v1/products/tile/inspections/{inspection['id']}/feedback", json={"label": "great"}), 422, "validation_error")


def test_health_metrics_and_openapi(client, tile, tile_root):
    client.post("/v1/products/tile/inspect", files=files([tile_root / "test/fray/exp6_num_258703.jpg"], "file"))
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    text = client.get("/metrics").text
    for name in ("goldenshot_http_request_duration_seconds_bucket", "goldenshot_stage_duration_seconds_bucket", "goldenshot_build_duration_seconds_count", "goldenshot_queue_depth", "goldenshot_oldest_open_job_seconds"):
        assert name in text
    assert 'goldenshot_inspections_total{decision="ANOMALOUS",product="tile",tenant="default"}' in text
    assert 'route="/v1/products/{name}/inspect"' in text
    spec = client.get("/openapi.json").json()
    assert "/v1/products/{name}/inspect" in spec["paths"] and "multipart/form-data" in json.dumps(spec["paths"]["/v1/products/{name}/golden"])


def test_grpc_scorer_matches_rest_and_maps_errors(server, client, tile, tile_root):
    import grpc

    from services.proto.goldenshot.v1 import scorer_pb2 as pb
    from services.proto.goldenshot.v1 import scorer_pb2_grpc as pb_grpc

    path = tile_root / "test/fray/exp6_num_258703.jpg"
    rest = client.post("/v1/products/tile/inspect", files=files([path], "file")).json()
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = pb_grpc.ScorerStub(channel)
        assert stub.Health(pb.HealthRequest(), timeout=10).status == "SERVING"
        reply = stub.Inspect(pb.InspectRequest(product="tile", image=path.read_bytes(), filename=path.name), timeout=30)
        assert reply.decision == rest["decision"] and reply.score == pytest.approx(rest["score"], rel=1e-6)
        assert reply.version == rest["version"] and len(reply.regions) == len(rest["regions"]) > 0
        for region, explained in zip(reply.regions, rest["regions"]):  # the golden patch nearest each region, as over REST
            near, expected = region.nearest_golden, explained["nearest_golden"]
            assert region.HasField("nearest_golden") and (near.golden_id, near.name, near.sample) == (expected["golden_id"], expected["name"], expected["sample"])
            assert (near.row, near.col, near.grid_h, near.grid_w) == (expected["row"], expected["col"], expected["grid_h"], expected["grid_w"])
        stored = client.get(f"/v1/products/tile/inspections/{reply.id}").json()
        assert stored["score"] == reply.score and stored["filename"] == path.name
        fingerprint = stub.GetFingerprint(pb.GetFingerprintRequest(product="tile"), timeout=10)
        assert fingerprint.version == client.get("/v1/products/tile").json()["active_version"]

        paths = sorted((tile_root / "test" / "break").iterdir())[:3]
        replies = list(stub.InspectBatch(iter([pb.InspectRequest(product="tile", image=p.read_bytes(), filename=p.name) for p in paths]), timeout=60))
        assert [r.product for r in replies] == ["tile"] * 3 and len({r.id for r in replies}) == 3

        client.post("/v1/products", json={"name": "grpc-empty"})
        for request, code in [
            (pb.InspectRequest(product="nope", image=path.read_bytes()), grpc.StatusCode.NOT_FOUND),
            (pb.InspectRequest(product="../tile", image=path.read_bytes()), grpc.StatusCode.INVALID_ARGUMENT),
            (pb.InspectRequest(product="tile", image=b"not an image"), grpc.StatusCode.INVALID_ARGUMENT),
            (pb.InspectRequest(product="grpc-empty", image=path.read_bytes()), grpc.StatusCode.FAILED_PRECONDITION),
        ]:
            with pytest.raises(grpc.RpcError) as failure:
                stub.Inspect(request, timeout=10)
            assert failure.value.code() == code, failure.value.details()


def test_zero_shot_batch_job_needs_no_golden_samples(client, tile_root, tmp_path):
    client.post("/v1/products", json={"name": "zero"})
    good = sorted((tile_root / "test" / "good").iterdir())[:10]
    defects = [tile_root / "test/fray/exp6_num_258703.jpg", tile_root / "test/break/exp5_num_26212.jpg"]
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(good[0].read_bytes()[:200])
    job = client.post("/v1/products/zero/zeroshot", files=files([*good, *defects, corrupt]))
    assert job.status_code == 202 and job.json()["kind"] == "zeroshot"
    done = wait_job(client, job.json()["id"])
    assert done["state"] == "succeeded", done
    result = done["result"]
    assert result["count"] == 12 and [f["filename"] for f in result["failed"]] == ["corrupt.jpg"]
    items = client.get("/v1/products/zero/inspections", params={"batch": done["id"], "limit": 100}).json()["items"]
    assert len(items) == 12 and {i["version"] for i in items} == {0} and {i["threshold"] for i in items} == {result["threshold"]}
    ranked = [i["filename"] for i in sorted(items, key=lambda i: -i["score"])]
    assert set(ranked[:3]) >= {p.name for p in defects}  # the defects stand out from their own batch
    assert client.get(items[0]["overlay_url"]).status_code == 200
    assert result["anomalous"] == sum(i["decision"] == "ANOMALOUS" for i in items)
    tiny = client.post("/v1/products/zero/zeroshot", files=files(good[:1]))
    assert wait_job(client, tiny.json()["id"])["error"]["code"] == "bad_batch"


def test_an_empty_file_in_a_batch_is_reported_per_item(client, tile, tile_root):
    good = tile_root / "test/good/exp1_num_106729.jpg"
    job = client.post("/v1/products/tile/batches", files=[*files([good]), ("files", ("empty.png", b"", "image/png"))])
    assert job.status_code == 202, job.text
    done = wait_job(client, job.json()["id"])
    assert done["state"] == "succeeded" and done["result"]["count"] == 1
    assert [f["filename"] for f in done["result"]["failed"]] == ["empty.png"] and "empty" in done["result"]["failed"][0]["error"]
