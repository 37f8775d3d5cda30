"""On the line, against the real embedded server: a watched folder and a generated video file for two
products at once, a restart, the bad inputs (a missing folder, an unreachable camera, paths outside the
roots, hostile topics), and the MQTT sink against a real mosquitto that goes down and comes back."""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest
from mqtt_broker import MOSQUITTO, Mosquitto, subscriber
from serving import Server, files, free_port, wait_job

WAIT_S = 180.0  # generous: two busy shared cores


def _until(client, url: str, done, timeout: float = WAIT_S) -> dict:
    """Poll a source until done(source) holds; returns it (the test fails with the last one seen)."""
    deadline = time.monotonic() + timeout
    while True:
        source = client.get(url).json()
        if done(source) or time.monotonic() > deadline:
            return source
        time.sleep(0.2)


def _video(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """An MJPEG .avi written by OpenCV itself: what the stream source reads back."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Iterator[Mosquitto]:
    if not Path(MOSQUITTO).is_file():
        pytest.fail(f"{MOSQUITTO} missing: apt-get install -y mosquitto (make mosquitto)")
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def line(tmp_path_factory, tile_root, broker):
    root = tmp_path_factory.mktemp("line")
    env = {"GOLDENSHOT_SERVER_MQTT_HOST": "127.0.0.1", "GOLDENSHOT_SERVER_MQTT_PORT": str(broker.port), "GOLDENSHOT_SERVER_MQTT_RETRY_S": "0.5","GOLDENSHOT_SERVER_SOURCE_ROOTS": json.dumps([str(root)]), "GOLDENSHOT_SERVER_SOURCE_SETTLE_S": "0.2", "GOLDENSHOT_SERVER_SOURCE_RETRY_S": "0.5",
           "GOLDENSHOT_SERVER_SOURCE_URL_ALLOW": json.dumps(["127.0.0.1/32"])}  # the test cameras; nothing else internal
    server = Server(root / "data", env).start(timeout=WAIT_S)
    try:
        with server.client() as c:
            for name in ("tile", "tile2"):
                assert c.post("/v1/products", json={"name": name}).status_code == 201
                c.post(f"/v1/products/{name}/golden", files=files(sorted((tile_root / "train" / "good").iterdir())[:4]))
                assert wait_job(c, c.post(f"/v1/products/{name}/fingerprints").json()["id"], WAIT_S)["state"] == "succeeded"
        yield server, root
    finally:
        server.stop()


def test_folder_and_video_sources_for_two_products_survive_a_restart(line, tile_root):
    server, root = line
    drop = root / "drop"
    drop.mkdir()
    goods = sorted((tile_root / "test" / "good").iterdir())[:3]
    tiles = [cv2.resize(cv2.imread(str(p)), (128, 128)) for p in goods]
    video = _video(root / "line.avi", [tiles[i % 3] for i in range(20)], fps=10.0)  # 2 s of video
    with server.client() as c:
        folder = c.post("/v1/products/tile/sources", json={"kind": "folder", "target": str(drop), "sort": True})
        assert folder.status_code == 201, folder.text
        stream = c.post("/v1/products/tile2/sources", json={"kind": "stream", "target": str(video), "fps": 2})
        assert stream.status_code == 201, stream.text
        folder_url, stream_url = f"/v1/products/tile/sources/{folder.json()['id']}", f"/v1/products/tile2/sources/{stream.json()['id']}"
        shutil.copy(goods[0], drop / "a.jpg")
        (drop / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short")
        seen = _until(c, folder_url, lambda s: s["inspected"] + s["failed"] >= 2)
        assert (seen["state"], seen["inspected"], seen["failed"]) == ("running", 1, 1), seen
        assert seen["last_decision"] in ("OK", "ANOMALOUS") and "junk.png" in seen["last_error"]
        assert (drop / seen["last_decision"].lower() / "a.jpg").is_file() and (drop / "failed" / "junk.png").is_file()
        played = _until(c, stream_url, lambda s: s["state"] in ("finished", "error"))
        assert played["state"] == "finished" and played["failed"] == 0 and not played["enabled"], played
        assert played["inspected"] == 4  # 2 s at 2 frames/s
        frames = c.get("/v1/products/tile2/inspections", params={"limit": 100}).json()["items"]
        assert len(frames) == 4 and all(f["filename"].startswith("frame-") and f["width"] == 128 for f in frames)
        assert c.get("/v1/products/tile/inspections").json()["items"][0]["filename"] == "a.jpg"
    server.stop()
    shutil.copy(goods[1], drop / "b.jpg")  # dropped while the server is down
    server.start(timeout=WAIT_S)
    with server.client() as c:
        resumed = _until(c, folder_url, lambda s: s["inspected"] >= 1)
        assert resumed["enabled"] and resumed["inspected"] == 1, resumed
        names = [i["filename"] for i in c.get("/v1/products/tile/inspections").json()["items"]]
        assert sorted(names) == ["a.jpg", "b.jpg"]  # nothing twice
        assert c.post(f"{folder_url}/stop").json()["state"] == "stopped"
        shutil.copy(goods[2], drop / "c.jpg")
        assert c.get(folder_url).json()["inspected"] == 0
        assert c.post(f"{folder_url}/start").json()["enabled"]
        assert _until(c, folder_url, lambda s: s["inspected"] >= 1)["inspected"] == 1
        assert c.delete(folder_url).status_code == 204 and c.delete(stream_url).status_code == 204
        assert c.get("/v1/products/tile/sources").json()["items"] == []
        assert c.get(folder_url).status_code == 404


def test_a_folder_that_disappears_and_an_unreachable_camera_are_a_status(line):
    server, root = line
    gone = root / "gone"
    gone.mkdir()
    with server.client() as c:
        folder = c.post("/v1/products/tile/sources", json={"kind": "folder", "target": str(gone)}).json()
        camera = c.post("/v1/products/tile2/sources", json={"kind": "stream", "target": f"rtsp://user:pw@127.0.0.1:{free_port()}/cam"}).json()
        assert "pw" not in camera["target"]
        gone.rmdir()
        waiting = _until(c, f"/v1/products/tile/sources/{folder['id']}", lambda s: s["state"] == "waiting")
        assert waiting["state"] == "waiting" and "missing" in waiting["last_error"]
        blind = _until(c, f"/v1/products/tile2/sources/{camera['id']}", lambda s: s["state"] == "waiting")
        assert blind["state"] == "waiting" and "cannot open" in blind["last_error"] and "pw" not in blind["last_error"]
        gone.mkdir()
        assert _until(c, f"/v1/products/tile/sources/{folder['id']}", lambda s: s["state"] == "running")["state"] == "running"
        assert c.get("/readyz").status_code == 200
        c.delete(f"/v1/products/tile/sources/{folder['id']}")
        c.delete(f"/v1/products/tile2/sources/{camera['id']}")


@pytest.fixture()
def mjpeg_camera(tile_root) -> Iterator[tuple[str, list[int]]]:
    """An HTTP MJPEG camera on 127.0.0.1: each connection gets 2 s of frames (10/s), then the stream ends."""
    frame = cv2.imencode(".jpg", cv2.resize(cv2.imread(str(sorted((tile_root / "test" / "good").iterdir())[0])), (128, 128)))[1].tobytes()
    connections: list[int] = []

    class Camera(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            connections.append(1)
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            for _ in range(20):
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (len(frame), frame))
                self.wfile.flush()
                time.sleep(0.1)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Camera)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cam.mjpg", connections
    server.shutdown()
    server.server_close()


def test_a_live_mjpeg_camera_is_sampled_and_reopened_when_it_ends(line, mjpeg_camera):
    server, _ = line
    url, connections = mjpeg_camera
    with server.client() as c:
        created = c.post("/v1/products/tile2/sources", json={"kind": "stream", "target": url, "fps": 2})
        assert created.status_code == 201, created.text
        source_url = f"/v1/products/tile2/sources/{created.json()['id']}"
        assert _until_true(lambda: len(connections) >= 2), c.get(source_url).json()  # the stream ended and was opened again
        seen = c.get(source_url).json()
        assert seen["inspected"] >= 2 and seen["failed"] == 0 and seen["enabled"], seen
        stopped = c.post(f"{source_url}/stop").json()
        assert stopped["state"] == "stopped" and not stopped["enabled"]
        assert c.delete(source_url).status_code == 204


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "folder", "target": "/etc"},  # outside the source roots
        {"kind": "folder", "target": "relative/dir"},
        {"kind": "folder", "target": "/tmp/a\x00b"},
        {"kind": "stream", "target": "file:///etc/passwd"},
        {"kind": "stream", "target": "rtsp://127.0.0.1/cam", "fps": 0},
        {"kind": "stream", "target": "rtsp://127.0.0.1/cam", "fps": 1000},
        {"kind": "camera", "target": "0"},
        {"kind": "stream", "target": "rtsp://10.0.0.5/cam"},  # internal, not in SOURCE_URL_ALLOW
        {"kind": "stream", "target": "http://169.254.169.254/latest/meta-data"},  # cloud metadata
        {"kind": "stream", "target": "http://localhost:9000/cam.mjpg"},
        {"kind": "stream", "target": "rtsp://[::1]:554/cam"},
    ],
)
def test_bad_sources_are_refused(line, body):
    server, _ = line
    with server.client() as c:
        answer = c.post("/v1/products/tile/sources", json=body)
        assert answer.status_code in (400, 422), answer.text
        assert c.get("/v1/products/tile/sources").json()["items"] == []


def _until_true(probe, timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while not probe() and time.monotonic() < deadline:
        time.sleep(0.1)
    return probe()


def test_mqtt_sink_loses_nothing_while_the_broker_is_down(line, broker, tile_root):
    server, _ = line
    images = sorted((tile_root / "test" / "good").iterdir())[3:6] + [tile_root / "test/fray/exp6_num_258703.jpg"]
    with subscriber(broker.port, "plant/#") as received, server.client() as c:
        sink = c.put("/v1/products/tile/mqtt", json={"topic": "plant/{tenant}/{product}/{decision}", "events": "all"})
        assert sink.status_code == 200 and sink.json()["pending"] == 0, sink.text  # earlier results are not replayed
        ids = [c.post("/v1/products/tile/inspect", files=files(images[:1], "file")).json()["id"]]
        assert _until_true(lambda: len(received) == 1), received
        broker.stop()
        ids += [c.post("/v1/products/tile/inspect", files=files([path], "file")).json()["id"] for path in images[1:]]
        assert _until_true(lambda: c.get("/v1/products/tile/mqtt").json()["last_error"] is not None)
        down = c.get("/v1/products/tile/mqtt").json()
        assert down["pending"] == 3 and not down["connected"], down
        broker.start()
        assert _until_true(lambda: len(received) >= 4), received
        assert [json.loads(payload)["id"] for _, payload, _ in received] == ids  # each once, in order
        for topic, payload, _ in received:
            result = json.loads(payload)
            assert result == c.get(f"/v1/products/tile/inspections/{result['id']}").json()  # the REST contract
            assert topic == f"plant/default/tile/{result['decision']}"
        up = c.get("/v1/products/tile/mqtt").json()
        assert up["pending"] == 0 and up["connected"] and up["last_error"] is None, up
        assert c.delete("/v1/products/tile/mqtt").status_code == 204
        assert c.get("/v1/products/tile/mqtt").status_code == 404


@pytest.mark.parametrize("topic", ["plant/+/x", "plant/#", "a\x00b", "$SYS/x", "x" * 300, "plant/{secret}", "plant/{product!r}", "plant/{", "", "tab\there"])
def test_hostile_topics_are_refused(line, topic):
    server, _ = line
    with server.client() as c:
        answer = c.put("/v1/products/tile2/mqtt", json={"topic": topic})
        assert answer.status_code in (400, 422), answer.text
        assert c.get("/v1/products/tile2/mqtt").status_code == 404


def test_a_camera_url_on_an_internal_address_names_the_setting_that_allows_it(line):
    server, _ = line
    with server.client() as c:
        refused = c.post("/v1/products/tile2/sources", json={"kind": "stream", "target": "rtsp://admin:pw@192.168.1.20/stream1"})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "source_target_refused", refused.text
        assert "GOLDENSHOT_SERVER_SOURCE_URL_ALLOW" in refused.json()["error"]["message"] and "pw" not in refused.text
        assert c.get("/v1/products/tile2/sources").json()["items"] == []


def test_a_triggered_camera_inspects_one_frame_per_trigger(line, mjpeg_camera):
    server, _ = line
    url, _ = mjpeg_camera
    with server.client() as c:
        created = c.post("/v1/products/tile2/sources", json={"kind": "stream", "target": url, "triggered": True})
        assert created.status_code == 201 and created.json()["triggered"], created.text
        source_url = f"/v1/products/tile2/sources/{created.json()['id']}"
        assert _until(c, source_url, lambda s: s["state"] == "running")["state"] == "running"
        time.sleep(1.0)
        assert c.get(source_url).json()["inspected"] == 0  # frames flow at 10/s; none is inspected untriggered
        accepted, deadline = 0, time.monotonic() + WAIT_S
        while c.get(source_url).json()["inspected"] < 2 and time.monotonic() < deadline:
            status = c.get(source_url).json()
            if status["inspected"] + status["failed"] == accepted:  # the last trigger is resolved: one more
                answer = c.post(f"{source_url}/trigger")  # 409 while the camera reconnects (it ends every 2 s)
                assert answer.status_code in (202, 409), answer.text
                accepted += answer.status_code == 202
            time.sleep(0.1)
        time.sleep(1.0)
        settled = c.get(source_url).json()
        assert settled["inspected"] == 2 and settled["inspected"] + settled["failed"] == accepted, (settled, accepted)
        rated = c.post("/v1/products/tile2/sources", json={"kind": "stream", "target": url, "fps": 1}).json()
        refused = c.post(f"/v1/products/tile2/sources/{rated['id']}/trigger")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_triggered"
        for made in (created.json(), rated):
            assert c.delete(f"/v1/products/tile2/sources/{made['id']}").status_code == 204


def test_replicas_publish_each_result_once_and_hand_over_when_the_publisher_stops(broker, tmp_path):
    from test_catalog import _inspection

    from services.common.catalog import Catalog
    from services.common.lease import Lease
    from services.common.mqtt import MqttPublisher

    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.products.create("p", "default", "tile", "")
    catalog.mqtt.set("p", "fleet/{product}/{decision}", "all")

    def replica() -> MqttPublisher:  # an ingest replica's publisher: its own engine, the same catalog
        return MqttPublisher(catalog, lambda product, row: row.id, "127.0.0.1", broker.port, f"gs-{uuid.uuid4().hex[:6]}", None, None, 0.05, 5.0, 0.2,
                             Lease(Catalog(f"sqlite:///{tmp_path / 'catalog.db'}").engine, "mqtt-publisher"))

    first, second = replica(), replica()
    with subscriber(broker.port, "fleet/#") as received:
        first.start()
        second.start()
        try:
            for i in range(5):
                catalog.inspections.add(_inspection(f"{i:032x}"))
            assert _until_true(lambda: len(received) >= 5)
            time.sleep(1.0)
            assert sorted(payload.decode() for _, payload, _ in received) == [f"{i:032x}" for i in range(5)]  # once each
            standby = next(p for p in (first, second) if p.last_error is not None)
            assert standby.last_error.startswith("standby")
            leader = first if standby is second else second
            leader.close()  # the publishing replica goes away: the other takes the lease and goes on
            catalog.inspections.add(_inspection(f"{5:032x}"))
            assert _until_true(lambda: len(received) >= 6) and received[-1][1].decode() == f"{5:032x}"
            assert standby.last_error is None
        finally:
            first.close()
            second.close()
            catalog.engine.dispose()
