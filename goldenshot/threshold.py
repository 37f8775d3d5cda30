"""Decision thresholds from good parts only, at a stated false-alarm rate, and stray golden samples.

The leave-one-out score of each golden unit is a draw from "a good part the bank has not seen".
The highest of K draws passes a fraction of future good parts that depends on K (about K/(K+1)),
so "max" is timid or trigger-happy depending on how many samples an engineer gave. The predictive
rule instead puts a one-sided Student-t prediction bound at 1 - target_fpr on those draws: with a
spread estimated from few draws the bound widens by itself, and the false-alarm rate is the
setting, not an accident of K. A weak prior on the spread relative to the level (coefficient of
variation) keeps K = 2 from resting on one difference.

With one golden sample its four quadrants are the draws, but they are four looks at one part: their
spread says how the part varies within itself, not how the next part differs from it (new good
parts scored 0.9x to 2.0x the quadrants' mean on the dev categories, against 0.8x to 1.0x the
leave-one-out mean from K = 2 on). So the bound counts them as one draw of their mean, whose width
the prior spread alone sets.
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


def good_threshold(scores: Sequence[float], settings: ThresholdSettings, one_part: bool = False) -> float:
    """Threshold on `scores`' scale above which a part is ANOMALOUS (scores: leave-one-out goods).

    one_part: the scores are pieces of one golden sample (its quadrants): one draw of their mean, the
    width the prior's, and never below the highest of them.
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no leave-one-out scores to set a threshold from")
    if settings.rule == "max":
        return settings.margin * float(values.max())
    draws = np.asarray([values.mean()]) if one_part else values
    return max(_prediction_bound(draws, settings.target_fpr), float(values.max()))


def _prediction_bound(values: np.ndarray, target_fpr: float) -> float:
    """One-sided Student-t prediction bound at 1 - target_fpr on the draws `values`, the spread shrunk
    towards the prior (PRIOR_CV of their mean, worth PRIOR_DOF draws)."""
    n = values.size
    mean = float(values.mean())
    sample_var = float(values.var(ddof=1)) if n > 1 else 0.0
    dof = PRIOR_DOF + n - 1
    var = (PRIOR_DOF * (PRIOR_CV * mean) ** 2 + (n - 1) * sample_var) / dof
    return mean + float(stats.t.ppf(1.0 - target_fpr, dof)) * math.sqrt(var * (1.0 + 1.0 / n))


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
