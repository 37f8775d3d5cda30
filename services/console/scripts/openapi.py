"""Print the REST API's OpenAPI document (JSON) from the app itself, without starting a server.

    PYTHONPATH=. .venv/bin/python services/console/scripts/openapi.py > openapi.json

`make console-types` turns it into src/api/schema.d.ts; `make console-types-check` fails when they differ.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from goldenshot.settings import Settings
from services.common.settings import ServiceSettings
from services.ingest.app import create_app
from services.runtime import Runtime


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="goldenshot-openapi-") as tmp:
        runtime = Runtime(ServiceSettings(data_dir=Path(tmp)), Settings())
        try:
            spec = create_app(runtime).openapi()
        finally:
            runtime.close()
    json.dump(spec, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
