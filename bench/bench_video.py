"""Live camera streams for several products at once: do the sources keep their frame rate? Prints JSON.

Issue 17's target: 10 frames/s for 2 products at once on this 2-core CPU with no backlog growth over
5 minutes. The real embedded server, one HTTP MJPEG camera per product on 127.0.0.1 (each sends a
good test image of the category, re-encoded per frame, at --camera-fps), a stream source per product at
--fps, and every result published to a real mosquitto (QoS 1) and counted by a durable subscriber. A
live stream is sampled by the wall clock and skips frames when scoring falls behind, so falling behind
shows as inspections per second below --fps, not as a queue; the results still to publish (the MQTT
sink's `pending`) are the backlog, sampled every 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bench_server import report  # noqa: E402
from mqtt_broker import Mosquitto, subscriber  # noqa: E402
from serving import Server, files, wait_job  # noqa: E402


class Camera:
    """An MJPEG camera on loopback sending `fps` frames per second to each connection until stopped."""

    def __init__(self, frame: bytes, fps: float) -> None:
        stop = self.stop_event = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                due = time.monotonic()
                while not stop.is_set():
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (len(frame), frame))
                    self.wfile.flush()
                    due += 1.0 / fps
                    time.sleep(max(0.0, due - time.monotonic()))

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cam.mjpg"

    def close(self) -> None:
        self.stop_event.set()
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--category", default="mtd/magnetic_tile")
    parser.add_argument("--shots", type=int, default=8)
    parser.add_argument("--products", type=int, default=2)
    parser.add_argument("--fps", type=float, default=10.0, help="frames inspected per second, per product")
    parser.add_argument("--camera-fps", type=float, default=25.0)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    root = args.data / args.category
    image = cv2.imread(str(sorted((root / "test" / "good").iterdir())[0]))
    frame = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    cameras = [Camera(frame, args.camera_fps) for _ in range(args.products)]
    names = [f"line{i}" for i in range(args.products)]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker = Mosquitto(work).start()
        env = {"GOLDENSHOT_SERVER_MQTT_HOST": "127.0.0.1", "GOLDENSHOT_SERVER_MQTT_PORT": str(broker.port), "GOLDENSHOT_LOG_LEVEL": "WARNING",
               "GOLDENSHOT_SERVER_SOURCE_URL_ALLOW": json.dumps(["127.0.0.1/32"])}
        server = Server(work / "data", env).start(timeout=300)
        try:
            with server.client() as c, subscriber(broker.port, "bench/#") as received:
                golden = files(sorted((root / "train" / "good").iterdir())[: args.shots])
                for name in names:
                    assert c.post("/v1/products", json={"name": name}).status_code == 201
                    c.post(f"/v1/products/{name}/golden", files=golden)
                    assert wait_job(c, c.post(f"/v1/products/{name}/fingerprints").json()["id"], 600)["state"] == "succeeded"
                    c.put(f"/v1/products/{name}/mqtt", json={"topic": "bench/{product}", "events": "all"})
                sources = {}
                for name, camera in zip(names, cameras):
                    made = c.post(f"/v1/products/{name}/sources", json={"kind": "stream", "target": camera.url, "fps": args.fps})
                    assert made.status_code == 201, made.text
                    sources[name] = made.json()["id"]

                def snapshot() -> dict[str, tuple[int, int]]:
                    return {n: (c.get(f"/v1/products/{n}/sources/{sources[n]}").json()["inspected"], c.get(f"/v1/products/{n}/mqtt").json()["pending"]) for n in names}

                time.sleep(10)  # warm-up: cameras opened, scorer hot
                start, first = time.monotonic(), snapshot()
                published_before = len(received)
                pending = {n: [] for n in names}
                while time.monotonic() - start < args.seconds:
                    time.sleep(10)
                    for n, (_, p) in snapshot().items():
                        pending[n].append(p)
                elapsed, last = time.monotonic() - start, snapshot()
                published = len(received) - published_before
                for n in names:
                    c.delete(f"/v1/products/{n}/sources/{sources[n]}")
        finally:
            server.stop()
            broker.stop()
            for camera in cameras:
                camera.close()
    per_product = {
        n: {
            "inspections_per_s": round((last[n][0] - first[n][0]) / elapsed, 2),
            "of_target": round((last[n][0] - first[n][0]) / elapsed / args.fps, 3),
            "mqtt_pending_first_last_max": [first[n][1], last[n][1], max(pending[n], default=0)],
        }
        for n in names
    }
    result = {
        "bench": "live MJPEG streams, several products at once",
        "category": args.category,
        "products": args.products,
        "fps_per_product": args.fps,
        "seconds": round(elapsed, 1),
        "per_product": per_product,
        "published_per_s": round(published / elapsed, 2),
        "cpus": os.cpu_count(),
    }
    report(result, args.out, "video")


if __name__ == "__main__":
    main()
