"""The one Scorer interface the use cases score through: in this process (services/scorer/scorer.py)
or in the scorer service over gRPC (services/scorer/client.py)."""

from __future__ import annotations

from typing import Protocol

from services.core.models import Inspection, Product


class Scorer(Protocol):
    def ready(self, product: Product) -> int:
        """The version that will score the product's next inspection; Conflict `no_fingerprint` without one."""

    def inspect(self, product: Product, data: bytes, filename: str, *, credentials: str | None = None) -> Inspection:
        """Decode, score and store one image; the stored inspection. credentials: the caller's API key,
        which a remote scorer checks again."""

    def forget(self, product_id: str) -> None:
        """Drop whatever is cached for a deleted product."""
