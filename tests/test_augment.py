"""Support-set augmentation: determinism, each switch, each bound, value range."""

from __future__ import annotations

import math

import pytest
import torch

from goldenshot.augment import augment, augmented_copies, moved_labels
from goldenshot.settings import AugmentSettings

# Non-square on purpose: aspect bugs in the warp show up only there.
H, W = 24, 40
SEEDS = range(24)
# Pixel row/column coordinates, for centroids and principal axes.
YS, XS = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32), indexing="ij")
OFF = dict(grayscale=False, hflip=False, vflip=False, translate=0.0, rotate=0.0, brightness=0.0, contrast=0.0)


def only(**on: float | bool) -> AugmentSettings:
    """Settings with every transform off except the given ones."""
    return AugmentSettings(**{**OFF, **on})


@pytest.fixture
def image() -> torch.Tensor:
    return torch.rand(3, H, W, generator=torch.Generator().manual_seed(7))


def outputs(image: torch.Tensor, settings: AugmentSettings) -> list[torch.Tensor]:
    return [augment(image, settings, torch.Generator().manual_seed(s)) for s in SEEDS]


def test_copies_deterministic_per_seed_and_different_across_seeds(image: torch.Tensor) -> None:
    settings = AugmentSettings(copies=4)
    first, again, other = (augmented_copies(image, settings, s) for s in (3, 3, 4))
    assert len(first) == 5 and first[0] is image
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(first[1:], other[1:], strict=True))
    # Copies of one call differ from each other: the generator advances.
    assert not torch.equal(first[1], first[2])


@pytest.mark.parametrize("settings", [AugmentSettings(enabled=False), AugmentSettings(copies=0)])
def test_disabled_gives_only_the_original(image: torch.Tensor, settings: AugmentSettings) -> None:
    assert augmented_copies(image, settings, 0) == [image]


@pytest.mark.parametrize("geometry", [dict(hflip=True, vflip=True), dict(hflip=True, vflip=True, rotate=30.0, translate=0.2)])
def test_labels_move_with_the_pixels_of_every_view(geometry: dict) -> None:
    """Each view's label map says which region each of its pixels shows, flipped, turned and shifted as
    the view was: pixels whose value encodes their region must match their moved label."""
    labels = (YS >= H // 2).long() * 2 + (XS >= W // 2).long()
    image = (labels.float() / 3).expand(3, H, W).contiguous()
    settings = only(**geometry).model_copy(update={"copies": 6})
    views, moved = augmented_copies(image, settings, 5), moved_labels(labels, settings, 5)
    assert len(moved) == len(views) == 7 and moved[0] is labels
    assert any(not torch.equal(m, labels) for m in moved[1:])
    for view, label in zip(views, moved, strict=True):
        agree = (view[0] * 3).round().long() == label
        assert (agree.all() if "rotate" not in geometry else agree.float().mean() > 0.9), agree.float().mean()


def test_range_shape_dtype_under_extreme_settings(image: torch.Tensor) -> None:
    extreme = AugmentSettings(translate=0.25, rotate=180.0, brightness=0.5, contrast=0.5)
    for out in outputs(image, extreme):
        assert out.shape == image.shape and out.dtype == image.dtype
        assert out.min() >= 0.0 and out.max() <= 1.0


def test_uses_only_the_given_generator(image: torch.Tensor) -> None:
    state = torch.get_rng_state()
    augment(image, AugmentSettings(), torch.Generator().manual_seed(0))
    assert torch.equal(torch.get_rng_state(), state)


def test_all_off_is_identity(image: torch.Tensor) -> None:
    assert all(torch.equal(out, image) for out in outputs(image, only()))


def test_rotate_and_translate_zero_leave_geometry_unchanged() -> None:
    # Photometric transforms on, warps off: a gradient image keeps its exact spatial ordering.
    ramp = torch.linspace(0.2, 0.7, W).expand(3, H, W).contiguous()
    for out in outputs(ramp, only(brightness=0.3, contrast=0.3)):
        assert torch.all(out[:, :, 1:] > out[:, :, :-1])


@pytest.mark.parametrize(("switch", "dim"), [("hflip", -1), ("vflip", -2)])
def test_flip_only_gives_image_or_exact_mirror(image: torch.Tensor, switch: str, dim: int) -> None:
    flipped = 0
    for out in outputs(image, only(**{switch: True})):
        if not torch.equal(out, image):
            assert torch.equal(out, image.flip(dim))
            flipped += 1
    assert 0 < flipped < len(SEEDS)  # p = 0.5: both outcomes occur over 24 seeds


def test_grayscale_only_gives_image_or_its_luminance(image: torch.Tensor) -> None:
    luma = (0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2]).expand(3, H, W)
    gray = 0
    for out in outputs(image, only(grayscale=True)):
        if torch.equal(out, image):
            continue
        torch.testing.assert_close(out, luma)
        gray += 1
    assert 0 < gray < len(SEEDS)


def test_brightness_only_is_a_bounded_scalar_multiple() -> None:
    image = 0.1 + 0.5 * torch.rand(3, H, W, generator=torch.Generator().manual_seed(1))  # no clipping
    factors = []
    for out in outputs(image, only(brightness=0.3)):
        k = float(out.sum() / image.sum())
        torch.testing.assert_close(out, k * image)
        assert 0.7 - 1e-6 <= k <= 1.3 + 1e-6
        factors.append(k)
    assert max(factors) - min(factors) > 0.2  # the factor actually varies


def test_contrast_only_is_a_bounded_blend_with_the_mean() -> None:
    image = 0.3 + 0.4 * torch.rand(3, H, W, generator=torch.Generator().manual_seed(2))  # no clipping
    mean = (0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2]).mean()
    for out in outputs(image, only(contrast=0.2)):
        # out = mean + k * (image - mean) with one k for all pixels and channels.
        k = float(((out - mean) * (image - mean)).sum() / ((image - mean) ** 2).sum())
        torch.testing.assert_close(out, mean + k * (image - mean))
        assert 0.8 - 1e-6 <= k <= 1.2 + 1e-6


def _centroid(image: torch.Tensor) -> tuple[float, float]:
    mass = image[0]
    return float((mass * XS).sum() / mass.sum()), float((mass * YS).sum() / mass.sum())


def test_translation_is_bounded_and_happens() -> None:
    spot = torch.zeros(3, H, W)
    spot[:, H // 2 - 2 : H // 2 + 2, W // 2 - 2 : W // 2 + 2] = 1.0
    cx, cy = _centroid(spot)
    shifts = []
    for out in outputs(spot, only(translate=0.1)):
        x, y = _centroid(out)
        assert abs(x - cx) <= 0.1 * W + 1e-3 and abs(y - cy) <= 0.1 * H + 1e-3
        shifts.append(max(abs(x - cx) / W, abs(y - cy) / H))
    assert max(shifts) > 0.05


def _bar_angle(image: torch.Tensor) -> float:
    """Orientation (degrees, in pixel space) of the principal axis of a bright bar."""
    mass = image[0] / image[0].sum()
    mx, my = (mass * XS).sum(), (mass * YS).sum()
    cxx = (mass * (XS - mx) ** 2).sum()
    cyy = (mass * (YS - my) ** 2).sum()
    cxy = (mass * (XS - mx) * (YS - my)).sum()
    return math.degrees(0.5 * math.atan2(2 * cxy, cxx - cyy))


def test_rotation_is_bounded_and_keeps_aspect() -> None:
    wide, tall = torch.zeros(3, H, W), torch.zeros(3, H, W)
    wide[:, H // 2 - 1 : H // 2 + 1, W // 2 - 10 : W // 2 + 10] = 1.0
    tall[:, H // 2 - 8 : H // 2 + 8, W // 2 - 1 : W // 2 + 1] = 1.0
    settings = only(rotate=10.0)
    tilts = []
    for out_wide, out_tall in zip(outputs(wide, settings), outputs(tall, settings), strict=True):
        tilt = _bar_angle(out_wide)
        # Same seed, same angle: a horizontal and a vertical bar turn alike. Mixing up W and H in
        # the warp would shear instead, turning them by H/W and W/H times the angle.
        tall_tilt = _bar_angle(out_tall)
        assert abs(tall_tilt - math.copysign(90.0, tall_tilt) - tilt) < 1.0
        assert abs(tilt) <= 10.0 + 0.5
        tilts.append(abs(tilt))
    assert max(tilts) > 5.0


def test_reflection_padding_leaves_no_black_borders() -> None:
    flat = torch.full((3, H, W), 0.6)
    for out in outputs(flat, only(translate=0.25, rotate=45.0)):
        torch.testing.assert_close(out, flat)


@pytest.mark.parametrize("bad", [torch.rand(H, W), torch.rand(1, H, W), torch.zeros(3, H, W, dtype=torch.uint8)])
def test_rejects_non_rgb_float_input(bad: torch.Tensor) -> None:
    with pytest.raises(ValueError):
        augment(bad, AugmentSettings(), torch.Generator())
