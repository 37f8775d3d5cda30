"""The bank search of one inspection against its BLAS bound: prints one JSON object.

An inspection's kNN is one [patches x D] @ [D x bank rows] product plus a row minimum. The bound is
torch.mm of the same shapes into a preallocated output on the same thread pool, whole or in the
kNN's blocks of queries, whichever is faster: no kNN can beat the product it contains.
`fraction_of_bound` = bound / kNN time (1.0: the search costs only its matmul). The kNN that scoring
runs is `nearest_distance` (no index); `knn_with_index_ms` is `nearest`, which also returns each
match's row (re-weighting only): a row minimum with indices costs nearly as much as the product.
Shapes: 1024 patches (256 px) and 2304 (384 px, self-configuration's size_384), bank at the 4096-row cap,
D = 128 (MobileNetV2's 32 + 96 channels). Float16 storage would halve the bank's memory, but CPU float16
matmuls are not faster than float32 here. This CPU's AMX makes a bfloat16 product 5x faster, but its output
is rounded to bfloat16: the nearest row changed for 4 % of real patches, re-ranking the best 4 in float32
still missed 5 of 12,288, and the top-k cost more than the product saved. So the hot bank stays float32.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch

from goldenshot.scoring import BLOCK_ELEMENTS, hot_bank, nearest, nearest_distance, squared_norms


def p50s_ms(runs: dict[str, Callable[[], object]], repeats: int, warmup: int = 3) -> dict[str, float]:
    """p50 of each callable, timed in interleaved rounds: a noisy neighbour slows all of them alike."""
    for run in runs.values():
        for _ in range(warmup):
            run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) * 1000.0)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", default="1024,2304")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    bank = torch.randn(args.rows, args.dim, generator=generator)
    results = []
    for n in (int(q) for q in args.queries.split(",")):
        queries = torch.randn(n, args.dim, generator=generator)
        out = torch.empty(n, args.rows)
        transposed = bank.T.contiguous()
        hot = hot_bank(bank)
        sq = squared_norms(bank)
        per = max(1, BLOCK_ELEMENTS // args.rows)
        blocked = out[:per]
        ms = p50s_ms(
            {
                "whole": lambda: torch.mm(queries, transposed, out=out),
                "blocks": lambda: [torch.mm(queries[i : i + per], transposed, out=blocked[: len(queries[i : i + per])]) for i in range(0, n, per)],
                "plain": lambda: nearest_distance(queries, bank, sq),
                "knn": lambda: nearest_distance(queries, hot, sq),
                "indexed": lambda: nearest(queries, hot, sq),
            },
            args.repeats,
        )
        bound, plain, knn, indexed = min(ms["whole"], ms["blocks"]), ms["plain"], ms["knn"], ms["indexed"]
        dist, idx = nearest(queries, bank, sq)
        exact = torch.equal(idx, nearest(queries, hot, sq)[1]) and torch.equal(dist, nearest_distance(queries, hot, sq))
        results.append(
            {
                "queries": n,
                "bank_rows": args.rows,
                "dim": args.dim,
                "matmul_bound_ms": round(bound, 3),
                "knn_row_major_ms": round(plain, 3),
                "knn_hot_ms": round(knn, 3),
                "knn_with_index_ms": round(indexed, 3),
                "fraction_of_bound": round(bound / knn, 3),
                "same_neighbours": exact,
            }
        )
    print(json.dumps({"threads": args.threads, "results": results}))


if __name__ == "__main__":
    main()
