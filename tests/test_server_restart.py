"""A server killed with SIGKILL mid-batch, with a build queued, loses nothing and doubles nothing on restart."""

from __future__ import annotations

import time

from serving import Server, files, wait_job


def test_kill_9_mid_batch_then_restart(tmp_path, tile_root):
    data = tmp_path / "data"
    server = Server(data).start()
    try:
        with server.client() as c:
            c.post("/v1/products", json={"name": "tile"})
            c.post("/v1/products/tile/golden", files=files(sorted((tile_root / "train" / "good").iterdir())[:8]))
            assert wait_job(c, c.post("/v1/products/tile/fingerprints").json()["id"])["state"] == "succeeded"
            first = c.post("/v1/products/tile/inspect", files=files([tile_root / "test/fray/exp6_num_258703.jpg"], "file")).json()
            batch_paths = sorted((tile_root / "test" / "good").iterdir())[:40]
            batch = c.post("/v1/products/tile/batches", files=files(batch_paths)).json()
            build = c.post("/v1/products/tile/fingerprints", json={"threshold": 9.0}).json()  # queued behind the batch
            deadline = time.monotonic() + 60
            while (job := c.get(f"/v1/jobs/{batch['id']}").json())["progress"]["done"] < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert job["state"] == "running" and job["progress"]["done"] < len(batch_paths)
        server.kill()

        server.start()
        with server.client() as c:
            resumed = wait_job(c, batch["id"])
            assert resumed["state"] == "succeeded" and resumed["attempts"] == 2  # interrupted, then run again
            assert resumed["result"]["count"] == len(batch_paths) and resumed["result"]["failed"] == []
            items = c.get("/v1/products/tile/inspections", params={"batch": batch["id"], "limit": 1000}).json()["items"]
            assert sorted(i["filename"] for i in items) == sorted(p.name for p in batch_paths)  # each once
            rebuilt = wait_job(c, build["id"])
            assert rebuilt["state"] == "succeeded" and rebuilt["result"] == {"version": 2}
            versions = c.get("/v1/products/tile/fingerprints").json()["items"]
            assert [(v["version"], v["threshold"]) for v in versions][0] == (2, 9.0) and len(versions) == 2
            kept = c.get(f"/v1/products/tile/inspections/{first['id']}").json()
            assert kept["score"] == first["score"] and c.get(kept["overlay_url"]).status_code == 200
            assert c.get("/v1/products/tile").json()["golden_count"] == 8
    finally:
        server.stop()


def test_kill_9_mid_build_then_restart(tmp_path, tile_root):
    server = Server(tmp_path / "data").start()
    try:
        with server.client() as c:
            c.post("/v1/products", json={"name": "tile"})
            c.post("/v1/products/tile/golden", files=files(sorted((tile_root / "train" / "good").iterdir())[:8]))
            job = c.post("/v1/products/tile/fingerprints").json()
            deadline = time.monotonic() + 60
            while c.get(f"/v1/jobs/{job['id']}").json()["state"] != "running" and time.monotonic() < deadline:
                time.sleep(0.01)
        server.kill()
        server.start()
        with server.client() as c:
            done = wait_job(c, job["id"])
            assert done["state"] == "succeeded" and done["attempts"] == 2 and done["result"] == {"version": 1}
            assert [v["version"] for v in c.get("/v1/products/tile/fingerprints").json()["items"]] == [1]
            assert c.post("/v1/products/tile/inspect", files=files([tile_root / "test/good/exp1_num_106729.jpg"], "file")).status_code == 200
    finally:
        server.stop()
