"""Labels on inspections (one per inspection), kept beside the inspections table rather than in it."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from services.core.models import Label, ScorePoint
from services.core.tables import inspections, labels


class LabelRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def set(self, label: Label) -> None:
        """Replace the inspection's label; its legacy `feedback` column follows (false_alarm or none), so
        clients of the older feedback field see the same verdict."""
        with self.engine.begin() as conn:
            conn.execute(labels.delete().where(labels.c.inspection_id == label.inspection_id))
            conn.execute(labels.insert().values(**label.model_dump()))
            feedback = "false_alarm" if label.label == "false_alarm" else None
            conn.execute(inspections.update().where(inspections.c.id == label.inspection_id).values(feedback=feedback))

    def clear(self, inspection_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(labels.delete().where(labels.c.inspection_id == inspection_id))
            conn.execute(inspections.update().where(inspections.c.id == inspection_id).values(feedback=None))

    def get(self, inspection_id: str) -> Label | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(labels).where(labels.c.inspection_id == inspection_id)).first()
        return None if row is None else Label.model_validate(row._mapping)

    def many(self, inspection_ids: list[str]) -> dict[str, Label]:
        """By inspection id, those labelled among `inspection_ids` (a page of results)."""
        if not inspection_ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(labels).where(labels.c.inspection_id.in_(inspection_ids)))
            return {r.inspection_id: Label.model_validate(r._mapping) for r in rows}

    def counts(self, product_id: str) -> dict[str, int]:
        """Labels of the product's inspections, per label."""
        query = select(labels.c.label, func.count()).where(labels.c.product_id == product_id).group_by(labels.c.label)
        with self.engine.connect() as conn:
            return dict(conn.execute(query).all())

    def scores(self, product_id: str, versions: list[int], limit: int) -> list[ScorePoint]:
        """The newest `limit` inspections scored by any of `versions`, with their labels (tuning)."""
        query = (
            select(inspections.c.id.label("inspection_id"), inspections.c.version, inspections.c.score, inspections.c.decision, labels.c.label, inspections.c.created_at)
            .select_from(inspections.outerjoin(labels, labels.c.inspection_id == inspections.c.id))
            .where(inspections.c.product_id == product_id, inspections.c.version.in_(versions))
            .order_by(inspections.c.seq.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [ScorePoint.model_validate(r._mapping) for r in conn.execute(query)]
