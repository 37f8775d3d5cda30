"""The server on its distributed backends: `goldenshot serve` with GOLDENSHOT_SERVER_OBJECT_STORE=s3
(SeaweedFS) and GOLDENSHOT_SERVER_BUS=nats (nats-server with JetStream), all on 127.0.0.1. A build
and a batch travel over NATS, bytes live in S3 only, and a dead S3 is a 503 that heals by itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from backends import NatsServer, SeaweedS3, service_env
from serving import Server, files, wait_job
from services.common.settings import ServiceSettings


@pytest.fixture(scope="module")
def backends(tmp_path_factory):
    root = tmp_path_factory.mktemp("backends")
    nats, s3 = NatsServer(root / "jetstream"), SeaweedS3(root / "s3")
    try:
        yield nats.start(), s3.start()
    finally:
        nats.kill()
        s3.kill()


@pytest.fixture(scope="module")
def server(backends, tmp_path_factory):
    nats, s3 = backends
    srv = Server(tmp_path_factory.mktemp("srv") / "data", service_env(nats, s3)).start()
    yield srv
    srv.stop()


def test_build_inspect_and_batch_over_s3_and_nats(server, tile_root: Path):
    with server.client() as client:
        assert client.post("/v1/products", json={"name": "tile"}).status_code == 201
        golden = sorted((tile_root / "train" / "good").iterdir())[:8]
        assert client.post("/v1/products/tile/golden", files=files(golden)).status_code == 201
        build = wait_job(client, client.post("/v1/products/tile/fingerprints").json()["id"])
        assert build["state"] == "succeeded" and build["result"] == {"version": 1}, build
        fray = client.post("/v1/products/tile/inspect", files=files([tile_root / "test/fray/exp6_num_258703.jpg"], "file"))
        assert fray.status_code == 200 and fray.json()["decision"] == "ANOMALOUS", fray.text
        batch = client.post("/v1/products/tile/batches", files=files(sorted((tile_root / "test" / "good").iterdir())[:2]))
        done = wait_job(client, batch.json()["id"])
        assert done["state"] == "succeeded", done
        assert len(client.get("/v1/products/tile/inspections", params={"batch": done["id"]}).json()["items"]) == 2
        assert "goldenshot_queue_depth 0.0" in client.get("/metrics").text
    assert not (server.data_dir / "objects").exists()  # every byte went to S3


def test_dead_s3_is_503_unavailable_and_heals(server, backends, tile_root: Path):
    _, s3 = backends
    image = files([tile_root / "test/good/exp1_num_106729.jpg"], "file")
    with server.client() as client:
        before = client.post("/v1/products/tile/inspect", files=image)
        assert before.status_code == 200, before.text
        s3.kill()
        try:
            dead = client.post("/v1/products/tile/inspect", files=image)
            assert dead.status_code == 503, dead.text
            error = dead.json()["error"]
            assert error == {"code": "unavailable", "message": "the object store is unavailable; try again later"}
            assert client.get("/readyz").json()["error"]["code"] == "not_ready"
        finally:
            s3.start()
        after = client.post("/v1/products/tile/inspect", files=image)
        assert after.status_code == 200, after.text
        assert client.get(before.json()["image_url"]).content == image[0][1][1]  # stored before the crash, still there
        assert client.get("/readyz").status_code == 200


def test_s3_settings_are_checked_at_start(monkeypatch):
    with pytest.raises(ValidationError, match="GOLDENSHOT_SERVER_S3_ENDPOINT"):
        ServiceSettings(object_store="s3")
    with pytest.raises(ValidationError, match="without a scheme"):
        ServiceSettings(object_store="s3", s3_endpoint="http://minio:9000", s3_access_key="a", s3_secret_key="b")
    monkeypatch.setenv("GOLDENSHOT_SERVER_S3_SECRET_KEY", "from-env")
    settings = ServiceSettings(object_store="s3", s3_endpoint="minio:9000", s3_access_key="a")
    assert settings.s3_secret_key.get_secret_value() == "from-env" and "from-env" not in repr(settings)
