"""Markdown tables from `goldenshot eval` JSON files, beside the peer measured on this machine.

Usage: python bench/report.py out/eval/*.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# anomalib 2.7.0 PatchCore, same MobileNetV2 weights, same support sets (../shared/REFERENCE.md):
# image AUROC mean, std and pixel AUROC per K.
PEER = {
    "magnetic_tile": {1: (0.679, 0.031, 0.695), 2: (0.714, 0.024, 0.703), 4: (0.740, 0.014, 0.721), 8: (0.751, 0.024, 0.735)},
    "ball_screw": {1: (0.849, 0.020, 0.945), 2: (0.847, 0.043, 0.971), 4: (0.845, 0.034, 0.975), 8: (0.863, 0.047, 0.980)},
    "pcb20085": {1: (0.500, 0.006, 0.742), 2: (0.508, 0.010, 0.750), 4: (0.525, 0.008, 0.767), 8: (0.540, 0.017, 0.787)},
}


def table(report: dict) -> str:
    """One category: ours vs the peer per K, plus pixel metrics, speed and the threshold's decisions."""
    peer = PEER.get(report["category"], {})
    lines = [
        f"**{report['category']}** ({len(report['runs']) // max(1, len(report['summary']))} seeds, {report['runs'][0]['n_test']} test images)",
        "",
        "| K | image AUROC | peer | pixel AUROC | peer | AUPRO | F1-max | FPR / TPR at threshold | fit s | ms/image |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["summary"]:
        k = row["shots"]
        runs = [r for r in report["runs"] if r["shots"] == k]
        mean = lambda key: sum(r[key] for r in runs) / len(runs)  # noqa: E731
        p = peer.get(k)
        lines.append(
            f"| {k} | {row['image_auroc_mean']:.3f} ± {row['image_auroc_std']:.3f} | "
            f"{f'{p[0]:.3f} ± {p[1]:.3f}' if p else '-'} | {row['pixel_auroc_mean']:.3f} | {f'{p[2]:.3f}' if p else '-'} | "
            f"{row['aupro_mean']:.3f} | {mean('f1_max'):.3f} | {mean('fpr_at_threshold'):.2f} / {mean('tpr_at_threshold'):.2f} | "
            f"{row['fit_seconds_mean']:.2f} | {row['ms_per_image_median']:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print("\n\n".join(table(json.loads(Path(p).read_text())) for p in sys.argv[1:]))
