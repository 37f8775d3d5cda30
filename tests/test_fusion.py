"""Fusing few-shot scores with the batch's zero-shot scores (goldenshot.fusion, settings.stream)."""

from __future__ import annotations

import math

import pytest

from goldenshot.evaluation import evaluate, evaluate_zero_shot
from goldenshot.fusion import fuse
from goldenshot.settings import Settings


def test_weight_zero_keeps_the_few_shot_scores():
    few = [0.5, 1.2, 3.0]
    assert fuse(few, 1.0, [9.0, 0.1, 4.0], 2.0, 0.0) == pytest.approx(few)


def test_the_stored_threshold_decides_on_the_weighted_log_ratios():
    few, zero, t_few, t_zero, w = [0.9, 1.1, 0.95], [4.0, 0.5, 1.5], 1.0, 2.0, 0.5
    fused = fuse(few, t_few, zero, t_zero, w)
    for f, z, s in zip(few, zero, fused):
        vote = (1 - w) * math.log(f / t_few) + w * math.log(z / t_zero)
        assert (s > t_few) == (vote > 0)
    # just under the golden threshold but far above its batch: fused it is flagged; the reverse passes
    assert fused[0] > t_few and fused[1] < t_few


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="2 few-shot scores against 1"):
        fuse([1.0, 2.0], 1.0, [1.0], 1.0, 0.5)
    with pytest.raises(ValueError, match="within 0..1"):
        fuse([1.0], 1.0, [1.0], 1.0, 1.5)
    with pytest.raises(ValueError, match="positive"):
        fuse([1.0], 0.0, [1.0], 1.0, 0.5)


def test_eval_fuses_each_run_with_the_split_as_a_stream(tile_root):
    common = {"selfconfig": {"enabled": False}, "zeroshot": {"coreset_size": 1024}}
    plain = evaluate(tile_root, [1], [0], Settings(**common), max_test=16, show_progress=False)["runs"][0]
    fused = evaluate(tile_root, [1], [0], Settings(**common, stream={"weight": 1.0}), max_test=16, show_progress=False)["runs"][0]
    alone = evaluate_zero_shot(tile_root, [0], Settings(**common), max_test=16)["runs"][0]
    assert plain["stream_weight"] == 0.0 and fused["stream_weight"] == 1.0
    assert fused["threshold"] == plain["threshold"]  # the fit is the same; only the scores are fused
    # weight 1: the ranking is the batch's zero-shot ranking, which differs from the few-shot one here
    assert fused["image_auroc"] == pytest.approx(alone["image_auroc"]) and fused["image_auroc"] != plain["image_auroc"]
