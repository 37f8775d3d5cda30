"""Inspections, and the webhook delivery written in the same transaction (the outbox)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Engine, Select, exists, func, select
from sqlalchemy.exc import IntegrityError

from services.core.errors import NotFound
from services.core.models import Inspection, StoredImage
from services.core.repositories.webhooks import queued
from services.core.tables import deliveries, inspections, labels, stored_images


class InspectionRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, inspection: Inspection, delivery: dict | None = None, stored: StoredImage | None = None) -> None:
        """The inspection, its webhook delivery (the outbox row) and what it keeps in the object store in
        one transaction: a crash between them can neither lose the delivery nor send one for an inspection
        that was never stored, nor leave bytes the retention policy does not know of.
        Idempotent on the id: a batch item scored again after a restart is not stored (or sent) twice."""
        try:
            with self.engine.begin() as conn:
                conn.execute(inspections.insert().values(**inspection.model_dump(mode="json", exclude={"seq"})))
                if stored is not None:
                    conn.execute(stored_images.insert().values(**stored.model_dump()))
                if delivery is not None:
                    conn.execute(deliveries.insert().values(**queued(delivery)))
        except IntegrityError:
            if not self._exists(inspection.id):
                raise  # not the duplicate id: nothing was stored, and the caller must know

    def _exists(self, inspection_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(inspections.c.id).where(inspections.c.id == inspection_id)).first() is not None

    def get(self, product_id: str, inspection_id: str) -> Inspection:
        with self.engine.connect() as conn:
            row = conn.execute(select(inspections).where(inspections.c.product_id == product_id, inspections.c.id == inspection_id)).first()
        if row is None:
            raise NotFound(f"inspection '{inspection_id}' does not exist")
        return Inspection.model_validate(row._mapping)

    def many(self, product_id: str, ids: list[str]) -> list[Inspection]:
        """The product's inspections among `ids` (unknown ids left out), in no order."""
        if not ids:
            return []
        query = select(inspections).where(inspections.c.product_id == product_id, inspections.c.id.in_(ids))
        with self.engine.connect() as conn:
            return [Inspection.model_validate(r._mapping) for r in conn.execute(query)]

    def page(self, product_id: str, decision: str | None, batch_id: str | None, limit: int, before: int | None, label: str | None = None) -> list[Inspection]:
        """Newest first; `before` is the seq cursor of the previous page's last item; `label` keeps those
        labelled so."""
        query = self._filtered(product_id, decision, label)
        if batch_id is not None:
            query = query.where(inspections.c.batch_id == batch_id)
        if before is not None:
            query = query.where(inspections.c.seq < before)
        with self.engine.connect() as conn:
            return [Inspection.model_validate(r._mapping) for r in conn.execute(query.order_by(inspections.c.seq.desc()).limit(limit))]

    def _filtered(self, product_id: str, decision: str | None, label: str | None) -> Select:
        query = select(inspections).where(inspections.c.product_id == product_id)
        if decision is not None:
            query = query.where(inspections.c.decision == decision)
        if label is not None:
            query = query.where(exists().where(labels.c.inspection_id == inspections.c.id, labels.c.label == label))
        return query

    def between(self, product_id: str, since: str | None, until: str | None, decision: str | None, label: str | None, chunk: int) -> Iterator[list[Inspection]]:
        """Oldest first, `chunk` at a time (an export streams them without holding them all); `since`
        inclusive, `until` exclusive, both ISO 8601 prefixes compared as strings (created_at is UTC)."""
        query = self._filtered(product_id, decision, label)
        if since is not None:
            query = query.where(inspections.c.created_at >= since)
        if until is not None:
            query = query.where(inspections.c.created_at < until)
        after = 0
        while True:
            with self.engine.connect() as conn:
                rows = [Inspection.model_validate(r._mapping) for r in conn.execute(query.where(inspections.c.seq > after).order_by(inspections.c.seq).limit(chunk))]
            if not rows:
                return
            yield rows
            after = rows[-1].seq

    def max_score(self, product_id: str) -> float | None:
        """The highest score any inspection of the product has had (None before the first)."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(inspections.c.score)).where(inspections.c.product_id == product_id)).scalar_one()

    def position(self, product_id: str, seq: int) -> int:
        """How many of the product's inspections are as old as `seq` or older (1: its first)."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(inspections).where(inspections.c.product_id == product_id, inspections.c.seq <= seq)).scalar_one()

    def seq_at(self, product_id: str, position: int) -> int | None:
        """The seq of the product's `position`-th oldest inspection (0 below the first; None past the last)."""
        if position < 1:
            return 0
        query = select(inspections.c.seq).where(inspections.c.product_id == product_id).order_by(inspections.c.seq).offset(position - 1).limit(1)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none()

    def batch_done(self, batch_id: str) -> set[str]:
        """Ids of a batch's items already stored."""
        with self.engine.connect() as conn:
            return set(conn.execute(select(inspections.c.id).where(inspections.c.batch_id == batch_id)).scalars())

    def counts(self, product_ids: list[str]) -> dict[str, int]:
        """Inspections per product, in one query (a page of products)."""
        query = select(inspections.c.product_id, func.count()).where(inspections.c.product_id.in_(product_ids)).group_by(inspections.c.product_id)
        with self.engine.connect() as conn:
            return dict(conn.execute(query).all())

    def latest(self, product_ids: list[str]) -> dict[str, Inspection]:
        """Each product's newest inspection, in one query (a page of products)."""
        newest = select(func.max(inspections.c.seq)).where(inspections.c.product_id.in_(product_ids)).group_by(inspections.c.product_id).scalar_subquery()
        with self.engine.connect() as conn:
            return {r.product_id: Inspection.model_validate(r._mapping) for r in conn.execute(select(inspections).where(inspections.c.seq.in_(newest)))}

    def since(self, product_ids: list[str], since: str) -> dict[str, dict[str, int]]:
        """Decisions per product since `since` (ISO 8601, UTC), in one query: {"OK": n, "ANOMALOUS": m}."""
        query = (
            select(inspections.c.product_id, inspections.c.decision, func.count())
            .where(inspections.c.product_id.in_(product_ids), inspections.c.created_at >= since)
            .group_by(inspections.c.product_id, inspections.c.decision)
        )
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for product_id, decision, n in conn.execute(query):
                out.setdefault(product_id, {})[decision] = n
        return out

    def count(self, product_id: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(inspections).where(inspections.c.product_id == product_id)).scalar_one()

    def recent_scores(self, product_id: str, version: int, limit: int) -> list[float]:
        """The scores of the product's last `limit` inspections by `version`, newest first (drift)."""
        query = (
            select(inspections.c.score)
            .where(inspections.c.product_id == product_id, inspections.c.version == version)
            .order_by(inspections.c.seq.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def stats(self, product_id: str) -> dict:
        """Decisions per day, totals and false alarms (the analytics page)."""
        day = func.substr(inspections.c.created_at, 1, 10)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(day.label("day"), inspections.c.decision, func.count().label("n"))
                .where(inspections.c.product_id == product_id)
                .group_by(day, inspections.c.decision)
                .order_by(day)
            ).all()
            false_alarms = conn.execute(
                select(func.count()).select_from(inspections).where(inspections.c.product_id == product_id, inspections.c.feedback == "false_alarm")
            ).scalar_one()
        by_day: dict[str, dict] = {}
        for r in rows:
            by_day.setdefault(r.day, {"day": r.day, "ok": 0, "anomalous": 0})[r.decision.lower()] = r.n
        ok = sum(d["ok"] for d in by_day.values())
        anomalous = sum(d["anomalous"] for d in by_day.values())
        return {"total": ok + anomalous, "ok": ok, "anomalous": anomalous, "false_alarms": false_alarms, "by_day": list(by_day.values())}
