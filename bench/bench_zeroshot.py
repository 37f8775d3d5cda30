"""Zero-shot batch speed and memory against batch size; prints one JSON object per line.

For each category and batch size (default 50, 100, 200, 400) a fresh process scores one batch:
decode -> features -> coreset -> scores and maps -> regions, so peak RSS is that batch's alone.
Wall time depends on what else runs on the machine, so every size runs --repeats times, round-robin,
and a summary line per size keeps the fastest run (CPU time per image is printed too).
Images come from the category's test and train splits (seed 0); a batch larger than both together
is filled by drawing with replacement. `--naive` sizes also run the all-pairs baseline (every
patch against every other image's patches: the coreset as large as the batch, no learning), whose
time per image grows linearly with the batch, i.e. quadratically in total.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout this script belongs to
CATEGORIES = ("mtd/magnetic_tile", "bsdata/ball_screw")


def _batch_paths(root: Path, size: int) -> list[Path]:
    from goldenshot.data import load_category

    category = load_category(root)
    pool = sorted([s.path for s in category.test] + list(category.train))
    rng = random.Random(0)
    return rng.sample(pool, size) if size <= len(pool) else rng.choices(pool, k=size)


def worker(root: Path, size: int, naive: bool) -> dict:
    """One batch in this process: timings per stage, ms/image for the whole path, peak RSS."""
    import torch

    from goldenshot.features import build_extractor
    from goldenshot.images import ImageFiles
    from goldenshot.settings import Settings
    from goldenshot.zeroshot import score_batch

    settings = Settings()
    if naive:
        everything = {"coreset_size": size * 4096, "stepwise": False, "rounds": 0, "row_scores": False, "rescore": False}
        settings = settings.model_copy(update={"zeroshot": settings.zeroshot.model_copy(update=everything)})
    torch.set_num_threads(settings.threads)
    extractor = build_extractor(settings)
    idle_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    paths = _batch_paths(root, size)
    load = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    batch = score_batch(ImageFiles(paths), extractor, settings)
    regions = sum(len(batch.inspection(i, settings.maps).regions) for i in range(size))
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "category": root.name,
        "method": "all-pairs" if naive else "zeroshot",
        "batch": size,
        "distinct_images": len(set(paths)),
        "ms_per_image": 1000.0 * seconds / size,
        # CPU time of all threads: the work done, which other processes on a shared machine do not inflate
        "cpu_ms_per_image": 1000.0 * cpu_seconds / size,
        "load_average_at_start": load,
        "batch_seconds": seconds,
        "stage_seconds": {k: round(v, 3) for k, v in batch.seconds.items()},
        "coreset_rows": batch.coreset_rows,
        "regions": regions,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "rss_after_model_load_mb": idle_rss,
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--categories", default=",".join(CATEGORIES), help="comma-separated, relative to --data")
    parser.add_argument("--sizes", default="50,100,200,400")
    parser.add_argument("--naive", default="50,100", help="batch sizes for the all-pairs baseline ('' for none)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per batch size; the summary lines keep the fastest")
    parser.add_argument("--out", type=Path, default=None, help="also write the lines to this file")
    parser.add_argument("--worker", nargs=3, metavar=("ROOT", "SIZE", "NAIVE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        root, size, naive = args.worker
        print(json.dumps(worker(Path(root), int(size), naive == "1")))
        return
    jobs = [(category, size, "0") for category in args.categories.split(",") for size in args.sizes.split(",")]
    jobs += [(category, size, "1") for category in args.categories.split(",") for size in args.naive.split(",") if size]
    runs = []
    for repeat in range(args.repeats):  # round-robin, so a busy spell on the machine hits every size alike
        for category, size, naive in jobs:
            cmd = [sys.executable, __file__, "--worker", str(args.data / category), size, naive]
            run = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
            runs.append({**run, "repeat": repeat})
            print(json.dumps(runs[-1]), flush=True)
    summary = []
    for category, size, naive in jobs:
        same = [r for r in runs if r["category"] == Path(category).name and r["batch"] == int(size) and (r["method"] == "all-pairs") == (naive == "1")]
        best = min(same, key=lambda r: r["ms_per_image"])
        summary.append({**best, "summary": f"fastest of {len(same)}", "peak_rss_mb": max(r["peak_rss_mb"] for r in same)})
        print(json.dumps(summary[-1]), flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("".join(json.dumps(r) + "\n" for r in runs + summary))

if __name__ == "__main__":
    main()
