"""Every GOLDENSHOT_* variable the chart and the Dockerfiles set is one the services read."""

from __future__ import annotations

import re
from pathlib import Path

from goldenshot.settings import Settings
from services.common.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]


def _known() -> set[str]:
    server = {f"GOLDENSHOT_SERVER_{name.upper()}" for name in ServiceSettings.model_fields}
    engine = {f"GOLDENSHOT_{name.upper()}" for name in Settings.model_fields}
    nested = {
        f"GOLDENSHOT_{group.upper()}__{field.upper()}"
        for group, info in Settings.model_fields.items()
        if hasattr(info.annotation, "model_fields")
        for field in info.annotation.model_fields
    }
    return server | engine | nested


def test_deployment_sets_only_settings_that_exist():
    files = [p for d in ("deploy", "docker") for p in (ROOT / d).rglob("*") if p.is_file() and p.suffix in (".yaml", ".tpl", ".Dockerfile", ".json", "")]
    used = {m for p in files for m in re.findall(r"GOLDENSHOT_[A-Z0-9_]*[A-Z0-9]\b", p.read_text(errors="ignore"))}
    used -= {"GOLDENSHOT_SERVER"}  # a prefix in templates that build names
    assert len(used) > 10
    assert sorted(used - _known()) == []
