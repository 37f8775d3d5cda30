"""Shared fixtures: the real datasets (read-only) found through GOLDENSHOT_DATASETS."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATASETS = Path(os.environ.get("GOLDENSHOT_DATASETS", Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"))


@pytest.fixture(scope="session")
def datasets() -> Path:
    """Root of the shared datasets; the suite needs them, so their absence is an error."""
    if not DATASETS.is_dir():
        raise FileNotFoundError(f"datasets not found at {DATASETS} (set GOLDENSHOT_DATASETS)")
    return DATASETS


@pytest.fixture(scope="session")
def tile_root(datasets: Path) -> Path:
    return datasets / "mtd" / "magnetic_tile"


@pytest.fixture(scope="session")
def screw_root(datasets: Path) -> Path:
    return datasets / "bsdata" / "ball_screw"
