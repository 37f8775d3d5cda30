"""Benchmark the embedded server over HTTP; prints JSON.

- build: 8 golden samples uploaded, then the time from POST .../fingerprints to the job's success;
- inspect round trip (multipart upload -> JSON) with 1 client, then throughput with N concurrent clients;
(the kNN of one image's patches, hot bank against the vector store: bench/bench_vectors.py).
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from serving import Server, files, wait_job  # noqa: E402

from goldenshot.data import load_category, support_set  # noqa: E402


def report(result: dict, out: Path | None, name: str) -> None:
    """Print the JSON; also write it to out/name.json when asked."""
    text = json.dumps(result, indent=2)
    print(text)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{name}.json").write_text(text)


def percentiles(values: list[float]) -> dict:
    arr = np.asarray(values) * 1000.0
    return {"p50_ms": round(float(np.percentile(arr, 50)), 2), "p95_ms": round(float(np.percentile(arr, 95)), 2), "n": len(values)}


def inspect_loop(
    client, payloads: list[tuple[str, bytes]], count: int, out: list[float], errors: list[str], offset: int = 0, stages: list[dict] | None = None
) -> None:
    """`count` inspections, round trips appended to `out`; with `stages`, each answer's server-side stage times too."""
    for i in range(count):
        name, data = payloads[(offset + i) % len(payloads)]
        start = time.perf_counter()
        response = client.post("/v1/products/bench/inspect", files={"file": (name, data, "application/octet-stream")})
        out.append(time.perf_counter() - start)
        if response.status_code != 200:
            errors.append(f"{response.status_code} {response.text[:200]}")
        elif stages is not None:
            stages.append({**response.json()["timings_ms"], "round_trip": out[-1] * 1000.0})


def stage_medians(stages: list[dict]) -> dict:
    """p50 of each server stage, and of what the stages do not account for (HTTP, framework, client)."""
    names = [k for k in stages[0] if k != "round_trip"]
    outside = [s["round_trip"] - sum(s[k] for k in names) for s in stages]
    return {**{k: round(float(np.median([s[k] for s in stages])), 2) for k in names}, "outside_stages": round(float(np.median(outside)), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--category", default="mtd/magnetic_tile")
    parser.add_argument("--shots", type=int, default=8)
    parser.add_argument("--requests", type=int, default=100, help="sequential inspections, one client")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15.0, help="duration of the concurrent run")
    parser.add_argument("--slots", type=int, default=None, help="GOLDENSHOT_SERVER_INFERENCE_SLOTS for the server")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()

    category = load_category(args.data / args.category)
    golden = support_set(category.train, args.shots, seed=0)
    tests = [item.path for item in category.test][:: max(1, len(category.test) // 50)][:50]
    payloads = [(p.name, p.read_bytes()) for p in tests]
    env = {"GOLDENSHOT_SERVER_INFERENCE_SLOTS": str(args.slots)} if args.slots else {}
    result: dict = {"category": args.category, "shots": args.shots, "slots": args.slots or "default"}
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data", env).start()
        try:
            with server.client() as client:
                client.post("/v1/products", json={"name": "bench"})
                client.post("/v1/products/bench/golden", files=files(list(golden)))
                start = time.perf_counter()
                job = wait_job(client, client.post("/v1/products/bench/fingerprints").json()["id"])
                result["build_ready_s"] = round(time.perf_counter() - start, 3)
                assert job["state"] == "succeeded", job
                for name, data in payloads[:5]:  # warm-up: hot bank, allocator, thread pools
                    client.post("/v1/products/bench/inspect", files={"file": (name, data, "application/octet-stream")})
                single, errors, stages = [], [], []
                inspect_loop(client, payloads, args.requests, single, errors, stages=stages)
                result["one_client"] = {**percentiles(single), "stages_p50_ms": stage_medians(stages)}

            clients = [server.client() for _ in range(args.clients)]
            per_client: list[list[float]] = [[] for _ in clients]
            stop_at = time.perf_counter() + args.seconds

            def run(i: int) -> None:
                while time.perf_counter() < stop_at:
                    inspect_loop(clients[i], payloads, 1, per_client[i], errors, offset=i * 7 + len(per_client[i]))

            threads = [threading.Thread(target=run, args=(i,)) for i in range(args.clients)]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
            for c in clients:
                c.close()
            latencies = [x for lst in per_client for x in lst]
            result["concurrent"] = {"clients": args.clients, "seconds": round(elapsed, 2), "inspections_per_s": round(len(latencies) / elapsed, 2), **percentiles(latencies)}
            result["errors"] = len(errors)
            result["error_samples"] = errors[:3]
        finally:
            server.stop()

    report(result, args.out, "bench_server")


if __name__ == "__main__":
    main()
