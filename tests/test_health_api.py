"""Drift, golden sample health and ignore masks through a real `goldenshot serve` on 127.0.0.1 (REST and gRPC)."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from goldenshot.images import read_image
from serving import Server, files, wait_job

MASK = {"kind": "rect", "x": 0.1, "y": 0.3, "width": 0.4, "height": 0.4}  # around the synthetic defect at (0.3, 0.5)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {"GOLDENSHOT_SERVER_DRIFT_WINDOW": "10", "GOLDENSHOT_SERVER_DRIFT_MIN_INSPECTIONS": "5", "GOLDENSHOT_SERVER_DRIFT_EVERY": "1"}
    srv = Server(tmp_path_factory.mktemp("health") / "data", env).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    with server.client() as c:
        yield c


def _build(client, name: str, paths: list[Path]) -> None:
    assert client.post("/v1/products", json={"name": name}).status_code == 201
    assert client.post(f"/v1/products/{name}/golden", files=files(paths)).status_code == 201
    done = wait_job(client, client.post(f"/v1/products/{name}/fingerprints").json()["id"])
    assert done["state"] == "succeeded", done


@pytest.fixture(scope="module")
def tile(client, tile_root: Path) -> str:
    _build(client, "tile", sorted((tile_root / "train" / "good").iterdir())[:6])
    return "tile"


def _png(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return out.getvalue()


def _goods(tile_root: Path, n: int) -> list[np.ndarray]:
    return [read_image(p) for p in sorted((tile_root / "test" / "good").iterdir())[:n]]


def _with_defect(image: np.ndarray) -> np.ndarray:
    """A dark square with a bright cross at (0.3, 0.5) of the image."""
    out = image.copy()
    h, w = out.shape[:2]
    side = max(8, min(h, w) // 8)
    x0, y0 = int(0.3 * w) - side // 2, int(0.5 * h) - side // 2
    out[y0 : y0 + side, x0 : x0 + side] = 0
    out[y0 + side // 2 - 1 : y0 + side // 2 + 1, x0 : x0 + side] = 255
    out[y0 : y0 + side, x0 + side // 2 - 1 : x0 + side // 2 + 1] = 255
    return out


def _inspect(client, product: str, image: np.ndarray, name: str = "part.png") -> dict:
    answer = client.post(f"/v1/products/{product}/inspect", files={"file": (name, _png(image), "image/png")})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _in_mask(region: dict, width: int, height: int) -> bool:
    x, y, w, h = region["bbox"]
    cx, cy = (x + w / 2) / width, (y + h / 2) / height
    return MASK["x"] <= cx <= MASK["x"] + MASK["width"] and MASK["y"] <= cy <= MASK["y"] + MASK["height"]


def test_an_ignore_mask_silences_a_defect_inside_it_on_rest_and_grpc(server, client, tile, tile_root):
    damaged = _with_defect(_goods(tile_root, 1)[0])
    height, width = damaged.shape[:2]
    before = _inspect(client, tile, damaged)
    assert before["decision"] == "ANOMALOUS" and any(_in_mask(r, width, height) for r in before["regions"])
    assert client.get(f"/v1/products/{tile}/ignore-mask").json() == {"shapes": [], "updated_at": None}

    saved = client.put(f"/v1/products/{tile}/ignore-mask", json={"shapes": [MASK]})
    assert saved.status_code == 200 and saved.json()["shapes"] == [MASK] and saved.json()["updated_at"]
    after = _inspect(client, tile, damaged)
    assert after["score"] < before["score"] and not any(_in_mask(r, width, height) for r in after["regions"])

    import grpc

    from services.proto.goldenshot.v1 import scorer_pb2 as pb
    from services.proto.goldenshot.v1 import scorer_pb2_grpc as pb_grpc

    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        reply = pb_grpc.ScorerStub(channel).Inspect(pb.InspectRequest(product=tile, image=_png(damaged), filename="part.png"), timeout=30)
    assert reply.score == pytest.approx(after["score"], rel=1e-6)  # the mask applies on every path

    # bad input: a clear 4xx, and the stored mask stays
    for body, status in [
        ({"shapes": [{**MASK, "x": 2}]}, 422),
        ({"shapes": [{"kind": "polygon", "points": [[0, 0], [1, 1]]}]}, 422),
        ({"shapes": [MASK] * 33}, 400),
        ({"shape": []}, 422),
    ]:
        refused = client.put(f"/v1/products/{tile}/ignore-mask", json=body)
        assert refused.status_code == status, refused.text
        assert refused.json()["error"]["message"]
    assert client.get(f"/v1/products/{tile}/ignore-mask").json()["shapes"] == [MASK]
    assert client.put(f"/v1/products/{tile}/ignore-mask", json={"shapes": []}).json()["shapes"] == []
    assert _inspect(client, tile, damaged)["score"] == pytest.approx(before["score"], rel=1e-6)
    assert client.get("/v1/products/nope/ignore-mask").status_code == 404


def _shifted(image: np.ndarray) -> np.ndarray:
    """The light changed and the camera lost focus: brighter and blurred."""
    return cv2.GaussianBlur(np.clip(image.astype(np.int32) * 1.6 + 40, 0, 255).astype(np.uint8), (0, 0), 3)


def test_drift_rises_on_a_shifted_stream_and_not_on_an_unshifted_one(server, client, tile_root):
    _build(client, "drift", sorted((tile_root / "train" / "good").iterdir())[6:12])
    goods = _goods(tile_root, 10)
    assert client.get("/v1/products/drift/drift").json()["ratio"] is None  # nothing inspected yet
    for i, image in enumerate(goods):
        _inspect(client, "drift", image, f"good-{i}.png")
    steady = client.get("/v1/products/drift/drift").json()
    assert steady["inspections"] == 10 and steady["ratio"] < steady["high"] and not steady["flagged"], steady
    assert "scores drifted from the golden samples" not in server.log.read_text()
    for i, image in enumerate(goods):
        _inspect(client, "drift", _shifted(image), f"shifted-{i}.png")
    moved = client.get("/v1/products/drift/drift").json()
    assert moved["flagged"] and moved["direction"] == "up" and moved["ratio"] >= moved["high"], moved
    metrics = client.get("/metrics").text
    gauge = next(line for line in metrics.splitlines() if line.startswith("goldenshot_drift_ratio{") and 'product="drift"' in line)
    assert float(gauge.rsplit(" ", 1)[1]) == pytest.approx(moved["ratio"], rel=1e-6)
    drifted = [line for line in server.log.read_text().splitlines() if "scores drifted from the golden samples" in line]
    assert len(drifted) == 1 and '"product": "drift"' in drifted[0]  # logged once, when it happened


def test_golden_health_flags_a_wrong_product_photo_by_name(client, tile, tile_root, screw_root):
    wrong = sorted((screw_root / "train" / "good").iterdir())[0]
    _build(client, "mixed", sorted((tile_root / "train" / "good").iterdir())[:3] + [wrong])
    samples = client.get("/v1/products/mixed/fingerprints/1/samples").json()
    assert samples["version"] == 1 and len(samples["items"]) == 4
    assert [s["name"] for s in samples["items"] if s["status"] != "ok"] == [wrong.name]
    golden = {g["sha256"]: g["id"] for g in client.get("/v1/products/mixed/golden").json()["items"]}
    assert all(s["golden_id"] == golden[s["sha256"]] for s in samples["items"])
    healthy = client.get(f"/v1/products/{tile}/fingerprints/1/samples").json()["items"]
    assert len(healthy) == 6 and {s["status"] for s in healthy} == {"ok"} and all(s["score"] > 0 for s in healthy)
    assert client.get(f"/v1/products/{tile}/fingerprints/9/samples").status_code == 404
