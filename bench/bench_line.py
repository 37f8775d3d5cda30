"""Folder source latency: a file dropped into a watched folder -> its result published on MQTT; prints JSON.

The real embedded server with a folder source and an MQTT sink, a real mosquitto, and a durable
subscriber: each image is moved into the folder complete (os.replace, as a camera writing a temporary
file does), then the clock stops when its result arrives at the subscriber. One file at a time, so the
number is latency, not queueing. The server's own defaults unless told: with file events on
(GOLDENSHOT_SERVER_SOURCE_EVENTS) a file moved in is read at once; with --no-events it waits --settle
(GOLDENSHOT_SERVER_SOURCE_SETTLE_S, the time a file must stay unchanged before it is read), which then
adds to every drop.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bench_server import percentiles, report  # noqa: E402
from mqtt_broker import Mosquitto, subscriber  # noqa: E402
from serving import Server, files, wait_job  # noqa: E402

from services.common.settings import ServiceSettings  # noqa: E402

DEFAULTS = ServiceSettings.model_fields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--category", default="mtd/magnetic_tile")
    parser.add_argument("--shots", type=int, default=8)
    parser.add_argument("--drops", type=int, default=30)
    parser.add_argument("--settle", type=float, default=DEFAULTS["source_settle_s"].default, help="GOLDENSHOT_SERVER_SOURCE_SETTLE_S")
    parser.add_argument("--poll", type=float, default=DEFAULTS["source_poll_s"].default, help="GOLDENSHOT_SERVER_SOURCE_POLL_S")
    parser.add_argument("--events", action=argparse.BooleanOptionalAction, default=DEFAULTS["source_events"].default, help="GOLDENSHOT_SERVER_SOURCE_EVENTS")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    root = args.data / args.category
    images = sorted((root / "test" / "good").iterdir())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        drop, staging = work / "drop", work / "staging"
        drop.mkdir()
        staging.mkdir()
        broker = Mosquitto(work).start()
        env = {
            "GOLDENSHOT_SERVER_SOURCE_ROOTS": json.dumps([str(work)]),
            "GOLDENSHOT_SERVER_SOURCE_SETTLE_S": str(args.settle),
            "GOLDENSHOT_SERVER_SOURCE_POLL_S": str(args.poll),
            "GOLDENSHOT_SERVER_SOURCE_EVENTS": str(args.events).lower(),
            "GOLDENSHOT_SERVER_MQTT_HOST": "127.0.0.1",
            "GOLDENSHOT_SERVER_MQTT_PORT": str(broker.port),
            "GOLDENSHOT_LOG_LEVEL": "WARNING",
        }
        server = Server(work / "data", env).start(timeout=300)
        try:
            with server.client() as c, subscriber(broker.port, "bench/#") as received:
                c.post("/v1/products", json={"name": "bench"})
                c.post("/v1/products/bench/golden", files=files(sorted((root / "train" / "good").iterdir())[: args.shots]))
                assert wait_job(c, c.post("/v1/products/bench/fingerprints").json()["id"], 600)["state"] == "succeeded"
                c.put("/v1/products/bench/mqtt", json={"topic": "bench/{product}", "events": "all"})
                c.post("/v1/products/bench/sources", json={"kind": "folder", "target": str(drop), "sort": True})
                latencies, scoring = [], []
                for i in range(args.drops + 1):  # the first drop warms the scorer up and is not counted
                    staged = staging / f"{i:04d}{images[i % len(images)].suffix}"
                    shutil.copy(images[i % len(images)], staged)
                    before = len(received)
                    started = time.perf_counter()
                    os.replace(staged, drop / staged.name)
                    deadline = time.monotonic() + 120
                    while len(received) == before and time.monotonic() < deadline:
                        time.sleep(0.002)
                    if len(received) == before:
                        raise TimeoutError(f"no result published for drop {i}")
                    if i:
                        latencies.append(received[before][2] - started)
                        scoring.append(sum(json.loads(received[before][1])["timings_ms"].values()) / 1000.0)
        finally:
            server.stop()
            broker.stop()
    result = {
        "bench": "folder source: file dropped -> result published (MQTT QoS 1)",
        "category": args.category,
        "settle_s": args.settle,
        "poll_s": args.poll,
        "events": args.events,
        "drop_to_published": percentiles(latencies),
        "of_which_decode_to_regions": percentiles(scoring),  # the scorer's own stages; the rest is waiting, storing, publishing
        "cpus": os.cpu_count(),
    }
    report(result, args.out, "line")


if __name__ == "__main__":
    main()
