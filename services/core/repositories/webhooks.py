"""A product's webhook, and the outbox of deliveries that several senders (scorer replicas) share."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, func, select

from services.core.models import Delivery, Webhook
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
        """Products with a delivery due by `now`, the most overdue first: one row each, so a product with
        thousands queued does not hide the others."""
        query = (
            select(deliveries.c.product_id)
            .where(deliveries.c.delivered.is_(False), deliveries.c.failed.is_(False), deliveries.c.next_at <= now)
            .group_by(deliveries.c.product_id)
            .order_by(func.min(deliveries.c.next_at))
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def first_due(self, product_id: str, now: float) -> Delivery | None:
        """The product's most overdue delivery (None when another sender took it meanwhile)."""
        query = select(deliveries).where(
            deliveries.c.product_id == product_id, deliveries.c.delivered.is_(False), deliveries.c.failed.is_(False), deliveries.c.next_at <= now
        )
        with self.engine.connect() as conn:
            row = conn.execute(query.order_by(deliveries.c.next_at, deliveries.c.seq).limit(1)).first()
        return None if row is None else Delivery.model_validate(row._mapping)

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
        """When the next pending delivery is due; None with none pending."""
        query = select(func.min(deliveries.c.next_at)).where(deliveries.c.delivered.is_(False), deliveries.c.failed.is_(False))
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def update(self, seq: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(deliveries.update().where(deliveries.c.seq == seq).values(**values))

    def list(self, product_id: str) -> list[Delivery]:
        """Oldest first."""
        with self.engine.connect() as conn:
            return [Delivery.model_validate(r._mapping) for r in conn.execute(select(deliveries).where(deliveries.c.product_id == product_id).order_by(deliveries.c.seq))]


def queued(delivery: dict[str, Any]) -> dict[str, Any]:
    """An outbox row due now: product_id, inspection_id, url, secret and body, plus its delivery state."""
    return {**delivery, "attempts": 0, "next_at": time.time(), "delivered": False, "failed": False}
