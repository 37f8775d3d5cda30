"""Decision thresholds from good parts only, at a stated false-alarm rate, and stray golden samples.

The leave-one-out score of each golden unit is a draw from "a good part the bank has not seen".
The highest of K draws passes a fraction of future good parts that depends on K (about K/(K+1)),
so "max" is timid or trigger-happy depending on how many samples an engineer gave. The predictive
rule instead puts a one-sided Student-t prediction bound at 1 - target_fpr on those draws: with a
spread estimated from few draws the bound widens by itself, and the false-alarm rate is the
setting, not an accident of K. A weak prior on the spread relative to the level (coefficient of
variation) keeps K = 2 from resting on one difference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from goldenshot.settings import ThresholdSettings

# Prior spread of good scores relative to their mean, worth PRIOR_DOF degrees of freedom. Chosen on
# the dev categories' leave-one-out vs test-good scores (docs/accuracy.md): golden samples drawn
# from a line vary less among themselves than the parts that come after them.
PRIOR_CV = 0.16
PRIOR_DOF = 4.0


def good_threshold(scores: Sequence[float], settings: ThresholdSettings) -> float:
    """Threshold on `scores`' scale above which a part is ANOMALOUS (scores: leave-one-out goods)."""
    values = np.asarray(scores, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no leave-one-out scores to set a threshold from")
    if settings.rule == "max":
        return settings.margin * float(values.max())
    n = values.size
    mean = float(values.mean())
    sample_var = float(values.var(ddof=1)) if n > 1 else 0.0
    dof = PRIOR_DOF + n - 1
    var = (PRIOR_DOF * (PRIOR_CV * mean) ** 2 + (n - 1) * sample_var) / dof
    bound = mean + float(stats.t.ppf(1.0 - settings.target_fpr, dof)) * math.sqrt(var * (1.0 + 1.0 / n))
    return max(bound, float(values.max()))


def strays(scores: Sequence[float], settings: ThresholdSettings) -> list[int]:
    """Indices of units whose leave-one-out score stands far above the others' (robust z-score),
    and well above their level (a tight set of samples makes a small excess look extreme).

    A wrong-product photo is unlike every other golden sample, so it scores high when held out
    while the others stay put; the median and MAD ignore it, unlike a mean and a std.
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.size < settings.min_units_for_stray:
        return []
    median = float(np.median(values))
    mad = max(float(np.median(np.abs(values - median))) * 1.4826, 0.02 * median)
    return [i for i, v in enumerate(values) if (v - median) / mad > settings.stray_mads and v > settings.stray_ratio * median]
