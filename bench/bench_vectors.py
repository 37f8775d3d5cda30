"""Benchmark the vector store jobs (Qdrant Edge in-process); prints JSON.

- start: the embedded runtime with 50 fingerprint versions on disk, to ready (shards are found, not
  refilled) and until the background check of every shard is done; against refilling qdrant-client's
  local mode in memory as the server did before (measured on 5 banks, times 10);
- explain: the extra work an inspection with 3 regions does (peak patch + one matrix-vector product
  each) and the /explain use case (top-5 golden patches per region from the collection);
- similar: defect search over 100,000 stored regions (3 regions per query), p50/p95;
- knn_one_image: one image's patch kNN (1,024 patches at the default size) on the hot bank against the Edge shard.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import torch

from goldenshot.data import load_category, support_set
from goldenshot.explain import explain_regions, region_features
from goldenshot.features import build_extractor
from goldenshot.fewshot import fit, golden_samples
from goldenshot.images import read_image
from goldenshot.inspector import Inspector
from goldenshot.regions import Region
from goldenshot.scoring import nearest
from goldenshot.settings import Settings
from services.common.settings import ServiceSettings
from services.common.vectors import EdgeVectorStore, QdrantVectorStore
from services.common.vectors import nearest as store_nearest
from services.core.golden_patches import bank_payloads
from services.core.keys import collection_name, fingerprint_key
from services.core.models import Version
from services.runtime import Runtime


def ms(seconds: list[float]) -> dict:
    arr = np.asarray(seconds) * 1000.0
    return {"p50_ms": round(float(np.percentile(arr, 50)), 2), "p95_ms": round(float(np.percentile(arr, 95)), 2), "n": len(seconds)}


def bench_start(data: Path, fingerprint, versions: int) -> dict:
    service, engine = ServiceSettings(data_dir=data, grpc_port=None), Settings()
    runtime = Runtime(service, engine)
    product = runtime.catalog.products.create(uuid.uuid4().hex, "default", "bench", "")
    blob = fingerprint.dumps()
    for v in range(1, versions + 1):
        key, collection = fingerprint_key(product.id, v), collection_name(product.id, v)
        runtime.objects.put(key, blob)
        runtime.patches.write(collection, fingerprint)
        runtime.catalog.versions.add(
            Version(
                product_id=product.id, version=v, created_at="2026-12-02T00:00:00+00:00", threshold=1.0, pixel_threshold=1.0,
                threshold_source="user", golden_count=len(fingerprint.meta.sources), coreset_rows=int(fingerprint.bank.shape[0]), golden_scores={}, build_seconds=0.0,
                sha256=fingerprint.sha256, object_key=key, collection=collection,
            ),
            activate=True,
        )
    runtime.close()
    started = time.perf_counter()
    again = Runtime(service, engine)
    again.start()
    again.vectors.ping()
    again.catalog.products.all()
    ready = time.perf_counter() - started
    again.repair.join()
    checked = time.perf_counter() - started
    again.close()
    refill = QdrantVectorStore()  # the former embedded store: every bank written again at each start
    t = time.perf_counter()
    for v in range(5):
        refill.write(f"r{v}", fingerprint.bank.numpy())
    per_bank = (time.perf_counter() - t) / 5
    refill.close()
    return {
        "versions": versions, "bank_rows": int(fingerprint.bank.shape[0]), "dim": int(fingerprint.bank.shape[1]),
        "ready_s": round(ready, 2), "all_shards_checked_s": round(checked, 2), "former_refill_estimate_s": round(per_bank * versions, 1),
    }


def bench_explain(inspector: Inspector, image: np.ndarray, data: Path, fingerprint) -> dict:
    feats = inspector.extractor(inspector.extractor.tensor(image)[None])[0]
    h, w = image.shape[:2]
    score_map = np.random.default_rng(0).random((h, w)).astype(np.float32)
    regions = [Region(x, y, w // 8, h // 8, 10, 1.0, 0.5, []) for x, y in ((0, 0), (w // 2, h // 4), (w // 4, h // 2))]
    meta = fingerprint.meta
    inline = []
    for _ in range(50):
        t = time.perf_counter()
        peaks, queries = region_features(regions, score_map, feats)
        explain_regions(regions, peaks, queries, inspector.bank, inspector.bank_sq, fingerprint.provenance, meta.sources)
        inline.append(time.perf_counter() - t)
    store = EdgeVectorStore(data / "explain")
    store.write("bank", fingerprint.bank.numpy(), bank_payloads(fingerprint))
    store.search("bank", queries.numpy(), 5)  # open the shard once, as a running server has
    top = []
    for _ in range(50):
        t = time.perf_counter()
        store.search("bank", queries.numpy(), 5)
        top.append(time.perf_counter() - t)
    store.close()
    return {"regions": 3, "inline_nearest_golden": ms(inline), "explain_top5_from_edge": ms(top)}


def bench_similar(data: Path, dim: int, stored: int) -> dict:
    rng = np.random.default_rng(1)
    store = EdgeVectorStore(data / "similar")
    t = time.perf_counter()
    for start in range(0, stored, 5000):
        rows = rng.normal(size=(min(5000, stored - start), dim)).astype(np.float32)
        ids = [str(uuid.uuid4()) for _ in range(len(rows))]
        payloads = [{"inspection_id": f"i{(start + i) // 3}", "region": (start + i) % 3, "label": "unreviewed"} for i in range(len(rows))]
        store.upsert("lib", ids, rows, payloads)
    written = time.perf_counter() - t
    queries = rng.normal(size=(50, 3, dim)).astype(np.float32)
    store.search("lib", queries[0], 13)
    times = []
    for q in queries:
        t = time.perf_counter()
        store.search("lib", q, 13)
        times.append(time.perf_counter() - t)
    store.close()
    return {"stored_regions": stored, "dim": dim, "write_s": round(written, 1), "search_3_regions": ms(times)}


def bench_knn(inspector: Inspector, image: np.ndarray, data: Path) -> dict:
    feats = inspector.extractor(inspector.extractor.tensor(image)[None])[0]
    queries = feats.reshape(-1, feats.shape[-1]).float()
    store = EdgeVectorStore(data / "knn")
    store.write("bank", inspector.bank.numpy())
    store_nearest(store, "bank", queries[:1].numpy())
    hot_times, store_times = [], []
    for _ in range(5):
        t = time.perf_counter()
        hot, _ = nearest(queries, inspector.bank, inspector.bank_sq)
        hot_times.append(time.perf_counter() - t)
    for _ in range(3):
        t = time.perf_counter()
        far = store_nearest(store, "bank", queries.numpy())
        store_times.append(time.perf_counter() - t)
    store.close()
    return {
        "patches": int(queries.shape[0]), "bank_rows": int(inspector.bank.shape[0]),
        "hot_ms": round(statistics.median(hot_times) * 1000, 1), "edge_ms": round(statistics.median(store_times) * 1000, 1),
        "max_abs_diff": float(torch.max(torch.abs(hot - torch.from_numpy(far)))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    parser.add_argument("--versions", type=int, default=50)
    parser.add_argument("--stored", type=int, default=100_000)
    parser.add_argument("--golden", type=int, default=8)
    args = parser.parse_args()
    settings = Settings()
    tile = load_category(args.datasets / "mtd" / "magnetic_tile")
    extractor = build_extractor(settings)
    fingerprint = fit(golden_samples(support_set(tile.train, args.golden, 0), settings), extractor, settings)
    inspector = Inspector(extractor, fingerprint)
    image = read_image(tile.test[0].path)
    result = {"threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        result["knn_one_image"] = bench_knn(inspector, image, data)
        result["explain"] = bench_explain(inspector, image, data, fingerprint)
        result["start"] = bench_start(data / "server", fingerprint, args.versions)
        result["similar"] = bench_similar(data, int(fingerprint.bank.shape[1]), args.stored)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
