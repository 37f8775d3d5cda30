"""The few-shot score fused with the batch's own zero-shot score: the stream helps the golden samples.

A line inspects many parts of one product. With one or two golden samples the bank has seen little
of the normal variation, while the batch has seen much of it: goldenshot.zeroshot scores each part
by how unlike the rest of its batch it is. Each score is divided by its own threshold, so 1 means
"at the decision" on both scales; the fused ratio is their weighted geometric mean and the fused
score is that ratio times the few-shot threshold. So the stored threshold still decides, weight 0
gives the few-shot score unchanged, and the ranking is the weighted sum of the two log scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_FLOOR = 1e-6  # a distance of exactly 0 (a copy of a golden sample) must not send log to -inf


def fuse(few_shot: Sequence[float], few_threshold: float, zero_shot: Sequence[float], zero_threshold: float, weight: float) -> list[float]:
    """Fused image scores on the few-shot scale (ANOMALOUS above few_threshold), one per image."""
    if len(few_shot) != len(zero_shot):
        raise ValueError(f"{len(few_shot)} few-shot scores against {len(zero_shot)} zero-shot scores")
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"fusion weight must be within 0..1, got {weight}")
    if few_threshold <= 0 or zero_threshold <= 0:
        raise ValueError(f"thresholds must be positive, got {few_threshold} and {zero_threshold}")
    few = np.maximum(np.asarray(few_shot, dtype=np.float64), _FLOOR) / few_threshold
    zero = np.maximum(np.asarray(zero_shot, dtype=np.float64), _FLOOR) / zero_threshold
    return (few_threshold * np.exp((1.0 - weight) * np.log(few) + weight * np.log(zero))).tolist()
