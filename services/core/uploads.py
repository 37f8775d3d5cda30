"""An uploaded file as the use cases see it, whatever transport brought it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Upload:
    filename: str  # display only (services.common.names.display_name), never a path
    data: bytes
