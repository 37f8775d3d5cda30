"""Speed and memory of the library path on each shared category, against the peer in the same run; JSON lines.

Each category runs `goldenshot bench` in its own process (peak RSS is that category's alone), once
with self-configuration reduced to the default candidate (`GOLDENSHOT_SELFCONFIG__CANDIDATES='["augment"]'`:
256 px) and once self-configured (it may choose 384 px). Then, in this process:
- peer: anomalib's PatchCore model-only forward rebuilt in torch (same MobileNetV2 weights and taps,
  NCHW as timm runs it, 3x3 neighbourhood average, 128-d patches, a 10 % coreset of K = 8 images'
  patches, cdist + re-weighting over 9 neighbours, bilinear map + Gaussian sigma 4) at 256 px, batch 1;
  the issue's target is the pipeline p50 <= 0.5x this time, measured here on the same loaded machine;
- floor: the backbone alone (onnxruntime, 256 px), what no pipeline can go under;
- a 24 MP JPEG (6000x4000, a test image upscaled, with sensor-like noise): inspect p50 (decode -> regions), RSS growth over 100;
- `goldenshot --help` wall time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from goldenshot.backbones import load_network
from goldenshot.data import discover_categories, load_category, support_set
from goldenshot.features import build_extractor, normalize
from goldenshot.fewshot import fit, golden_samples
from goldenshot.images import read_image
from goldenshot.inspector import Inspector
from goldenshot.preprocess import prepare
from goldenshot.settings import Settings

DEFAULT_ONLY = '["augment"]'


def p50_ms(run: Callable[[], object], inputs: list, warmup: int = 3) -> float:
    for item in inputs[:warmup]:
        run(item)
    times = []
    for item in inputs:
        start = time.perf_counter()
        run(item)
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


class PeerPatchCore(torch.nn.Module):
    """anomalib 2.7 PatchCore's inference forward (model only: tensor in, score and map out)."""

    def __init__(self, bank: torch.Tensor) -> None:
        super().__init__()
        features = load_network("mobilenet_v2").features
        self.stage8, self.stage16 = features[:7].eval(), features[7:14].eval()
        self.bank = bank
        self.blur = _gaussian_kernel(4.0)

    @torch.inference_mode()
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        fine = self.stage8(x)
        coarse = self.stage16(fine)
        maps = [F.avg_pool2d(m, 3, 1, 1) for m in (fine, coarse)]
        maps[1] = F.interpolate(maps[1], size=maps[0].shape[-2:], mode="bilinear")
        return torch.cat(maps, 1)

    @torch.inference_mode()
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.embed(x)
        b, d, h, w = emb.shape
        patches = emb.permute(0, 2, 3, 1).reshape(-1, d)
        dist = torch.cdist(patches, self.bank)
        scores, idx = dist.min(1)
        # re-weighting (PatchCore eq. 7): the max patch against its neighbour's 9 nearest bank rows
        top = scores.argmax()
        support = torch.cdist(self.bank[idx[top]][None], self.bank).topk(9, largest=False).indices[0]
        weights = 1 - torch.softmax(torch.cdist(patches[top][None], self.bank[support])[0], 0)[0]
        score = weights * scores.max()
        amap = F.interpolate(scores.view(b, 1, h, w), size=x.shape[-2:], mode="bilinear")
        amap = F.conv2d(F.pad(amap, [16] * 4, mode="reflect"), self.blur)
        return score, amap


def _gaussian_kernel(sigma: float, size: int = 33) -> torch.Tensor:
    ax = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-(ax**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def peer_and_floor(category: Path, shots: int, max_images: int) -> dict:
    """Peer model-only p50 and our backbone floor at 256 px on one category's test images."""
    settings = Settings(selfconfig={"enabled": False})
    cat = load_category(category)
    tensors = [prepare(read_image(s.path), settings.preprocess)[None] for s in cat.test[:max_images]]
    golden = [prepare(read_image(p), settings.preprocess)[None] for p in support_set(cat.train, shots, 0)]
    embedder = PeerPatchCore(torch.empty(0, 128))
    patches = torch.cat([embedder.embed(normalize(t)).permute(0, 2, 3, 1).reshape(-1, 128) for t in golden])
    keep = torch.randperm(patches.shape[0], generator=torch.Generator().manual_seed(0))[: patches.shape[0] // 10]
    peer = PeerPatchCore(patches[keep])
    backbone = build_extractor(settings).backbone
    return {
        "peer_model_ms_p50": round(p50_ms(lambda t: peer(normalize(t)), tensors), 2),
        "peer_bank_rows": int(keep.numel()),
        "floor_backbone_ms_p50": round(p50_ms(lambda t: backbone(normalize(t)), tensors), 2),
    }


def large_photo(category: Path, shots: int, count: int) -> dict:
    """Inspect p50 of a 24 MP JPEG (6000x4000) and the process's RSS growth over `count` inspections."""
    settings = Settings(selfconfig={"enabled": False})
    cat = load_category(category)
    extractor = build_extractor(settings)
    inspector = Inspector(extractor, fit(golden_samples(support_set(cat.train, shots, 0), settings), extractor, settings))
    big = cv2.resize(read_image(cat.test[0].path), (6000, 4000), interpolation=cv2.INTER_CUBIC)
    # sensor-like noise: an upscaled image alone compresses to ~1 MB, a camera's 24 MP JPEG is several
    big = cv2.add(big, np.random.default_rng(0).integers(0, 12, big.shape, dtype=np.uint8))
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, "JPEG", quality=92)
    data = buf.getvalue()
    del big
    inspector.inspect(*inspector.decode(data))
    before_rss, before_peak = _rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    ms = p50_ms(lambda blob: inspector.inspect(*inspector.decode(blob)), [data] * count, warmup=0)
    return {
        "jpeg_megapixels": 24.0,
        "jpeg_mb": round(len(data) / 1e6, 2),
        "inspect_ms_p50": round(ms, 2),
        "inspections": count,
        "rss_growth_mb": round(_rss_mb() - before_rss, 1),
        "peak_rss_growth_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 - before_peak, 1),
    }


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def help_seconds(repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "goldenshot", "--help"], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--out", type=Path, default=Path("out/bench"))
    parser.add_argument("--shots", type=int, default=8)
    parser.add_argument("--max-images", type=int, default=100)
    parser.add_argument("--large-count", type=int, default=100)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(Settings().threads)
    categories = discover_categories(args.data)
    peer = {}
    for category in categories:
        peer[category.name] = peer_and_floor(category, args.shots, args.max_images)
        for mode, env in (("default", {"GOLDENSHOT_SELFCONFIG__CANDIDATES": DEFAULT_ONLY}), ("selfconfig", {})):
            out = args.out / f"{category.name}-{mode}.json"
            cmd = [sys.executable, "-m", "goldenshot", "bench", str(category), "--shots", str(args.shots),
                   "--max-images", str(args.max_images), "--json", str(out)]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, **env})
            row = json.loads(out.read_text())
            row.update(mode=mode, **peer[category.name])
            row["pipeline_over_peer"] = round(row["ms_per_image_p50"] / row["peer_model_ms_p50"], 3)
            print(json.dumps(row), flush=True)
    print(json.dumps({"large_jpeg": large_photo(categories[0], args.shots, args.large_count)}), flush=True)
    print(json.dumps({"help_seconds_p50": help_seconds()}), flush=True)


if __name__ == "__main__":
    main()
