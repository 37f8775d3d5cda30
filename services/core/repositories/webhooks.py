"""A product's webhook, and the outbox of deliveries that several senders (scorer replicas) share."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, func, select

from services.core.models import Delivery, DeliveryState, Webhook
from services.core.tables import deliveries, now_iso, webhooks


class WebhookRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def set(self, product_id: str, url: str, secret: str, events: str) -> Webhook:
        """One webhook per product: a new one replaces the old."""
        with self.engine.begin() as conn:
            conn.execute(webhooks.delete().where(webhooks.c.product_id == product_id))
            conn.execute(webhooks.insert().values(product_id=product_id, url=url, secret=secret, events=events, created_at=now_iso()))
        return self.get(product_id)

    def get(self, product_id: str) -> Webhook | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(webhooks).where(webhooks.c.product_id == product_id)).first()
        return None if row is None else Webhook.model_validate(row._mapping)

    def delete(self, product_id: str) -> bool:
        """False when the product had none. Its queued deliveries are dropped with it."""
        with self.engine.begin() as conn:
            pending = (deliveries.c.product_id == product_id) & deliveries.c.delivered.is_(False) & deliveries.c.failed.is_(False)
            conn.execute(deliveries.update().where(pending).values(failed=True, last_error="the webhook was deleted"))
            return conn.execute(webhooks.delete().where(webhooks.c.product_id == product_id)).rowcount > 0


class DeliveryRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def enqueue(self, delivery: dict[str, Any]) -> None:
        """Queue one delivery on its own; an inspection's is written with it (InspectionRepository.add)."""
        with self.engine.begin() as conn:
            conn.execute(deliveries.insert().values(**queued(delivery)))

    def due(self, now: float, limit: int = 20) -> list[Delivery]:
        """Not delivered, not given up, due by `now`; the most overdue first."""
        query = select(deliveries).where(deliveries.c.delivered.is_(False), deliveries.c.failed.is_(False), deliveries.c.next_at <= now)
        with self.engine.connect() as conn:
            return [Delivery.model_validate(r._mapping) for r in conn.execute(query.order_by(deliveries.c.next_at).limit(limit))]

    def due_products(self, now: float, limit: int = 200) -> list[str]:
        """Products whose oldest pending delivery is due by `now`, the most overdue first: one row each,
        so a product with thousands queued does not hide the others."""
        query = select(deliveries.c.product_id).where(deliveries.c.seq.in_(_heads()), deliveries.c.next_at <= now).order_by(deliveries.c.next_at).limit(limit)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def first_due(self, product_id: str, now: float) -> Delivery | None:
        """The product's oldest pending delivery when it is due; None while it waits (backoff, or leased by
        another sender): the ones behind it wait too, so a receiver gets a product's results in order."""
        query = select(deliveries).where(deliveries.c.product_id == product_id, _PENDING).order_by(deliveries.c.seq).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None or row.next_at > now else Delivery.model_validate(row._mapping)

    def forget_secrets(self) -> None:
        """Blank the secrets older rows copied: deliveries sign with the webhook's current secret."""
        with self.engine.begin() as conn:
            conn.execute(deliveries.update().where(deliveries.c.secret != "").values(secret=""))

    def claim(self, delivery: Delivery, lease_s: float) -> bool:
        """Take a due delivery for lease_s seconds; False if another sender (replica) took it first."""
        with self.engine.begin() as conn:
            taken = conn.execute(
                deliveries.update()
                .where(deliveries.c.seq == delivery.seq, deliveries.c.next_at == delivery.next_at)
                .values(next_at=time.time() + lease_s)
            )
        return taken.rowcount == 1

    def next_at(self) -> float | None:
        """When the next product's oldest pending delivery is due (the only row a sender may take); None with
        none pending. Rows queued behind a head in flight are due already, but wait for it: counting them
        made the sender loop spin on a core while one slow receiver held a product's head (issue 20)."""
        query = select(func.min(deliveries.c.next_at)).where(deliveries.c.seq.in_(_heads()))
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def update(self, seq: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(deliveries.update().where(deliveries.c.seq == seq).values(**values))

    def list(self, product_id: str) -> list[Delivery]:
        """Oldest first."""
        with self.engine.connect() as conn:
            return [Delivery.model_validate(r._mapping) for r in conn.execute(select(deliveries).where(deliveries.c.product_id == product_id).order_by(deliveries.c.seq))]

    def page(self, product_id: str, state: DeliveryState | None, limit: int, after: str | None) -> list[Delivery]:
        """Newest first, those older than the delivery of inspection `after` (the previous page's last):
        a cursor that new deliveries do not shift and that tells nothing of other products."""
        query = select(deliveries).where(deliveries.c.product_id == product_id)
        if state is not None:
            query = query.where(_STATES[state])
        if after is not None:
            mark = select(deliveries.c.seq).where(deliveries.c.product_id == product_id, deliveries.c.inspection_id == after).scalar_subquery()
            query = query.where(deliveries.c.seq < mark)
        with self.engine.connect() as conn:
            return [Delivery.model_validate(r._mapping) for r in conn.execute(query.order_by(deliveries.c.seq.desc()).limit(limit))]

    def replay(self, product_id: str, inspection_id: str | None = None) -> int:
        """Queue again, due now with no attempts behind it, the product's delivery of one inspection
        (delivered or failed) or, with None, every failed one; how many were queued. Each keeps its place
        in the product's order."""
        query = deliveries.update().where(deliveries.c.product_id == product_id)
        query = query.where(deliveries.c.inspection_id == inspection_id) if inspection_id is not None else query.where(deliveries.c.failed.is_(True))
        with self.engine.begin() as conn:
            return conn.execute(query.values(delivered=False, failed=False, attempts=0, next_at=time.time(), last_error=None)).rowcount


_PENDING = deliveries.c.delivered.is_(False) & deliveries.c.failed.is_(False)
_STATES = {"pending": _PENDING, "delivered": deliveries.c.delivered.is_(True), "failed": deliveries.c.failed.is_(True)}


def _heads() -> Any:
    """Each product's oldest pending delivery (seq): a product's results go out in order, one at a time."""
    return select(func.min(deliveries.c.seq)).where(_PENDING).group_by(deliveries.c.product_id).scalar_subquery()


def queued(delivery: dict[str, Any]) -> dict[str, Any]:
    """An outbox row due now: product_id, inspection_id, url, secret and body, plus its delivery state."""
    return {**delivery, "attempts": 0, "next_at": time.time(), "delivered": False, "failed": False}
