"""Which engine variant to adopt, and how that choice generalises: leave-one-category-out over bench/ablate.py output.

The adoption rule (issue 13): a variant replaces the baseline only if it raises the mean image AUROC
over all dev categories and lowers no category by more than that category's seed std. Leave one
category out: choose among the variants on the other categories by that rule, then report the
held-out category under the choice, against the baseline and the peer. Prints JSON.

Usage: python bench/loco.py out/ablate --baseline base [--variants a,b,c]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from report import PEER as _PEER  # bench/report.py: the peer measured on this machine

PEER = {category: {k: row[0] for k, row in by_k.items()} for category, by_k in _PEER.items()}


def load_runs(root: Path) -> dict[str, dict[str, list[dict]]]:
    """variant -> category -> runs (bench/ablate.py's JSON)."""
    out: dict[str, dict[str, list[dict]]] = {}
    for path in sorted(root.glob("*/*.json")):
        report = json.loads(path.read_text())
        out.setdefault(report["variant"], {})[report["category"]] = report["runs"]
    return out


def summarise(runs: dict[str, dict[str, list[dict]]]) -> dict[str, dict[str, dict]]:
    """variant -> category -> {K: (mean, std)} of image AUROC over seeds."""
    out: dict[str, dict[str, dict]] = {}
    for variant, by_category in runs.items():
        for category, rows in by_category.items():
            by_k: dict[int, list[float]] = {}
            for run in rows:
                by_k.setdefault(run["shots"], []).append(run["image_auroc"])
            out.setdefault(variant, {})[category] = {k: (float(np.mean(v)), float(np.std(v))) for k, v in sorted(by_k.items())}
    return out


def simulate(runs: dict, probe: str, fixed: dict[str, str], subset: list[str], margin: float) -> dict[str, list[dict]]:
    """Self-configuration over `subset` replayed from a probe run: each (category, K, seed) takes the
    candidate its validation AUROC picks (the first unless another beats it by `margin`), and that
    candidate's test AUROC from the fixed variant that builds the same bank."""
    out: dict[str, list[dict]] = {}
    for category, rows in runs[probe].items():
        for run in rows:
            auroc = run["selfconfig"]["auroc"]
            pick = subset[0]
            for name in subset[1:]:
                if auroc[name] > auroc[pick] + margin:
                    pick = name
            twin = next(r for r in runs[fixed[pick]][category] if (r["shots"], r["seed"]) == (run["shots"], run["seed"]))
            out.setdefault(category, []).append({**twin, "picked": pick})
    return out


def rival(runs: dict, base: str, other: str, margin: float) -> dict[str, list[dict]]:
    """Self-configuration across two variants replayed (e.g. another backbone as a further set of
    candidates): each (category, K, seed) keeps the base run unless the other run's chosen candidate
    separated held-out goods from the same synthetic defects better by more than `margin`."""
    out: dict[str, list[dict]] = {}
    for category, rows in runs[base].items():
        others = {(r["shots"], r["seed"]): r for r in runs[other].get(category, [])}
        for run in rows:
            twin = others.get((run["shots"], run["seed"]))
            if twin is None:
                continue
            ours, theirs = (r["selfconfig"]["auroc"][r["selfconfig"]["chosen"]] for r in (run, twin))
            pick = twin if theirs > ours + margin else run
            out.setdefault(category, []).append({**pick, "picked": other if pick is twin else base})
    return out


def level(table: dict) -> float:
    """One number per (variant, category): image AUROC averaged over K."""
    return float(np.mean([m for m, _ in table.values()]))


def spread(table: dict) -> float:
    """The category's seed std, averaged over K."""
    return float(np.mean([s for _, s in table.values()]))


def adopt(results: dict, baseline: str, candidates: list[str], categories: list[str]) -> str:
    """The variant the rule adopts on these categories: the best mean among those that hurt no category."""
    base = results[baseline]
    best, best_mean = baseline, np.mean([level(base[c]) for c in categories])
    for name in candidates:
        if name == baseline or not all(c in results[name] for c in categories):
            continue
        deltas = [level(results[name][c]) - level(base[c]) for c in categories]
        if any(d < -spread(base[c]) for d, c in zip(deltas, categories)):
            continue
        mean = np.mean([level(results[name][c]) for c in categories])
        if mean > best_mean:
            best, best_mean = name, mean
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", type=Path)
    parser.add_argument("--baseline", default="base")
    parser.add_argument("--variants", default=None)
    parser.add_argument("--probe", default=None, help="a variant run with every self-configuration candidate")
    parser.add_argument("--fixed", default="augment=base,plain=noaug,max=max,size_384=size384",
                        help="candidate=variant pairs: the fixed variant that builds each candidate's bank")
    parser.add_argument("--subsets", default="augment+plain", help="candidate sets to replay, comma-separated")
    parser.add_argument("--margins", default="0")
    parser.add_argument("--rivals", default=None, help="variants replayed as further candidates of the baseline, comma-separated")
    args = parser.parse_args()
    runs = load_runs(args.root)
    names = args.variants.split(",") if args.variants else sorted(runs)
    if args.probe:
        fixed = dict(pair.split("=") for pair in args.fixed.split(","))
        for subset in args.subsets.split(","):
            for margin in (float(m) for m in args.margins.split(",")):
                name = f"sc[{subset}]@{margin}"
                runs[name] = simulate(runs, args.probe, fixed, subset.split("+"), margin)
                names.append(name)
                picks = [r["picked"] for rows in runs[name].values() for r in rows]
                print(json.dumps({"replayed": name, "picked": {c: picks.count(c) for c in sorted(set(picks))}}))
    for other in args.rivals.split(",") if args.rivals else []:
        for margin in (float(m) for m in args.margins.split(",")):
            name = f"{args.baseline}|{other}@{margin}"
            runs[name] = rival(runs, args.baseline, other, margin)
            names.append(name)
            picks = [r["picked"] for rows in runs[name].values() for r in rows]
            print(json.dumps({"replayed": name, "picked": {c: picks.count(c) for c in sorted(set(picks))}}))
    results = summarise(runs)
    categories = sorted(results[args.baseline])
    for name in names:
        row = {c: {k: round(m, 3) for k, (m, _) in results[name][c].items()} for c in categories if c in results[name]}
        margin = {c: {k: round(m - PEER[c][k], 3) for k, (m, _) in results[name][c].items()} for c in categories if c in results[name] and c in PEER}
        print(json.dumps({"variant": name, "image_auroc": row, "minus_peer": margin,
                          "mean": round(float(np.mean([level(results[name][c]) for c in row])), 4)}))
    print(json.dumps({"adopted_on_all": adopt(results, args.baseline, names, categories)}))
    for held in categories:
        others = [c for c in categories if c != held]
        choice = adopt(results, args.baseline, names, others)
        print(json.dumps({
            "held_out": held, "chosen_on_others": choice,
            "held_out_image_auroc": {k: round(m, 3) for k, (m, _) in results[choice][held].items()},
            "baseline": {k: round(m, 3) for k, (m, _) in results[args.baseline][held].items()},
            "delta_mean": round(level(results[choice][held]) - level(results[args.baseline][held]), 4),
        }))


if __name__ == "__main__":
    main()
