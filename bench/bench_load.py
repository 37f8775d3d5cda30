"""Load on the embedded server: 1, 4 and 16 concurrent clients for a fixed time each, then a soak of
N inspections; prints JSON with throughput, p50/p95/p99, errors and the server's RSS before/after.

A leak shows as RSS growing with the number of inspections after the warm-up (hot bank, allocator
and thread pools settle in the first few hundred), so the soak reports RSS every 1000 inspections.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bench_server import inspect_loop, report  # noqa: E402
from serving import Server, files, wait_job  # noqa: E402

from goldenshot.data import load_category, support_set  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmRSS")


def run_clients(server: Server, payloads: list, clients: int, seconds: float | None, total: int | None) -> dict:
    """`clients` threads inspecting until `seconds` pass or `total` inspections are done."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    done = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds if seconds else float("inf")

    def work(i: int) -> None:
        with server.client() as client:
            while time.perf_counter() < stop_at:
                with lock:
                    if total is not None and done[0] >= total:
                        return
                    done[0] += 1
                inspect_loop(client, payloads, 1, latencies[i], errors, offset=i * 13 + len(latencies[i]))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    ms = np.asarray([x for lst in latencies for x in lst]) * 1000.0
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "inspections": int(ms.size),
        "per_s": round(ms.size / elapsed, 2),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "errors": len(errors),
        "error_samples": errors[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--category", default="mtd/magnetic_tile")
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--soak", type=int, default=10000, help="inspections in the leak check (4 clients)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    category = load_category(args.data / args.category)
    tests = [item.path for item in category.test]
    payloads = [(p.name, p.read_bytes()) for p in tests[:: max(1, len(tests) // 100)]]
    result: dict = {"category": args.category, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data").start()
        try:
            with server.client() as client:
                client.post("/v1/products", json={"name": "bench"})
                client.post("/v1/products/bench/golden", files=files(support_set(category.train, 8, seed=0)))
                assert wait_job(client, client.post("/v1/products/bench/fingerprints").json()["id"])["state"] == "succeeded"
            result["rss_start_mb"] = rss_mb(server.proc.pid)
            for clients in (int(c) for c in args.clients.split(",")):
                run = run_clients(server, payloads, clients, args.seconds, None)
                run["rss_after_mb"] = rss_mb(server.proc.pid)
                result["runs"].append(run)
                print(json.dumps(run), file=sys.stderr)
            soak = []
            for step in range(0, args.soak, 1000):
                run = run_clients(server, payloads, 4, None, min(1000, args.soak - step))
                soak.append({"inspections": step + run["inspections"], "rss_mb": rss_mb(server.proc.pid), "errors": run["errors"], "per_s": run["per_s"]})
                print(json.dumps(soak[-1]), file=sys.stderr)
            result["soak"] = soak
            if len(soak) > 1:
                result["rss_growth_after_first_1000_mb"] = round(soak[-1]["rss_mb"] - soak[0]["rss_mb"], 1)
        finally:
            server.stop()
    report(result, args.out, "bench_load")


if __name__ == "__main__":
    main()
