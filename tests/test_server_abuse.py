"""One tenant, one client or one request must not stall the REST API (issue 20): a real keyed server on
127.0.0.1 with small bounds, two tenants, and the attacks of the issue in miniature."""

from __future__ import annotations

import socket
import stat
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from serving import Server, create_keys, files, wait_job

MAX_IMAGE_BYTES = 2_000_000
BOUNDS = {
    "GOLDENSHOT_LIMITS__MAX_BYTES": str(MAX_IMAGE_BYTES),
    "GOLDENSHOT_SERVER_INSPECT_QUEUE": "6",
    "GOLDENSHOT_SERVER_INSPECT_PER_TENANT": "2",
    "GOLDENSHOT_SERVER_RETRY_AFTER_S": "3",
}


@pytest.fixture(scope="module")
def keyed(tmp_path_factory, tile_root):
    data = tmp_path_factory.mktemp("abuse") / "data"
    keys = create_keys(data, "plant-a", "plant-b")
    srv = Server(data, BOUNDS, args=["--require-api-key"]).start()
    golden = files(sorted((tile_root / "train" / "good").iterdir())[:4])
    for key in keys.values():
        with srv.client(headers={"X-API-Key": key}) as c:
            assert c.post("/v1/products", json={"name": "tile"}).status_code == 201
            assert c.post("/v1/products/tile/golden", files=golden).status_code == 201
            assert wait_job(c, c.post("/v1/products/tile/fingerprints").json()["id"])["state"] == "succeeded"
    yield srv, keys
    srv.stop()


def test_one_tenants_storm_is_refused_with_retry_after_while_the_other_tenant_and_probes_are_served(keyed, tile_root):
    srv, keys = keyed
    image = files([tile_root / "test/fray/exp6_num_258703.jpg"], "file")
    barrier = threading.Barrier(16)

    def storm(_: int) -> httpx.Response:
        with srv.client(headers={"X-API-Key": keys["plant-a"]}) as c:
            barrier.wait(30)
            return c.post("/v1/products/tile/inspect", files=image)

    with ThreadPoolExecutor(16) as pool:
        answers = pool.map(storm, range(16))
        with srv.client(headers={"X-API-Key": keys["plant-b"]}) as other:
            served = [other.post("/v1/products/tile/inspect", files=image).status_code for _ in range(3)]
            probes = [other.get("/healthz").status_code, other.get("/readyz").status_code]
        answers = list(answers)
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {200, 429} and 429 in statuses and 200 in statuses, statuses  # before: 16 x 200, queued without bound
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.headers["retry-after"] == "3" and refused.json()["error"]["code"] == "too_many_requests"
    assert served == [200, 200, 200] and probes == [200, 200]  # plant-b never waits for plant-a's share


def test_a_raw_image_body_is_cut_off_while_it_streams(keyed):
    """A chunked body over the per-file limit gets its 413 before the client has finished sending
    (before: the whole body was read first, so this client, still sending, got no answer)."""
    srv, keys = keyed
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as sock:
        head = (
            "POST /v1/products/tile/golden HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
            f"X-API-Key: {keys['plant-a']}\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(head.encode())
        chunk = b"\0" * 2**16
        for _ in range(MAX_IMAGE_BYTES // len(chunk) + 2):  # just past the limit, and the body never ends
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_metrics_need_their_own_port_when_keys_are_required(keyed):
    srv, keys = keyed
    with srv.client(headers={"X-API-Key": keys["plant-a"]}) as c:
        assert c.get("/metrics").status_code == 404  # before: every tenant's names and counts, without a key


def test_answers_carry_a_strict_csp_and_the_docs_ui_is_not_served(keyed):
    srv, keys = keyed
    with srv.client(headers={"X-API-Key": keys["plant-a"]}) as c:
        for answer in (c.get("/healthz"), c.get("/v1/products")):
            csp = answer.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and answer.headers["x-frame-options"] == "DENY"
        assert c.get("/docs").status_code == 404  # Swagger UI came from a CDN, unpinned, on the console's origin
        assert c.get("/openapi.json").status_code == 200


def test_integers_past_64_bits_in_paths_and_cursors_are_a_422(keyed):
    srv, keys = keyed
    with srv.client(headers={"X-API-Key": keys["plant-a"]}) as c:
        for url in ("/v1/products/tile/fingerprints/9223372036854775808", "/v1/products/tile/fingerprints/18446744073709551616/activate",
                    "/v1/products/tile/inspections?cursor=9223372036854775808"):
            answer = c.post(url) if url.endswith("activate") else c.get(url)
            assert answer.status_code == 422 and answer.json()["error"]["code"] == "validation_error", (url, answer.text)


def test_the_data_dir_and_the_catalog_are_the_owners_alone(keyed):
    srv, _ = keyed
    assert stat.S_IMODE(srv.data_dir.stat().st_mode) == 0o700  # before: 0755
    assert stat.S_IMODE((srv.data_dir / "catalog.db").stat().st_mode) == 0o600  # webhook secrets inside; before: 0644
    stored = [p for p in (srv.data_dir / "objects").rglob("*") if p.is_file()]
    assert stored and all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in stored)


def test_cursors_count_the_tenants_own_inspections_not_everyones(keyed, tile_root):
    srv, keys = keyed
    image = files([tile_root / "test/good/exp1_num_106729.jpg"], "file")
    a = srv.client(headers={"X-API-Key": keys["plant-a"]})
    b = srv.client(headers={"X-API-Key": keys["plant-b"]})
    with a, b:
        for client in (a, a, a, b, b):
            assert client.post("/v1/products/tile/inspect", files=image).status_code == 200
        total = b.get("/v1/products/tile/stats").json()["total"]
        pages, cursor = [], None
        for _ in range(total + 1):
            page = b.get("/v1/products/tile/inspections", params={"limit": 1, **({"cursor": cursor} if cursor is not None else {})}).json()
            pages += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
            assert cursor <= total  # before: the catalog's global sequence, past every tenant's inspections
        assert len(pages) == len(set(pages)) == total
