"""Use cases on a product's MQTT sink: set (with a checked topic template), read, remove.

A topic template may use {tenant}, {product} and {decision}; it is refused when it could subscribe
instead of name one topic (wildcards + and #), reach the broker's own $SYS tree, hold NUL or control
characters, or be longer than the broker should be asked to carry.
"""

from __future__ import annotations

import string
from typing import Literal

from services.common.catalog import Catalog
from services.core.errors import InvalidRequest, NotFound
from services.core.models import MqttSink, Product

MAX_TOPIC_BYTES = 256
_FIELDS = frozenset({"tenant", "product", "decision"})


def check_topic(topic: str) -> str:
    """The topic (or template) as given, or InvalidRequest saying what is wrong with it."""
    if not topic or len(topic.encode("utf-8")) > MAX_TOPIC_BYTES:
        raise InvalidRequest(f"topic must be 1 to {MAX_TOPIC_BYTES} bytes")
    if "+" in topic or "#" in topic:
        raise InvalidRequest("topic must not hold the MQTT wildcards + or #")
    if topic.startswith("$"):
        raise InvalidRequest("topic must not start with $ (the broker's own topics)")
    if not all(c.isprintable() for c in topic):
        raise InvalidRequest("topic must not hold NUL or control characters")
    return topic


def render(template: str, product: Product, decision: str) -> str:
    """The topic of one result; checked again, since the values come from names."""
    return check_topic(template.format(tenant=product.tenant, product=product.name, decision=decision))


def _check_template(template: str) -> str:
    check_topic(template)
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidRequest(f"topic template: {exc}") from None
    for _, name, spec, conversion in parts:
        if name is not None and (name not in _FIELDS or spec or conversion):
            raise InvalidRequest(f"topic template may use only {{tenant}}, {{product}} and {{decision}}, not {{{name}}}")
    return template


class MqttSinks:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def set(self, product: Product, topic: str, events: Literal["anomalous", "all"]) -> MqttSink:
        render(_check_template(topic), product, "ANOMALOUS")  # the longest decision still fits
        return self.catalog.mqtt.set(product.id, topic, events)

    def get(self, product: Product) -> MqttSink:
        sink = self.catalog.mqtt.get(product.id)
        if sink is None:
            raise NotFound(f"product '{product.name}' has no MQTT sink")
        return sink

    def pending(self, sink: MqttSink) -> int:
        return self.catalog.mqtt.backlog(sink)

    def delete(self, product: Product) -> None:
        if not self.catalog.mqtt.delete(product.id):
            raise NotFound(f"product '{product.name}' has no MQTT sink")
