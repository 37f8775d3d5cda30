"""Engine ablations: many variants of the settings over every dev category, few-shot protocol, one process.

Each variant is a name and a dict of settings overrides (nested like Settings). Test-image features
are extracted once per (backbone, preprocessing) and shared by every variant and (K, seed) run that
uses them, so a variant that changes only the fit or the scoring costs one fit and one kNN per run.
Writes one JSON file per (variant, category) with every run's image scores, so thresholds and
selection rules can be studied afterwards (bench/loco.py); prints a summary line per file.

Usage: python bench/ablate.py --variants '[{"name": "base", "settings": {}}]' --out out/ablate
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from goldenshot import metrics
from goldenshot.data import discover_categories, load_category, support_set
from goldenshot.features import FeatureExtractor, build_extractor
from goldenshot.fewshot import fit, golden_samples
from goldenshot.images import read_image
from goldenshot.scoring import score_grid, squared_norms
from goldenshot.settings import Settings
from goldenshot.subspace import fit_subspace


class TestFeatures:
    """Test features per extractor key, computed on first use and kept for the category's variants."""

    def __init__(self, samples: list, max_pixels: int, max_bytes: int):
        self.samples = samples
        self.images = [read_image(s.path, max_pixels, max_bytes) for s in samples]
        self.cache: dict[tuple, list[torch.Tensor]] = {}

    def get(self, extractor: FeatureExtractor) -> list[torch.Tensor]:
        backbone = extractor.backbone
        key = (backbone.name, backbone.weights_sha256, backbone.taps, extractor.preprocess.model_dump_json(), _proj_key(extractor))
        if key not in self.cache:
            self.cache[key] = [extractor(extractor.tensor(image)[None])[0] for image in self.images]
        return self.cache[key]


def _proj_key(extractor: FeatureExtractor) -> str | None:
    return None if extractor.projection is None else str(float(extractor.projection.sum()))


def run_variant(name: str, overrides: dict, root: Path, tests: TestFeatures, shots: list[int], seeds: list[int], extractors: dict) -> dict:
    settings = Settings(**overrides)
    key = (settings.backbone, str(settings.weights), settings.taps, settings.projection_dim)
    if key not in extractors:
        extractors[key] = build_extractor(settings)
    base = FeatureExtractor(extractors[key].backbone, settings.preprocess, extractors[key].projection)
    category = load_category(root)
    labels = [s.label for s in tests.samples]
    runs = []
    for k in shots:
        for seed in seeds:
            support = support_set(category.train, k, seed)
            run_settings = settings.model_copy(update={"seed": seed})
            start = time.perf_counter()
            fingerprint = fit(golden_samples(support, run_settings), base, run_settings)
            fit_s = time.perf_counter() - start
            meta = fingerprint.meta
            extractor = FeatureExtractor(base.backbone, meta.preprocess, fingerprint.projection)
            bank, bank_sq = fingerprint.bank, squared_norms(fingerprint.bank)
            subspace = fit_subspace(bank, meta.scoring.subspace_energy) if meta.scoring.patch_score != "knn" else None
            scores = [score_grid(f, _grid_size(f), bank, bank_sq, meta.scoring, meta.maps.sigma, subspace=subspace)[0] for f in tests.get(extractor)]
            runs.append({
                "shots": k, "seed": seed,
                "image_auroc": metrics.image_auroc(labels, scores),
                "threshold": meta.threshold,
                "fpr": float(np.mean([s > meta.threshold for s, y in zip(scores, labels) if y == 0])),
                "tpr": float(np.mean([s > meta.threshold for s, y in zip(scores, labels) if y == 1])),
                "golden": meta.golden.scores,
                "selfconfig": meta.selfconfig.model_dump() if meta.selfconfig else None,
                "strays": [s.name for s in meta.strays],
                "fit_seconds": fit_s,
                "scores": [round(s, 5) for s in scores],
            })
    return {"variant": name, "settings": overrides, "category": category.name, "labels": labels, "runs": runs}


def _grid_size(feats: torch.Tensor) -> tuple[int, int]:
    """Working size of a patch grid (stride 8): what score_grid upsamples the map to."""
    return feats.shape[0] * 8, feats.shape[1] * 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--variants", required=True, help="JSON list of {name, settings}, or @file")
    parser.add_argument("--shots", default="1,2,4,8")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--categories", default=None, help="comma list of category folders relative to --data")
    parser.add_argument("--out", type=Path, default=Path("out/ablate"))
    parser.add_argument("--threads", type=int, default=2, help="torch threads (onnxruntime's: the variant's settings.threads)")
    args = parser.parse_args()
    text = Path(args.variants[1:]).read_text() if args.variants.startswith("@") else args.variants
    variants = json.loads(text)
    roots = [args.data / c for c in args.categories.split(",")] if args.categories else discover_categories(args.data)
    shots = [int(x) for x in args.shots.split(",")]
    seeds = [int(x) for x in args.seeds.split(",")]
    torch.set_num_threads(args.threads)
    extractors: dict = {}
    for root in roots:
        limits = Settings().limits
        tests = TestFeatures(list(load_category(root).test), limits.max_pixels, limits.max_bytes)
        for variant in variants:
            out = args.out / variant["name"] / f"{root.name}.json"
            if out.is_file():
                continue
            start = time.perf_counter()
            report = run_variant(variant["name"], variant.get("settings", {}), root, tests, shots, seeds, extractors)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(report))
            by_k = {k: float(np.mean([r["image_auroc"] for r in report["runs"] if r["shots"] == k])) for k in shots}
            print(json.dumps({"variant": variant["name"], "category": root.name, "image_auroc": by_k,
                              "fpr": float(np.mean([r["fpr"] for r in report["runs"]])),
                              "tpr": float(np.mean([r["tpr"] for r in report["runs"]])),
                              "seconds": round(time.perf_counter() - start, 1)}), flush=True)


if __name__ == "__main__":
    main()
