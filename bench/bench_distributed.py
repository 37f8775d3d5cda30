"""Benchmark the distributed deployment on 127.0.0.1 (NATS, SeaweedFS S3, CPU tritonserver, scorer
replicas, builder, ingest as separate processes); prints JSON:

- builder: 8 golden samples, from POST .../fingerprints to the job's success ("fingerprint ready");
- gRPC Inspect end to end (image bytes in, stored result out), one client, p50/p95;
- throughput with N concurrent gRPC clients against 1 scorer replica, then spread over 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bench_load import rss_mb  # noqa: E402
from bench_server import report  # noqa: E402
from fleet import fleet  # noqa: E402
from serving import files, wait_job  # noqa: E402

from goldenshot.data import load_category, support_set  # noqa: E402
from services.proto.goldenshot.v1 import scorer_pb2 as pb  # noqa: E402
from services.proto.goldenshot.v1 import scorer_pb2_grpc as pb_grpc  # noqa: E402


def stats(seconds: list[float], elapsed: float | None = None) -> dict:
    ms = np.asarray(seconds) * 1000.0
    out = {"n": int(ms.size), **{f"p{q}_ms": round(float(np.percentile(ms, q)), 1) for q in (50, 95, 99)}}
    if elapsed:
        out["per_s"] = round(ms.size / elapsed, 2)
    return out


def hammer(targets: list[str], requests: list[pb.InspectRequest], clients: int, seconds: float) -> dict:
    """`clients` threads, client i on targets[i % len(targets)], each inspecting until time is up."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def work(i: int) -> None:
        with grpc.insecure_channel(targets[i % len(targets)]) as channel:
            stub = pb_grpc.ScorerStub(channel)
            n = i
            while time.perf_counter() < stop_at:
                start = time.perf_counter()
                try:
                    stub.Inspect(requests[n % len(requests)], timeout=60)
                except grpc.RpcError as exc:
                    errors.append(exc.code().name)
                with lock:
                    latencies.append(time.perf_counter() - start)
                n += clients

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"replicas": len(targets), "clients": clients, **stats(latencies, time.perf_counter() - started), "errors": len(errors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--category", default="mtd/magnetic_tile")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--load-clients", default="", help="e.g. 1,4,16: also a load run per client count on one scorer")
    parser.add_argument("--load-seconds", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    category = load_category(args.data / args.category)
    tests = [item.path for item in category.test][:: max(1, len(category.test) // 50)][:50]
    requests = [pb.InspectRequest(product="bench", image=p.read_bytes(), filename=p.name) for p in tests]
    result: dict = {"category": args.category}
    with tempfile.TemporaryDirectory() as tmp, fleet(Path(tmp), scorers=2, ack_wait_s=60.0) as running:
        with running.ingest.client() as client:
            client.post("/v1/products", json={"name": "bench"})
            client.post("/v1/products/bench/golden", files=files(support_set(category.train, 8, seed=0)))
            start = time.perf_counter()
            job = wait_job(client, client.post("/v1/products/bench/fingerprints").json()["id"])
            result["builder_ready_s"] = round(time.perf_counter() - start, 2)
            assert job["state"] == "succeeded", job
        targets = [f"127.0.0.1:{s.grpc_port}" for s in running.scorers]
        for target in targets:  # warm both replicas: hot bank, Triton connection
            with grpc.insecure_channel(target) as channel:
                for request in requests[:3]:
                    pb_grpc.ScorerStub(channel).Inspect(request, timeout=60)
        single = []
        with grpc.insecure_channel(targets[0]) as channel:
            stub = pb_grpc.ScorerStub(channel)
            for i in range(args.requests):
                start = time.perf_counter()
                stub.Inspect(requests[i % len(requests)], timeout=60)
                single.append(time.perf_counter() - start)
        result["grpc_inspect_one_client"] = stats(single)
        result["throughput"] = [hammer(targets[:1], requests, args.clients, args.seconds), hammer(targets, requests, args.clients, args.seconds)]
        pid = running.scorers[0].proc.pid
        result["load"] = []
        for clients in (int(c) for c in args.load_clients.split(",") if c):
            before = rss_mb(pid)
            run = hammer(targets[:1], requests, clients, args.load_seconds)
            result["load"].append({**run, "scorer_rss_before_mb": before, "scorer_rss_after_mb": rss_mb(pid)})
            print(json.dumps(result["load"][-1]), file=sys.stderr)
    report(result, args.out, "bench_distributed")


if __name__ == "__main__":
    main()
