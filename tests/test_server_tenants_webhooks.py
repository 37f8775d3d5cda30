"""API keys and tenant isolation, and MES webhooks delivered to a real receiver on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import httpx
import pytest

from serving import ROOT, Server, files, free_port, wait_job
from services.common.webhooks import sign
from services.proto.goldenshot.v1 import scorer_pb2 as pb
from services.proto.goldenshot.v1 import scorer_pb2_grpc as pb_grpc


def _key(data_dir, tenant: str) -> str:
    out = subprocess.run([sys.executable, "-m", "goldenshot", "keys", "create", tenant, "--data-dir", str(data_dir)], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    data = tmp_path_factory.mktemp("keyed") / "data"
    keys = {tenant: _key(data, tenant) for tenant in ("plant-a", "plant-b")}
    srv = Server(data, {"GOLDENSHOT_SERVER_METRICS_PORT": str(free_port())}, args=["--require-api-key"]).start()
    yield srv, keys
    srv.stop()


def test_keys_are_required_and_stored_hashed(keyed):
    srv, keys = keyed
    with srv.client() as c:
        assert c.get("/v1/products").status_code == 401
        assert c.get("/v1/products", headers={"X-API-Key": keys["plant-a"] + "x"}).json()["error"]["code"] == "unauthorized"
        assert c.get("/v1/products", headers={"X-API-Key": keys["plant-a"]}).status_code == 200
        assert c.get("/healthz").status_code == 200  # probes need no key
        assert c.get("/metrics").status_code == 404  # metrics live on their own port here
    metrics = httpx.get(f"http://127.0.0.1:{srv.env['GOLDENSHOT_SERVER_METRICS_PORT']}/metrics", timeout=10)
    assert metrics.status_code == 200 and "goldenshot_queue_depth" in metrics.text
    with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
        stub = pb_grpc.ScorerStub(channel)
        with pytest.raises(grpc.RpcError) as failure:
            stub.Inspect(pb.InspectRequest(product="x", image=b"x"), timeout=10)
        assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as failure:
            stub.Inspect(pb.InspectRequest(product="x", image=b"x"), metadata=[("x-api-key", keys["plant-b"])], timeout=10)
        assert failure.value.code() == grpc.StatusCode.NOT_FOUND
    catalog = (srv.data_dir / "catalog.db").read_bytes()
    assert all(key.encode() not in catalog for key in keys.values())
    listed = subprocess.run([sys.executable, "-m", "goldenshot", "keys", "list", "--data-dir", str(srv.data_dir)], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "plant-a" in listed.stdout and keys["plant-a"] not in listed.stdout


def test_a_key_sees_and_changes_only_its_tenant(keyed, tile_root):
    srv, keys = keyed
    a = srv.client(headers={"X-API-Key": keys["plant-a"]})
    b = srv.client(headers={"X-API-Key": keys["plant-b"]})
    with a, b:
        assert a.post("/v1/products", json={"name": "housing"}).status_code == 201
        golden = sorted((tile_root / "train" / "good").iterdir())[:2]
        sample = a.post("/v1/products/housing/golden", files=files(golden)).json()["items"][0]
        job = a.post("/v1/products/housing/fingerprints").json()
        assert wait_job(a, job["id"])["state"] == "succeeded"
        seen = a.post("/v1/products/housing/inspect", files=files(golden[:1], "file")).json()

        assert b.get("/v1/products").json()["items"] == []
        for url in ("/v1/products/housing", "/v1/products/housing/golden", f"/v1/jobs/{job['id']}", f"/v1/products/housing/inspections/{seen['id']}", sample["image_url"], seen["image_url"]):
            assert b.get(url).status_code == 404, url
        assert b.delete("/v1/products/housing").status_code == 404
        assert b.post("/v1/products/housing/inspect", files=files(golden[:1], "file")).status_code == 404
        assert b.get("/v1/jobs").json()["items"] == []
        # the same name is free in another tenant, and stays separate
        assert b.post("/v1/products", json={"name": "housing"}).status_code == 201
        assert b.get("/v1/products/housing").json()["golden_count"] == 0
        assert a.get("/v1/products/housing").json()["golden_count"] == 2


class _Receiver:
    """An MES stand-in: answers 500 to the first `failures` posts, then 200, and records every post."""

    def __init__(self, failures: int) -> None:
        self.posts: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(500 if len(receiver.posts) <= failures else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.http.server_port}/reject"

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def test_webhook_is_signed_retried_and_filtered(tmp_path, tile_root):
    receiver = _Receiver(failures=1)
    allow = '["127.0.0.1/32"]'  # the receiver is on loopback, which webhooks may reach only when allowed
    srv = Server(tmp_path / "data", env={"GOLDENSHOT_SERVER_WEBHOOK_BACKOFF_S": "0.2", "GOLDENSHOT_SERVER_WEBHOOK_ALLOW": allow}).start()
    try:
        with srv.client() as c:
            c.post("/v1/products", json={"name": "line-3"})
            c.post("/v1/products/line-3/golden", files=files(sorted((tile_root / "train" / "good").iterdir())[:8]))
            assert wait_job(c, c.post("/v1/products/line-3/fingerprints").json()["id"])["state"] == "succeeded"
            hook = c.put("/v1/products/line-3/webhook", json={"url": receiver.url, "secret": "s3cret", "events": "anomalous"})
            assert hook.status_code == 200 and hook.json()["secret_set"] and "s3cret" not in hook.text
            assert c.put("/v1/products/line-3/webhook", json={"url": "file:///etc/passwd"}).status_code == 422
            good = c.post("/v1/products/line-3/inspect", files=files([tile_root / "test/good/exp1_num_106729.jpg"], "file")).json()
            bad = c.post("/v1/products/line-3/inspect", files=files([tile_root / "test/fray/exp6_num_258703.jpg"], "file")).json()
            assert (good["decision"], bad["decision"]) == ("OK", "ANOMALOUS")
            deadline = time.monotonic() + 20
            while len(receiver.posts) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)  # nothing more may arrive: the OK result is filtered, the retry succeeded
            assert len(receiver.posts) == 2  # one failure, one retry, both of the anomalous result
            for headers, body in receiver.posts:
                assert json.loads(body)["id"] == bad["id"] == headers["x-goldenshot-delivery"]  # no global counter
                assert headers["x-goldenshot-signature"] == sign("s3cret", headers["x-goldenshot-timestamp"], body)
            assert "goldenshot_webhook_deliveries_total" in c.get("/metrics").text
            listed = c.get("/v1/products/line-3/webhook/deliveries").json()
            assert listed["next_cursor"] is None and [(d["inspection_id"], d["state"], d["attempts"]) for d in listed["items"]] == [(bad["id"], "delivered", 2)]
            assert c.get("/v1/products/line-3/webhook/deliveries", params={"state": "failed"}).json()["items"] == []
            replayed = c.post(f"/v1/products/line-3/webhook/deliveries/{bad['id']}/replay")
            assert replayed.status_code == 202 and replayed.json() == {"queued": 1}
            deadline = time.monotonic() + 20
            while len(receiver.posts) < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert [h["x-goldenshot-delivery"] for h, _ in receiver.posts] == [bad["id"]] * 3  # the same delivery id: receivers drop repeats
            assert c.post(f"/v1/products/line-3/webhook/deliveries/{good['id']}/replay").status_code == 404  # filtered: never queued
            assert c.post("/v1/products/line-3/webhook/deliveries/replay").json() == {"queued": 0}  # nothing failed
            assert c.delete("/v1/products/line-3/webhook").status_code == 204
            assert c.get("/v1/products/line-3/webhook").status_code == 404
            assert c.post("/v1/products/line-3/webhook/deliveries/replay").json()["error"]["code"] == "no_webhook"
    finally:
        srv.stop()
        receiver.close()


def test_two_senders_never_deliver_the_same_row_twice(tmp_path):
    """Scorer replicas share the outbox: the claim lets exactly one of them send each delivery."""
    from services.common.catalog import Catalog

    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    for i in range(20):
        catalog.deliveries.enqueue({"product_id": "p", "inspection_id": f"i{i}", "url": "http://127.0.0.1:9/x", "secret": "", "body": "{}"})
    due = catalog.deliveries.due(time.time() + 1, limit=100)
    claims = [catalog.deliveries.claim(d, 30.0) for d in due]
    again = [catalog.deliveries.claim(d, 30.0) for d in due]  # a second replica with the same view
    assert len(due) == 20 and all(claims) and not any(again)
    assert catalog.deliveries.due(time.time() + 1) == []  # leased, not due until the lease runs out
