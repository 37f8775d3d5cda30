"""The MQTT sink's cursor over the inspections table (its outbox), on a real SQLite catalog."""

from __future__ import annotations

import pytest
from test_catalog import _inspection

from services.common.catalog import Catalog
from services.core.errors import InvalidRequest
from services.core.models import Product
from services.core.mqtt import MqttSinks


@pytest.fixture()
def catalog(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield catalog
    catalog.engine.dispose()


PRODUCT = Product(id="p", tenant="default", name="tile", description="", created_at="2026-12-02T00:00:00", active_version=1, next_version=2)


def test_a_sink_starts_after_stored_results_and_filters_and_keeps_its_cursor(catalog):
    catalog.inspections.add(_inspection("0" * 32))  # before the sink: never published
    sinks = MqttSinks(catalog)
    sink = sinks.set(PRODUCT, "plant/{product}/{decision}", "anomalous")
    for i, decision in enumerate(["OK", "ANOMALOUS", "OK", "ANOMALOUS"], start=1):
        catalog.inspections.add(_inspection(f"{i}" * 32, decision))
    waiting = catalog.mqtt.pending(sink, 10)
    assert [w.id for w in waiting] == ["2" * 32, "4" * 32] and sinks.pending(sink) == 2  # only ANOMALOUS, oldest first
    catalog.mqtt.advance("p", waiting[0].seq)
    sink = sinks.set(PRODUCT, "plant/{product}", "all")  # changed: the cursor stays
    assert [w.id for w in catalog.mqtt.pending(sink, 10)] == ["3" * 32, "4" * 32]
    catalog.mqtt.advance("p", waiting[0].seq - 1)  # never backwards
    assert catalog.mqtt.get("p").cursor == waiting[0].seq


@pytest.mark.parametrize("topic", ["a/{tenant}/{product}/{decision}", "line/7/results"])
def test_good_topics_are_kept(catalog, topic):
    assert MqttSinks(catalog).set(PRODUCT, topic, "all").topic == topic


def test_a_topic_too_long_once_filled_in_is_refused(catalog):
    with pytest.raises(InvalidRequest, match="256 bytes"):
        MqttSinks(catalog).set(PRODUCT.model_copy(update={"name": "p" * 63}), "x" * 240 + "/{product}", "all")  # 250 bytes as written, 304 filled in
