"""GET /v1/limits states the limits the server enforces: the golden-sample limit a client shows is the one an upload meets."""

from __future__ import annotations

from serving import Server, files


def test_stated_golden_limit_is_the_enforced_one(tmp_path, tile_root):
    server = Server(tmp_path / "data", {"GOLDENSHOT_SERVER_MAX_GOLDEN": "3", "GOLDENSHOT_SERVER_MAX_FILES": "7"}).start()
    try:
        with server.client() as c:
            limits = c.get("/v1/limits").json()
            assert limits["max_golden"] == 3 and limits["max_files"] == 7
            assert limits["max_file_bytes"] > 0 and limits["max_request_bytes"] > 0
            assert c.post("/v1/products", json={"name": "tile"}).status_code == 201
            images = sorted((tile_root / "train" / "good").iterdir())[: limits["max_golden"] + 1]
            over = c.post("/v1/products/tile/golden", files=files(images))
            assert over.status_code == 409 and over.json()["error"]["code"] == "too_many_golden_samples"
            assert "at most 3 golden samples" in over.json()["error"]["message"]
            assert c.get("/v1/products/tile/golden").json()["items"] == []  # nothing stored
            assert c.post("/v1/products/tile/golden", files=files(images[:-1])).status_code == 201  # exactly the limit
            assert len(c.get("/v1/products/tile/golden").json()["items"]) == limits["max_golden"]
    finally:
        server.stop()
