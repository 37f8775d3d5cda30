"""Shared fixtures: the real datasets (read-only) found through GOLDENSHOT_DATASETS."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
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


POSTGRES_ADMIN = os.environ.get("GOLDENSHOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    """A fresh database on the PostgreSQL server at 127.0.0.1:5432 (the fleet's catalog), dropped after the test."""
    import psycopg

    name = f"goldenshot_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
