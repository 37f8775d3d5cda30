"""No code path may unpickle: a pickled file runs code when loaded (SECURITY.md, "No code from data")."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = [
    (re.compile(r"^\s*(import pickle|from pickle|import cPickle|import dill|import joblib)"), "a pickle module"),
    (re.compile(r"torch\.load\((?![^)]*weights_only=True)"), "torch.load without weights_only=True"),
    (re.compile(r"allow_pickle\s*=\s*True"), "numpy allow_pickle=True"),
    (re.compile(r"\.load\([^)]*pickle"), "a pickle load"),
]


def test_no_unpickling_in_the_library_or_the_services():
    sources = [p for d in ("goldenshot", "services") for p in (ROOT / d).rglob("*.py") if "proto" not in p.parts]
    assert len(sources) > 30
    found = [
        f"{path.relative_to(ROOT)}:{n}: {why}"
        for path in sources
        for n, line in enumerate(path.read_text().splitlines(), 1)
        for pattern, why in FORBIDDEN
        if pattern.search(line)
    ]
    assert found == []
