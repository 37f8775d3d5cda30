"""A product's MQTT sink and its cursor into the inspections table, which is the sink's outbox.

Every result is already stored in `inspections` (ordered by seq) in the transaction that keeps it,
so a cursor per product is a durable, ordered queue without a second write per inspection: results
scored while the broker is down wait there, and the cursor moves only after the broker's PUBACK.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Engine, func, select

from services.core.models import Inspection, MqttSink
from services.core.tables import inspections, mqtt_sinks, now_iso


class MqttSinkRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def set(self, product_id: str, topic: str, events: str) -> MqttSink:
        """One sink per product; a new one starts after the newest stored result, a changed one keeps its cursor."""
        with self.engine.begin() as conn:
            old = conn.execute(select(mqtt_sinks.c.cursor).where(mqtt_sinks.c.product_id == product_id)).scalar_one_or_none()
            if old is None:
                newest = conn.execute(select(func.max(inspections.c.seq)).where(inspections.c.product_id == product_id)).scalar_one()
                conn.execute(mqtt_sinks.insert().values(product_id=product_id, topic=topic, events=events, cursor=newest or 0, created_at=now_iso()))
            else:
                conn.execute(mqtt_sinks.update().where(mqtt_sinks.c.product_id == product_id).values(topic=topic, events=events))
        return self.get(product_id)

    def get(self, product_id: str) -> MqttSink | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(mqtt_sinks).where(mqtt_sinks.c.product_id == product_id)).first()
        return None if row is None else MqttSink.model_validate(row._mapping)

    def all(self) -> list[MqttSink]:
        with self.engine.connect() as conn:
            return [MqttSink.model_validate(r._mapping) for r in conn.execute(select(mqtt_sinks))]

    def delete(self, product_id: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(mqtt_sinks.delete().where(mqtt_sinks.c.product_id == product_id)).rowcount > 0

    def pending(self, sink: MqttSink, limit: int) -> list[Inspection]:
        """The product's results after the cursor, oldest first (only ANOMALOUS ones for events=anomalous)."""
        query = select(inspections).where(*_waiting(sink))
        with self.engine.connect() as conn:
            return [Inspection.model_validate(r._mapping) for r in conn.execute(query.order_by(inspections.c.seq).limit(limit))]

    def backlog(self, sink: MqttSink) -> int:
        """Results waiting to be published."""
        query = select(func.count()).select_from(inspections).where(*_waiting(sink))
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def advance(self, product_id: str, seq: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(mqtt_sinks.update().where(mqtt_sinks.c.product_id == product_id, mqtt_sinks.c.cursor < seq).values(cursor=seq))


def _waiting(sink: MqttSink) -> list[ColumnElement[bool]]:
    """The product's results after the cursor that the sink publishes."""
    conditions = [inspections.c.product_id == sink.product_id, inspections.c.seq > sink.cursor]
    if sink.events == "anomalous":
        conditions.append(inspections.c.decision == "ANOMALOUS")
    return conditions
