"""Synthetic defects: inside the asked area, reproducible, visible, in range."""

from __future__ import annotations

import pytest
import torch

from goldenshot.synthetic import DEFECTS, synthesize


def _image() -> torch.Tensor:
    ramp = torch.linspace(0.2, 0.8, 96)
    return torch.stack([ramp.expand(96, 96)] * 3).contiguous()


@pytest.mark.parametrize("kind", sorted(DEFECTS))
def test_each_kind_changes_pixels_only_inside_its_area(kind: str) -> None:
    image = _image()
    area = (slice(0, 48), slice(48, 96))  # top-right quadrant
    for seed in range(5):
        (damaged,) = synthesize(image, (kind,), 1, seed=seed, area=area)
        changed = (damaged - image).abs().amax(0) > 1e-4
        assert changed.any() and 0.0 <= float(damaged.min()) and float(damaged.max()) <= 1.0
        rows, cols = changed.nonzero(as_tuple=True)
        if kind != "cut_paste":  # a pasted square may overhang its centre's quadrant by half its side
            assert rows.max() < 60 and cols.min() >= 36


def test_same_seed_same_defects_and_kinds_cycle() -> None:
    image = _image()
    a = synthesize(image, ("blotch", "scratch"), 4, seed=3)
    b = synthesize(image, ("blotch", "scratch"), 4, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a, b)) and len(a) == 4
    assert not torch.equal(a[0], synthesize(image, ("blotch", "scratch"), 4, seed=4)[0])


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="valid"):
        synthesize(_image(), ("smudge",), 1, seed=0)
