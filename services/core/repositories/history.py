"""A product's version history: which versions were activated by whom, and where unbuilt versions came from.

The rows are written by the transactions that change the product (ProductRepository.activate,
VersionRepository.add), so history and state never disagree; this repository reads them.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, select

from services.core.models import Activation, VersionOrigin
from services.core.tables import activations, now_iso, products, version_origins


def record_activation(conn: Connection, product_id: str, version: int, actor: str) -> None:
    """Inside the caller's transaction, before the product row changes: the previous version is read there.
    Activating the active version again (a build run again after a crash, a second click) changes nothing
    and is not history."""
    previous = conn.execute(select(products.c.active_version).where(products.c.id == product_id)).scalar_one_or_none()
    if previous == version:
        return
    conn.execute(activations.insert().values(product_id=product_id, version=version, previous_version=previous, actor=actor, created_at=now_iso()))


class HistoryRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def activations(self, product_id: str, limit: int) -> list[Activation]:
        """Newest first."""
        query = select(activations).where(activations.c.product_id == product_id).order_by(activations.c.seq.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [Activation.model_validate(r._mapping) for r in conn.execute(query)]

    def origins(self, product_id: str) -> dict[int, VersionOrigin]:
        """By version, the product's versions that were derived rather than built."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(version_origins).where(version_origins.c.product_id == product_id))
            return {r.version: VersionOrigin.model_validate(r._mapping) for r in rows}
