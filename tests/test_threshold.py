"""Thresholds from good parts at a stated false-alarm rate, and stray golden samples."""

from __future__ import annotations

import numpy as np
import pytest

from goldenshot.settings import ThresholdSettings
from goldenshot.threshold import good_threshold, strays


def test_predictive_threshold_passes_about_one_minus_the_target_of_new_goods() -> None:
    rng = np.random.default_rng(0)
    settings = ThresholdSettings(target_fpr=0.05)
    rates = []
    for _ in range(400):
        draws = rng.normal(3.0, 0.3, 8)  # leave-one-out scores of 8 golden samples
        threshold = good_threshold(draws, settings)
        rates.append(float(np.mean(rng.normal(3.0, 0.3, 200) > threshold)))
    assert 0.01 < np.mean(rates) < 0.07


def test_a_lower_target_gives_a_higher_threshold_and_few_samples_widen_it() -> None:
    scores = [2.0, 2.2, 2.4, 2.1, 2.3, 2.2, 2.05, 2.35]
    loose, strict = (good_threshold(scores, ThresholdSettings(target_fpr=f)) for f in (0.1, 0.01))
    assert max(scores) <= loose < strict
    assert good_threshold(scores[:2], ThresholdSettings(target_fpr=0.05)) > good_threshold(scores, ThresholdSettings(target_fpr=0.05))


def test_quadrants_of_one_part_count_as_one_draw_of_their_mean() -> None:
    """Four quadrant scores say little about the next part: the bound is the prior's around their mean as
    one draw, whatever their spread, wider than four independent parts' would be, never below a quadrant."""
    settings = ThresholdSettings(target_fpr=0.02)
    tight, spread = [2.0, 2.01, 1.99, 2.0], [1.8, 2.2, 1.9, 2.1]
    assert good_threshold(tight, settings, one_part=True) == pytest.approx(good_threshold(spread, settings, one_part=True))
    assert good_threshold(tight, settings, one_part=True) > 1.2 * good_threshold(tight, settings) > max(tight)
    assert good_threshold([2.0, 2.0, 2.0, 5.0], settings, one_part=True) == 5.0


def test_max_rule_is_margin_times_the_highest_score() -> None:
    assert good_threshold([1.0, 3.0, 2.0], ThresholdSettings(rule="max", margin=1.1)) == pytest.approx(3.3)
    with pytest.raises(ValueError):
        good_threshold([], ThresholdSettings())


def test_one_far_score_is_a_stray_and_ordinary_spread_is_not() -> None:
    settings = ThresholdSettings()
    scores = [2.0, 2.2, 2.1, 2.3, 2.15, 2.25]
    assert strays(scores, settings) == []
    assert strays(scores + [6.0], settings) == [6]
    assert strays([2.0, 2.1, 6.0], settings) == []  # too few units to tell a stray from spread
