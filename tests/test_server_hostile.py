"""Hostile input and failing storage against a real server: no 500s, no hang, nothing half-stored."""

from __future__ import annotations

import io
import socket
import sqlite3
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from serving import ROOT, Server, files, wait_job


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("hostile") / "data", {"GOLDENSHOT_LIMITS__MAX_PIXELS": "4000000"}).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server, tile_root):
    with server.client() as c:
        c.post("/v1/products", json={"name": "tile"})
        c.post("/v1/products/tile/golden", files=files(sorted((tile_root / "train" / "good").iterdir())[:8]))
        assert wait_job(c, c.post("/v1/products/tile/fingerprints").json()["id"])["state"] == "succeeded"
        yield c


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _bomb_png(width: int, height: int) -> bytes:
    """A grey PNG of width x height whose zeros compress to a few kB: small upload, huge decode."""
    raw = zlib.compress(b"\x00" * (width + 1) * height, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def _corpus(tile_root: Path) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (64, 80, 3), dtype=np.uint8))
    jpeg = (tile_root / "test/good/exp1_num_106729.jpg").read_bytes()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 on display
    frames = [Image.new("P", (32, 32), i) for i in range(3)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], loop=0)
    return {
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "truncated.png": _encode(rgb, "PNG")[:100],
        "header-only.jpg": jpeg[:2],
        "one-pixel.png": _encode(Image.new("RGB", (1, 1)), "PNG"),
        "line-100000x1.png": _encode(Image.new("L", (100000, 1), 128), "PNG"),
        "line-1x100000.png": _encode(Image.new("L", (1, 100000), 128), "PNG"),
        "palette.png": _encode(rgb.convert("P"), "PNG"),
        "cmyk.jpg": _encode(rgb.convert("CMYK"), "JPEG"),
        "gray16.png": _encode(Image.fromarray((rng.integers(0, 4096, (64, 64))).astype(np.uint16)), "PNG"),
        "exif-rotated.jpg": _encode(rgb, "JPEG", exif=exif),
        "animated.gif": gif.getvalue(),
        "bomb-20000.png": _bomb_png(20000, 20000),
        "bomb-1900.png": _bomb_png(1900, 1900),  # under the pixel limit: decodes, then is scored
        "tiff-huge-header.tif": _encode(Image.new("L", (16, 16)), "TIFF")[:8] + b"\x00" * 64,
        "svg.png": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        "eps.png": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",
        "zeros.bin": bytes(4096),
    }


def test_malformed_images_get_4xx_json_never_500(client, tile_root):
    for name, data in _corpus(tile_root).items():
        response = client.post("/v1/products/tile/inspect", files={"file": (name, data, "application/octet-stream")})
        assert response.status_code in (200, 422), (name, response.status_code, response.text[:300])
        if response.status_code == 422:
            assert response.json()["error"]["code"] == "invalid_image", name
        else:
            result = response.json()
            assert result["decision"] in ("OK", "ANOMALOUS") and result["width"] * result["height"] > 0, name
            assert client.get(result["overlay_url"]).status_code == 200, name
    assert client.get("/readyz").status_code == 200


def test_cors_is_closed_by_default(client):
    preflight = client.options("/v1/products", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers
    listed = client.get("/v1/products", headers={"Origin": "http://evil.example"})
    assert listed.status_code == 200 and "access-control-allow-origin" not in listed.headers


def test_a_slow_client_does_not_block_others(server, client, tile_root):
    slow = socket.create_connection(("127.0.0.1", server.port))
    try:
        slow.sendall(b"POST /v1/products/tile/inspect HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000000\r\n\r\n\x89PNG")
        started = time.monotonic()
        fast = client.post("/v1/products/tile/inspect", files=files([tile_root / "test/good/exp1_num_106729.jpg"], "file"))
        assert fast.status_code == 200 and time.monotonic() - started < 10
    finally:
        slow.close()


def test_schemathesis_finds_no_server_error(server, client):
    # last of the tests on the shared server: with every response described, its stateful phase follows
    # the links between operations and deletes or recreates products such as 'tile'
    out = subprocess.run(
        [str(Path(sys.executable).with_name("st")), "run", f"{server.url}/openapi.json", "-c", "not_a_server_error", "-n", "15", "--generation-deterministic", "--request-timeout", "30"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:]
    assert "passed" in out.stdout and client.get("/healthz").status_code == 200


def test_damaged_fingerprint_is_reported_and_rollback_works(tmp_path, tile_root):
    """A fingerprint file damaged on disk while the server was down: the restarted server, which
    loads it cold, reports it; the previous version can be activated at once."""
    server = Server(tmp_path / "data").start()
    image = files([tile_root / "test/good/exp1_num_106729.jpg"], "file")
    try:
        with server.client() as c:
            c.post("/v1/products", json={"name": "tile"})
            c.post("/v1/products/tile/golden", files=files(sorted((tile_root / "train" / "good").iterdir())[:8]))
            for threshold in (None, 5.0):
                job = c.post("/v1/products/tile/fingerprints", json={"threshold": threshold}).json()
                assert wait_job(c, job["id"])["state"] == "succeeded"
        server.stop()
        with sqlite3.connect(server.data_dir / "catalog.db") as db:
            (key,) = db.execute("SELECT object_key FROM versions WHERE version = 2").fetchone()
        path = server.data_dir / "objects" / key
        path.write_bytes(path.read_bytes()[:-1000])
        server.start()
        with server.client() as c:
            damaged = c.post("/v1/products/tile/inspect", files=image)
            assert damaged.status_code == 503 and damaged.json()["error"]["code"] == "fingerprint_unavailable"
            assert "v2" in damaged.json()["error"]["message"]
            assert c.post("/v1/products/tile/fingerprints/1/activate").status_code == 200
            back = c.post("/v1/products/tile/inspect", files=image)
            assert back.status_code == 200 and back.json()["version"] == 1
    finally:
        server.stop()


def test_full_disk_gives_507_and_keeps_what_was_stored(tmp_path, tile_root):
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1500k", "tmpfs", str(mount)], check=True)  # needs root, as CI has
    server = Server(mount / "data", {"GOLDENSHOT_SERVER_MAX_GOLDEN": "1000"})
    try:
        server.start()
        with server.client() as c:
            c.post("/v1/products", json={"name": "tile"})
            stored, answer = [], None
            for path in sorted((tile_root / "train" / "good").iterdir())[:200]:
                answer = c.post("/v1/products/tile/golden", files=files([path]))
                if answer.status_code != 201:
                    break
                stored.append(path)
            assert answer is not None and answer.status_code == 507, answer.text
            assert answer.json()["error"]["code"] == "insufficient_storage" and stored
            listed = c.get("/v1/products/tile/golden").json()["items"]
            assert sorted(g["filename"] for g in listed) == sorted(p.name for p in stored)
            by_name = {p.name: p for p in stored}
            for sample in listed[:5]:
                assert c.get(sample["image_url"]).content == by_name[sample["filename"]].read_bytes()
            for sample in listed[:10]:
                assert c.delete(f"/v1/products/tile/golden/{sample['id']}").status_code == 204
            assert c.post("/v1/products/tile/golden", files=files([stored[0]])).status_code == 201  # room again
            assert c.get("/readyz").status_code == 200
    finally:
        server.stop()
        subprocess.run(["umount", str(mount)], check=False)
