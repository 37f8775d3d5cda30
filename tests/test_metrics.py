"""Metrics checked against hand-worked examples and an independent slow AUPRO reference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from goldenshot.metrics import aupro, f1_max, image_auroc, pixel_auroc

# --- image-level ------------------------------------------------------------------------------

# Good images score 0.1, 0.4; defective ones 0.35, 0.8.
HAND_LABELS = [0, 0, 1, 1]
HAND_SCORES = [0.1, 0.4, 0.35, 0.8]


def test_image_auroc_hand_example() -> None:
    # (defective, good) pairs ranked right: 0.35>0.1, 0.8>0.1, 0.8>0.4; wrong: 0.35<0.4 -> 3/4.
    assert image_auroc(HAND_LABELS, HAND_SCORES) == pytest.approx(0.75)


def test_image_auroc_perfect_and_inverted() -> None:
    assert image_auroc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == pytest.approx(1.0)
    assert image_auroc([0, 0, 1, 1], [0.8, 0.9, 0.1, 0.2]) == pytest.approx(0.0)


def test_f1_max_hand_example() -> None:
    # Threshold 0.8:  TP1 FP0 FN1 -> P=1,   R=1/2, F1=2/3
    # Threshold 0.4:  TP1 FP1 FN1 -> P=1/2, R=1/2, F1=1/2
    # Threshold 0.35: TP2 FP1 FN0 -> P=2/3, R=1,   F1=2*(2/3)/(5/3)=0.8  <- best
    # Threshold 0.1:  TP2 FP2 FN0 -> P=1/2, R=1,   F1=2/3
    assert f1_max(HAND_LABELS, HAND_SCORES) == pytest.approx(0.8)
    assert f1_max([0, 1, 1], [0.1, 0.5, 0.9]) == pytest.approx(1.0)


def test_image_metrics_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="length"):
        image_auroc([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="0 \\(good\\) or 1"):
        f1_max([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="both"):
        image_auroc([1, 1], [0.1, 0.2])


# --- pixel AUROC ------------------------------------------------------------------------------


def test_pixel_auroc_hand_example_images_of_different_size() -> None:
    masks = [np.array([[1, 0]], bool), np.array([[0, 0], [1, 0]], bool)]
    maps = [np.array([[0.9, 0.2]]), np.array([[0.3, 0.1], [0.4, 0.95]])]
    # Defective 0.9, 0.4 vs good 0.2, 0.3, 0.1, 0.95: each beats 3 of 4 good -> 6/8.
    assert pixel_auroc(masks, maps) == pytest.approx(0.75)


def test_pixel_auroc_perfect_inverted_and_undefined() -> None:
    mask = np.zeros((4, 5), bool)
    mask[1:3, 1:3] = True
    assert pixel_auroc([mask], [mask.astype(float)]) == pytest.approx(1.0)
    assert pixel_auroc([mask], [1.0 - mask]) == pytest.approx(0.0)
    assert pixel_auroc([np.zeros((3, 3), bool)], [np.random.rand(3, 3)]) is None


# --- AUPRO ------------------------------------------------------------------------------------


def two_image_example() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Image A: region R1 (2 px) top-left; image B: region R2 (4 px, 2x2 block) on the right."""
    mask_a = np.zeros((2, 4), bool)
    mask_a[0, :2] = True
    mask_b = np.zeros((2, 4), bool)
    mask_b[:, 2:] = True
    map_a = np.array([[0.9, 0.5, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7]])
    map_b = np.array([[0.5, 0.1, 0.8, 0.5], [0.1, 0.1, 0.6, 0.3]])
    return [mask_a, mask_b], [map_a, map_b]


# R1 scores {0.9, 0.5}; R2 scores {0.8, 0.6, 0.5, 0.3}; 10 good pixels {0.7, 0.5, 0.1 x 8}.
# Threshold t | good >= t | FPR | R1 hit | R2 hit | PRO
#   0.9       |     0     | 0   |  1/2   |  0     | 0.25
#   0.8       |     0     | 0   |  1/2   |  1/4   | 0.375
#   0.7       |     1     | 0.1 |  1/2   |  1/4   | 0.375
#   0.6       |     1     | 0.1 |  1/2   |  2/4   | 0.5
#   0.5 (tie) |     2     | 0.2 |  1     |  3/4   | 0.875   <- good and defect pixels cross together
#   0.3       |     2     | 0.2 |  1     |  1     | 1
#   0.1       |    10     | 1   |  1     |  1     | 1


def test_aupro_hand_example_default_limit() -> None:
    # Area to FPR 0.3: [0,0.1] flat at 0.375 -> 0.0375; [0.1,0.2] from 0.5 to 0.875 -> 0.1*0.6875 = 0.06875;
    # vertical rise at 0.2 adds nothing; [0.2,0.3] flat at 1 -> 0.1. Sum 0.20625 / 0.3 = 0.6875.
    masks, maps = two_image_example()
    assert aupro(masks, maps) == pytest.approx(0.6875, abs=1e-9)


def test_aupro_hand_example_interpolates_inside_a_diagonal() -> None:
    # Limit 0.15 cuts the tie diagonal (0.1,0.5)-(0.2,0.875): PRO(0.15) = 0.6875.
    # Area: 0.1*0.375 + 0.05*(0.5+0.6875)/2 = 0.0375 + 0.0296875 = 0.0671875; / 0.15 = 43/96.
    masks, maps = two_image_example()
    assert aupro(masks, maps, fpr_limit=0.15) == pytest.approx(43 / 96, abs=1e-9)


def test_aupro_uses_8_connectivity() -> None:
    # Defect pixels (0,0) and (1,1),(1,2) touch only diagonally: one region of 3 px (8-conn).
    # Only (0,0) scores above the good pixels, so PRO = 1/3 until FPR 1 -> AUPRO = 1/3.
    # (With 4-connectivity it would be two regions, mean(1, 0) = 0.5.)
    mask = np.zeros((3, 3), bool)
    mask[0, 0] = mask[1, 1] = mask[1, 2] = True
    amap = np.full((3, 3), 0.5)
    amap[0, 0], amap[1, 1], amap[1, 2] = 1.0, 0.0, 0.0
    assert aupro([mask], [amap]) == pytest.approx(1 / 3, abs=1e-9)


def test_aupro_perfect_inverted_constant() -> None:
    masks, _ = two_image_example()
    masks = masks + [np.zeros((3, 5), bool)]  # an image with no defect only adds good pixels
    perfect = [m.astype(float) for m in masks]
    assert aupro(masks, perfect) == pytest.approx(1.0, abs=1e-9)
    inverted = [1.0 - p for p in perfect]
    assert aupro(masks, inverted) == pytest.approx(0.0, abs=1e-9)
    # All scores tied: the curve is one diagonal (0,0)-(1,1); area to 0.3 is 0.045 -> 0.15.
    constant = [np.zeros(m.shape) for m in masks]
    assert aupro(masks, constant) == pytest.approx(0.15, abs=1e-9)


def test_pixel_metrics_none_without_defects() -> None:
    masks = [np.zeros((4, 4), bool), np.zeros((2, 3), bool)]
    maps = [np.random.rand(4, 4), np.random.rand(2, 3)]
    assert aupro(masks, maps) is None
    assert pixel_auroc(masks, maps) is None


def test_pixel_metrics_reject_malformed_input() -> None:
    mask = np.zeros((4, 4), bool)
    for metric in (aupro, pixel_auroc):
        with pytest.raises(ValueError, match="shape"):
            metric([mask], [np.zeros((4, 5))])
        with pytest.raises(ValueError, match="1 masks but 2"):
            metric([mask], [np.zeros((4, 4))] * 2)
        with pytest.raises(ValueError, match="NaN"):
            metric([mask], [np.full((4, 4), np.nan)])
    with pytest.raises(ValueError, match="fpr_limit"):
        aupro([mask], [np.zeros((4, 4))], fpr_limit=0.0)


def slow_aupro(masks: list[np.ndarray], maps: list[np.ndarray], fpr_limit: float) -> float:
    """Textbook AUPRO: one full pass per distinct threshold, regions from scipy (not cv2)."""
    eight = np.ones((3, 3), int)
    regions = []  # score arrays, one per connected defect region
    for mask, amap in zip(masks, maps):
        labels, n = ndimage.label(mask, structure=eight)
        regions += [amap[labels == k] for k in range(1, n + 1)]
    good = np.concatenate([amap[~mask] for mask, amap in zip(masks, maps)])
    all_scores = np.concatenate([amap.ravel() for amap in maps])
    fpr, pro = [0.0], [0.0]
    for t in np.unique(all_scores)[::-1]:
        fpr.append(np.mean(good >= t))
        pro.append(np.mean([np.mean(r >= t) for r in regions]))
    fpr, pro = np.array(fpr), np.array(pro)
    beyond = np.flatnonzero(fpr > fpr_limit)
    if beyond.size:
        i = beyond[0]
        y_lim = pro[i - 1] + (pro[i] - pro[i - 1]) * (fpr_limit - fpr[i - 1]) / (fpr[i] - fpr[i - 1])
        fpr, pro = np.append(fpr[:i], fpr_limit), np.append(pro[:i], y_lim)
    return float(np.trapezoid(pro, fpr) / fpr_limit)


def random_blob_set(seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Images of mixed sizes with blobby defects and maps quantised to 20 levels (many ties)."""
    rng = np.random.default_rng(seed)
    masks, maps = [], []
    for i in range(6):
        h, w = rng.integers(8, 24, size=2)
        noise = ndimage.gaussian_filter(rng.normal(size=(h, w)), 1.5)
        mask = noise > np.quantile(noise, 0.85) if i % 3 else np.zeros((h, w), bool)
        raw = 0.6 * mask + rng.random((h, w))
        maps.append((np.floor(raw / raw.max() * 19) / 19).astype(np.float32))
        masks.append(mask)
    return masks, maps


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("fpr_limit", [0.3, 0.05, 1.0])
def test_aupro_matches_slow_reference(seed: int, fpr_limit: float) -> None:
    masks, maps = random_blob_set(seed)
    assert aupro(masks, maps, fpr_limit) == pytest.approx(slow_aupro(masks, maps, fpr_limit), abs=1e-6)


def test_pixel_auroc_equals_sklearn_on_tied_random_maps():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(7)
    masks = [rng.random((20, 30)) < 0.2 for _ in range(5)]
    maps = [np.round(rng.random((20, 30)) * 10 + m * 2) for m in masks]  # ties on purpose
    expected = roc_auc_score(np.concatenate([m.ravel() for m in masks]), np.concatenate([a.ravel() for a in maps]))
    assert pixel_auroc(masks, maps) == pytest.approx(expected, abs=1e-12)
