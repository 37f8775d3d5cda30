"""The distributed deployment on 127.0.0.1: ingest, builder and scorer as separate processes over
nats-server (JetStream), SeaweedFS (S3), the CPU tritonserver and one shared SQL catalog.

Qdrant runs in local mode inside each process (no server binary exists here); scoring uses the hot
copy of the bank loaded from the fingerprint in S3, so nothing here depends on sharing it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import grpc
import pytest
from fleet import fleet as start_fleet
from goldenshot.images import read_image
from goldenshot.inspector import Inspector
from serving import files, wait_job
from services.proto.goldenshot.v1 import scorer_pb2 as pb
from services.proto.goldenshot.v1 import scorer_pb2_grpc as pb_grpc


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """The backends, then scorer, builder and ingest; yields the three Servers by role, and S3."""
    with start_fleet(tmp_path_factory.mktemp("fleet")) as running:
        yield {"scorer": running.scorers[0], "builder": running.builder, "ingest": running.ingest}, running.s3


@pytest.fixture(scope="module")
def product(fleet, tile_root):
    services, _ = fleet
    with services["ingest"].client() as c:
        assert c.post("/v1/products", json={"name": "tile"}).status_code == 201
        assert c.post("/v1/products/tile/golden", files=files(sorted((tile_root / "train" / "good").iterdir())[:8])).status_code == 201
        started = time.monotonic()
        build = wait_job(c, c.post("/v1/products/tile/fingerprints").json()["id"])
        assert build["state"] == "succeeded" and build["result"] == {"version": 1}, build
        return {"build_seconds": time.monotonic() - started}


def test_ingest_builder_scorer_score_like_the_library(fleet, product, tile_root, tmp_path):
    services, _ = fleet
    path = tile_root / "test/fray/exp6_num_258703.jpg"
    with services["ingest"].client() as c:
        rest = c.post("/v1/products/tile/inspect", files=files([path], "file"))
        assert rest.status_code == 200, rest.text
        fp = tmp_path / "v1.safetensors"
        fp.write_bytes(c.get("/v1/products/tile/fingerprints/1/file").content)
        assert c.get(rest.json()["overlay_url"]).status_code == 200  # ingest draws from S3
    with grpc.insecure_channel(f"127.0.0.1:{services['scorer'].grpc_port}") as channel:
        reply = pb_grpc.ScorerStub(channel).Inspect(pb.InspectRequest(product="tile", image=path.read_bytes(), filename=path.name), timeout=60)
    expected = Inspector.load(fp).inspect(read_image(path)).score  # in-process (the ONNX file Triton serves), same fingerprint
    assert rest.json()["score"] == pytest.approx(expected, rel=1e-3) and reply.score == pytest.approx(expected, rel=1e-3)
    assert rest.json()["decision"] == reply.decision == "ANOMALOUS"
    with services["ingest"].client() as c:
        batch = c.post("/v1/products/tile/batches", files=files(sorted((tile_root / "test" / "good").iterdir())[:3]))
        done = wait_job(c, batch.json()["id"])  # consumed by the scorer over NATS
        assert done["state"] == "succeeded" and done["result"]["count"] == 3, done
        assert not (services["ingest"].data_dir / "objects").exists()


def test_builder_killed_mid_build_finishes_once_after_restart(fleet, product):
    services, _ = fleet
    with services["ingest"].client() as c:
        job = c.post("/v1/products/tile/fingerprints").json()
        deadline = time.monotonic() + 60
        while c.get(f"/v1/jobs/{job['id']}").json()["state"] != "running" and time.monotonic() < deadline:
            time.sleep(0.02)
        services["builder"].kill()
        assert c.get(f"/v1/jobs/{job['id']}").json()["state"] == "running"
        services["builder"].start()
        done = wait_job(c, job["id"], timeout=120)
        assert done["state"] == "succeeded" and done["attempts"] == 2, done  # redelivered by NATS, run again
        versions = [v["version"] for v in c.get("/v1/products/tile/fingerprints").json()["items"]]
        assert versions == [done["result"]["version"], 1]  # one new version, not two


def test_dead_s3_is_503_through_the_fleet_and_heals(fleet, product, tile_root):
    services, s3 = fleet
    image = files([tile_root / "test/good/exp1_num_106729.jpg"], "file")
    with services["ingest"].client() as c:
        s3.kill()
        try:
            dead = c.post("/v1/products/tile/inspect", files=image)
            assert dead.status_code == 503 and dead.json()["error"]["code"] == "unavailable", dead.text
        finally:
            s3.start()
        deadline = time.monotonic() + 30
        while (again := c.post("/v1/products/tile/inspect", files=image)).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert again.status_code == 200, again.text


def test_request_ids_follow_the_work_into_every_service_log(fleet, product, tile_root):
    services, _ = fleet
    with services["ingest"].client() as c:
        build = c.post("/v1/products/tile/fingerprints", headers={"X-Request-ID": "trace-build-7"})
        assert build.headers["x-request-id"] == "trace-build-7"
        assert wait_job(c, build.json()["id"])["state"] == "succeeded"
        image = files([tile_root / "test/good/exp1_num_106729.jpg"], "file")
        assert c.post("/v1/products/tile/inspect", files=image, headers={"X-Request-ID": "trace-inspect-7"}).status_code == 200

    def lines(server, trace: str) -> list[dict]:
        return [json.loads(line) for line in server.log.read_text().splitlines() if trace in line and line.startswith("{")]

    def logged(server, trace: str, route: str) -> bool:
        """The access line is written once the answer has been sent, so the client may read the log first."""
        deadline = time.monotonic() + 10
        while not any(line.get("route") == route for line in lines(server, trace)):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    built = lines(services["builder"], "trace-build-7")  # over NATS, in another process
    assert {"job started", "job finished"} <= {line["msg"] for line in built}
    assert all(line["request_id"] == "trace-build-7" for line in built)
    assert logged(services["ingest"], "trace-inspect-7", "/v1/products/{name}/inspect")
    assert lines(services["scorer"], "trace-inspect-7")  # over gRPC metadata
