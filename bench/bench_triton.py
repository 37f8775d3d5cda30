"""Backbone latency per image: in-process torch vs Triton (CPU, gRPC on 127.0.0.1); prints one JSON object.

Triton here is nvidia-pytriton's tritonserver running the exported ONNX on onnxruntime inside its Python
backend, so onnxruntime in-process is measured too: Triton minus onnxruntime is the serving overhead
(gRPC, copies into and out of the Python stub), onnxruntime minus torch the runtime difference.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import onnxruntime
import torch

from goldenshot.backbones import load_backbone
from goldenshot.export import DEFAULT_MODEL, INPUT, Serving, output_names
from goldenshot.onnx_backbone import export_triton
from goldenshot.settings import Settings
from services.common.triton_backbone import TritonBackbone
from services.common.tritonserver import start_tritonserver


def per_image_ms(run: Callable[[torch.Tensor], object], batch: torch.Tensor, repeats: int, warmup: int) -> dict[str, float]:
    """p50 and mean wall time of run(batch), divided by the batch size."""
    for _ in range(warmup):
        run(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(batch)
        times.append((time.perf_counter() - start) * 1000 / batch.shape[0])
    return {"ms_per_image_p50": round(statistics.median(times), 2), "ms_per_image_mean": round(statistics.fmean(times), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backbone", default="mobilenet_v2")
    parser.add_argument("--weights", type=Path, help="weights file (default: the backbone's bundled one)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch and onnxruntime threads, in-process and in Triton")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    backbone = load_backbone(args.backbone, args.weights)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        repository = Path(tmp) / "model_repository"
        batches = [int(b) for b in args.batches.split(",")]
        serving = Serving("cpu", max_batch_size=max(batches), cpu_threads=args.threads)
        export_triton(repository, serving, args.backbone, args.weights, None, Settings().cache_dir)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = args.threads
        session = onnxruntime.InferenceSession(str(repository / DEFAULT_MODEL / "1" / "model.onnx"), options, providers=["CPUExecutionProvider"])
        names = output_names(len(backbone.taps))
        server = start_tritonserver(repository, Path(tmp) / "server")
        try:
            remote = TritonBackbone(server.grpc_url)
            paths: dict[str, Callable[[torch.Tensor], object]] = {
                "torch_in_process": torch.inference_mode()(backbone),
                "onnxruntime_in_process": lambda x: session.run(names, {INPUT: x.numpy()}),
                "triton_cpu_grpc": remote,
            }
            for b in batches:
                batch = torch.randn(b, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
                for name, run in paths.items():
                    results.append({"path": name, "batch": b, **per_image_ms(run, batch, args.repeats, args.warmup)})
            remote.close()
        finally:
            server.stop()
    report = {"backbone": args.backbone, "size": args.size, "threads": args.threads, "results": results}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
