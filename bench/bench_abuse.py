"""Issue 20's abuse run on the embedded server (loopback, two tenants): plant-b's inspect latency and
/healthz latency, quiet and then while plant-a (and a client with no key) attack at once with 8 idle gRPC
streams, 8 concurrent huge-image uploads (8000x8000 PNG, a few hundred kB each) and a webhook receiver
that answers after 30 s. Prints JSON with the targets: /healthz p99 < 50 ms, server RSS < 2 GB,
plant-b's inspect p95 within 2x of its quiet value.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

import grpc
import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bench_load import rss_mb  # noqa: E402
from bench_server import report  # noqa: E402
from serving import Server, create_keys, files, wait_job  # noqa: E402

from services.proto.goldenshot.v1 import scorer_pb2_grpc as pb_grpc  # noqa: E402


def percentile_ms(seconds: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(seconds) * 1000.0, q)), 1) if seconds else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def huge_png(side: int) -> bytes:
    """A side x side PNG with some texture, so it is small on the wire and big decoded."""
    image = Image.new("L", (side, side))
    image.paste(255, (0, 0, side // 2, side // 2))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


class SlowReceiver:
    """A webhook receiver that answers every POST after `delay` seconds."""

    def __init__(self, delay: float) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_port}/hook"

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def measure(server: Server, key: str, image: list, seconds: float) -> dict:
    """plant-b inspecting one image at a time, and /healthz every 20 ms, for `seconds`."""
    inspect: list[float] = []
    served: list[float] = []  # the server's own stages (decode -> store) of each 200: work, not waiting
    stages: dict[str, list[float]] = {}
    health: list[float] = []
    statuses: Counter[int] = Counter()
    until = time.perf_counter() + seconds

    def probe() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while time.perf_counter() < until:
                started = time.perf_counter()
                client.get("/healthz")
                health.append(time.perf_counter() - started)
                time.sleep(0.02)

    prober = threading.Thread(target=probe)
    prober.start()
    with server.client(headers={"X-API-Key": key}) as client:
        while time.perf_counter() < until:
            started = time.perf_counter()
            answer = client.post("/v1/products/tile/inspect", files=image)
            inspect.append(time.perf_counter() - started)
            statuses[answer.status_code] += 1
            if answer.status_code == 200:
                timings = answer.json()["timings_ms"]
                served.append(sum(timings.values()) / 1000.0)
                for stage, ms in timings.items():
                    stages.setdefault(stage, []).append(ms / 1000.0)
    prober.join()
    return {
        "inspect_p50_ms": percentile_ms(inspect, 50), "inspect_p95_ms": percentile_ms(inspect, 95), "inspections": len(inspect),
        "server_stages_p50_ms": percentile_ms(served, 50), "server_stages_p95_ms": percentile_ms(served, 95),
        "stage_p50_ms": {stage: percentile_ms(values, 50) for stage, values in stages.items()},
        "inspect_statuses": dict(statuses), "healthz_p99_ms": percentile_ms(health, 99), "healthz_max_ms": percentile_ms(health, 100), "probes": len(health),
    }


def attack(url: str, grpc_port: int, key: str, png: bytes, stop: Event, outcomes: Queue) -> None:
    """plant-a's attack, in a process of its own: 8 idle gRPC streams without a key, 8 with plant-a's key, and
    8 threads uploading the huge PNG, until `stop`; then the outcome counts go on `outcomes`.

    Its own process, as an attacker is another client: in plant-b's process its 24 threads would take
    plant-b's interpreter lock, and the bench would measure its own client instead of the server."""
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def count(outcome: str) -> None:
        with lock:
            counts[outcome] += 1

    def idle_stream(metadata: list) -> None:
        def nothing():
            stop.wait()
            yield from ()

        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            while not stop.is_set():
                try:
                    for _ in pb_grpc.ScorerStub(channel).InspectBatch(nothing(), metadata=metadata, timeout=120):
                        pass
                except grpc.RpcError as exc:
                    count(f"grpc_{'keyed' if metadata else 'no_key'}_{exc.code().name}")
                    stop.wait(0.5)

    def uploads() -> None:
        with httpx.Client(base_url=url, timeout=60.0, headers={"X-API-Key": key}) as client:
            while not stop.is_set():
                answer = client.post("/v1/products/tile/inspect", content=png, headers={"Content-Type": "image/png"})
                count(f"huge_upload_{answer.status_code}")

    threads = [threading.Thread(target=idle_stream, args=(m,), daemon=True) for m in [[]] * 8 + [[("x-api-key", key)]] * 8]
    threads += [threading.Thread(target=uploads, daemon=True) for _ in range(8)]
    for t in threads:
        t.start()
    stop.wait()
    for t in threads:
        t.join(30)
    outcomes.put(dict(counts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--category", default="mtd/magnetic_tile")
    parser.add_argument("--seconds", type=float, default=30.0, help="each of the quiet and the attacked run")
    parser.add_argument("--side", type=int, default=8000, help="the huge PNG's width and height")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    root = args.data / args.category
    golden = files(sorted((root / "train" / "good").iterdir())[:8])
    image = files([sorted((root / "test" / "good").iterdir())[0]], "file")
    png = huge_png(args.side)  # made once, handed to the attacking process
    receiver = SlowReceiver(30.0)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        keys = create_keys(data, "plant-a", "plant-b")
        server = Server(data, {"GOLDENSHOT_SERVER_WEBHOOK_ALLOW": '["127.0.0.1/32"]', "GOLDENSHOT_LOG_LEVEL": "WARNING"}, args=["--require-api-key"]).start()
        try:
            for tenant, key in keys.items():
                with server.client(headers={"X-API-Key": key}) as client:
                    client.post("/v1/products", json={"name": "tile"})
                    client.post("/v1/products/tile/golden", files=golden)
                    assert wait_job(client, client.post("/v1/products/tile/fingerprints").json()["id"])["state"] == "succeeded"
                    if tenant == "plant-a":  # every plant-a result goes to the slow receiver
                        client.put("/v1/products/tile/webhook", json={"url": receiver.url, "events": "all"})
            measure(server, keys["plant-b"], image, 3.0)  # warm-up
            rss_quiet = rss_mb(server.proc.pid)
            quiet = measure(server, keys["plant-b"], image, args.seconds)
            spawn = multiprocessing.get_context("spawn")
            stop, outcomes = spawn.Event(), spawn.Queue()
            rss = [rss_quiet]
            attacker = spawn.Process(target=attack, args=(server.url, server.grpc_port, keys["plant-a"], png, stop, outcomes), daemon=True)
            attacker.start()

            def sample() -> None:
                while not stop.is_set():
                    rss.append(rss_mb(server.proc.pid))
                    stop.wait(0.25)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            time.sleep(3.0)  # the attack under way
            cpu = {"server": cpu_seconds(server.proc.pid), "attacking_client": cpu_seconds(attacker.pid), "plant_b_client": cpu_seconds(os.getpid())}
            attacked = measure(server, keys["plant-b"], image, args.seconds)
            pids = {"server": server.proc.pid, "attacking_client": attacker.pid, "plant_b_client": os.getpid()}
            cpu = {party: round((cpu_seconds(pid) - cpu[party]) / args.seconds, 2) for party, pid in pids.items()}
            stop.set()
            attack_outcomes = outcomes.get(timeout=60)
            attacker.join(30)
        finally:
            server.stop()
            receiver.close()
    ratio = round(attacked["inspect_p95_ms"] / quiet["inspect_p95_ms"], 2)
    result = {
        "quiet": quiet,
        "attacked": attacked,
        "attack_outcomes": dict(sorted(attack_outcomes.items())),
        "rss_mb": {"quiet": rss_quiet, "max_attacked": max(rss)},
        "cores_used_while_attacked": cpu,  # CPU seconds per second of the attacked run, per process
        "targets": {
            "healthz_p99_under_50ms": attacked["healthz_p99_ms"] < 50.0,
            "rss_under_2gb": max(rss) < 2048.0,
            "other_tenant_p95_within_2x_quiet": ratio <= 2.0,
            "p95_ratio": ratio,
        },
        "huge_png": {"side": args.side, "bytes": len(png)},
    }
    report(result, args.out, "abuse")


if __name__ == "__main__":
    main()
