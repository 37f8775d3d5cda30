"""A product's sources (watched folders, streams): what the server starts again after a restart."""

from __future__ import annotations

from sqlalchemy import Engine, select

from services.core.models import Source
from services.core.tables import now_iso, sources


class SourceRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, source_id: str, product_id: str, kind: str, target: str, fps: float, sort: bool, triggered: bool = False) -> Source:
        values = dict(id=source_id, product_id=product_id, kind=kind, target=target, fps=fps, sort=sort, enabled=True, created_at=now_iso(), triggered=triggered)
        with self.engine.begin() as conn:
            conn.execute(sources.insert().values(**values))
        return Source.model_validate(values)

    def list(self, product_id: str | None = None) -> list[Source]:
        """Oldest first; every product's without product_id."""
        query = select(sources).order_by(sources.c.created_at)
        if product_id is not None:
            query = query.where(sources.c.product_id == product_id)
        with self.engine.connect() as conn:
            return [Source.model_validate(r._mapping) for r in conn.execute(query)]

    def get(self, product_id: str, source_id: str) -> Source | None:
        query = select(sources).where(sources.c.product_id == product_id, sources.c.id == source_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else Source.model_validate(row._mapping)

    def set_enabled(self, source_id: str, enabled: bool) -> None:
        with self.engine.begin() as conn:
            conn.execute(sources.update().where(sources.c.id == source_id).values(enabled=enabled))

    def delete(self, source_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sources.delete().where(sources.c.id == source_id))
