"""The engineer's loop in the use cases (services/core), without a server: labels, threshold tuning on
labelled history, the activation history, replay's tally and export filters."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect
from test_core_usecases import Core
from test_fingerprint import _fingerprint

from goldenshot.fingerprint import Fingerprint
from services.common.catalog import Catalog
from services.core.errors import Conflict, InvalidRequest, NotFound
from services.core.keys import collection_name, fingerprint_key
from services.core.models import Inspection, Label, Product, Version
from services.core.tables import activations, labels, metadata, products, version_origins
from services.scorer.replay import Tally


@pytest.fixture()
def core(tmp_path):
    core = Core(tmp_path)
    yield core
    core.catalog.engine.dispose()


def _inspect(core: Core, product: Product, n: int, score: float, version: int = 1, day: str = "2026-12-02") -> Inspection:
    inspection = Inspection(
        id=f"{n:032x}", product_id=product.id, version=version, decision="ANOMALOUS" if score > 2.0 else "OK", score=score, threshold=2.0,
        pixel_threshold=1.5, regions=[], filename=f"part-{n}.png", width=8, height=8, image_key="i", map_key="m", batch_id=None,
        feedback=None, timings_ms={}, created_at=f"{day}T00:00:{n:02d}.000000+00:00",
    )
    core.catalog.inspections.add(inspection)
    return inspection


def _built(core: Core, product: Product) -> Product:
    """Version 1 of `product`, built (its file stored) and activated by a build."""
    number = core.catalog.products.allocate_version(product.id)
    key = fingerprint_key(product.id, number)
    fingerprint = _fingerprint()
    core.objects.put(key, fingerprint.dumps())
    version = Version(
        product_id=product.id, version=number, created_at="2026-12-01T00:00:00", threshold=2.0, pixel_threshold=1.5, threshold_source="leave-one-out",
        golden_count=1, coreset_rows=64, golden_scores={"mean": 1.25, "std": 0.25, "max": 1.5}, build_seconds=1.0, sha256=fingerprint.sha256,
        object_key=key, collection=collection_name(product.id, number),
    )
    core.catalog.versions.add(version, activate=True, actor="plant-a/ci")
    return core.products.get("plant-a", product.name)


def test_labels_replace_each_other_record_who_and_filter_the_list(core):
    product = core.products.create("plant-a", "tile", "")
    for n, score in enumerate([1.0, 2.5, 3.0, 1.2]):
        _inspect(core, product, n, score)
    first = core.labels.set(product, f"{1:032x}", "false_alarm", " glare ", "plant-a/line-3")
    assert (first.label, first.note, first.actor) == ("false_alarm", "glare", "plant-a/line-3")
    core.labels.set(product, f"{2:032x}", "false_alarm", "", "local")
    core.labels.set(product, f"{2:032x}", "confirmed_defect", "crack", "local")  # relabelled: replaces
    core.labels.set(product, f"{3:032x}", "missed_defect", "", "local")
    assert core.labels.counts(product) == {"confirmed_defect": 1, "false_alarm": 1, "missed_defect": 1}
    assert core.inspections.get(product, f"{1:032x}").feedback == "false_alarm"  # the older field follows
    assert core.inspections.get(product, f"{2:032x}").feedback is None
    items, _ = core.inspections.page(product, None, None, 10, None, "missed_defect")
    assert [i.id for i in items] == [f"{3:032x}"]
    core.labels.clear(product, f"{3:032x}")
    assert core.labels.get(product, f"{3:032x}") is None and core.labels.counts(product)["missed_defect"] == 0
    with pytest.raises(InvalidRequest):
        core.labels.set(product, f"{0:032x}", "false_alarm", "x" * 101, "local")  # longer than note_max_chars
    with pytest.raises(NotFound):
        core.labels.set(product, "f" * 32, "false_alarm", "", "local")
    other = core.products.create("plant-b", "tile", "")
    with pytest.raises(NotFound):  # another tenant's product cannot label this one's inspection
        core.labels.set(other, f"{0:032x}", "false_alarm", "", "local")
    assert core.labels.get(product, f"{0:032x}") is None


def test_tuning_makes_a_new_inactive_version_with_the_same_bank(core):
    product = _built(core, core.products.create("plant-a", "tile", ""))
    for n, score in enumerate([1.0, 2.5, 3.0, 4.0]):
        _inspect(core, product, n, score)
    core.labels.set(product, f"{1:032x}", "false_alarm", "", "local")
    tuned = core.fingerprints.tune(product, 1, 2.75, False, "plant-a/anna", "glare on the rim")
    assert (tuned.version, tuned.threshold, tuned.threshold_source) == (2, 2.75, "tuned")
    assert core.products.get("plant-a", "tile").active_version == 1  # not active until someone says so
    stored = core.catalog.versions.get(product.id, 2)
    assert stored.collection == collection_name(product.id, 1) and stored.object_key != core.catalog.versions.get(product.id, 1).object_key
    reread = Fingerprint.loads(core.objects.get(stored.object_key))
    assert reread.meta.threshold == 2.75 and reread.sha256 == stored.sha256
    assert reread.bank.equal(Fingerprint.loads(core.objects.get(fingerprint_key(product.id, 1))).bank)
    origin = core.fingerprints.origins(product)[2]
    assert (origin.parent_version, origin.actor, origin.reason) == (1, "plant-a/anna", "threshold tuned from 2 to 2.75: glare on the rim")
    # the history of the shared bank serves both versions; the labelled false alarm is among it
    for version in (1, 2):
        tuning = core.labels.tuning(product, version)
        assert [p.score for p in tuning.points] == [4.0, 3.0, 2.5, 1.0] and tuning.max_score == 4.0
        assert [p.label for p in tuning.points] == [None, None, "false_alarm", None]


def test_thresholds_that_cannot_be_right_are_refused_or_need_confirm(core):
    product = _built(core, core.products.create("plant-a", "tile", ""))
    _inspect(core, product, 0, 3.0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(InvalidRequest):
            core.fingerprints.tune(product, 1, bad, True, "local", "")
    with pytest.raises(Conflict) as refused:
        core.fingerprints.tune(product, 1, 3.5, False, "local", "")  # above every score seen
    assert refused.value.code == "confirm_required"
    assert [v.version for v in core.fingerprints.versions(product)] == [1]  # nothing stored
    assert core.fingerprints.tune(product, 1, 3.5, True, "local", "").version == 2  # confirmed; the refusal reserved no number
    with pytest.raises(NotFound):
        core.fingerprints.tune(product, 7, 2.5, False, "local", "")


def test_activations_record_who_and_the_previous_version(core):
    product = _built(core, core.products.create("plant-a", "tile", ""))
    core.fingerprints.tune(product, 1, 1.5, False, "local", "")
    core.fingerprints.activate(product, 2, "plant-a/anna")
    core.fingerprints.activate(product, 1, "plant-a/ben")  # rollback
    core.fingerprints.activate(product, 1, "plant-a/ben")  # already active: nothing happens, nothing is recorded
    history = [(a.version, a.previous_version, a.actor) for a in core.fingerprints.activations(product, 10)]
    assert history == [(1, 2, "plant-a/ben"), (2, 1, "plant-a/anna"), (1, None, "plant-a/ci")]
    with pytest.raises(NotFound):
        core.fingerprints.activate(product, 9, "local")
    assert len(core.fingerprints.activations(product, 10)) == 3  # a refused activation is not history
    core.products.delete("plant-a", "tile")
    assert core.catalog.history.activations(product.id, 10) == [] and core.catalog.history.origins(product.id) == {}


def test_replay_requests_are_checked_before_queueing(core):
    product = _built(core, core.products.create("plant-a", "tile", ""))
    with pytest.raises(Conflict):
        core.fingerprints.request_replay("plant-a", product, 1, 10)  # nothing stored to replay yet
    _inspect(core, product, 0, 3.0)
    for last in (0, 501):
        with pytest.raises(InvalidRequest):
            core.fingerprints.request_replay("plant-a", product, 1, last)
    with pytest.raises(NotFound):
        core.fingerprints.request_replay("plant-a", product, 4, 10)
    job = core.fingerprints.request_replay("plant-a", product, 1, 10)
    assert (job.kind, job.params["version"], job.params["last"]) == ("replay", 1, 10)


def test_the_replay_tally_counts_what_labelled_changes_fix_and_introduce(core):
    product = core.products.create("plant-a", "tile", "")
    tally = Tally()
    cases = [  # stored score, new decision, label
        (3.0, "OK", "false_alarm"),  # fixes a false alarm
        (1.0, "ANOMALOUS", "missed_defect"),  # fixes a miss
        (3.0, "OK", "confirmed_defect"),  # introduces a miss
        (1.0, "ANOMALOUS", "false_alarm"),  # introduces a false alarm (it was labelled good)
        (3.0, "OK", None),  # unlabelled: only counted as a change
        (3.0, "ANOMALOUS", "confirmed_defect"),  # unchanged
    ]
    for n, (score, decision, label) in enumerate(cases):
        inspection = _inspect(core, product, n, score)
        tally.add(inspection, score, decision, Label(inspection_id=inspection.id, product_id=product.id, label=label, note="", actor="a", created_at="t") if label else None)
    result = tally.result()
    assert (result["compared"], result["to_ok"], result["to_anomalous"]) == (6, 3, 2)
    assert (result["fixes_false_alarms"], result["fixes_misses"], result["introduces_misses"], result["introduces_false_alarms"]) == (1, 1, 1, 1)
    assert len(result["changes"]) == 5 and result["changes"][0]["decision_before"] == "ANOMALOUS"


def test_export_filters_by_time_decision_and_label(core):
    product = core.products.create("plant-a", "tile", "")
    for n, (score, day) in enumerate([(1.0, "2026-11-30"), (3.0, "2026-12-01"), (3.5, "2026-12-01"), (1.0, "2026-12-02")]):
        _inspect(core, product, n, score, day=day)
    core.labels.set(product, f"{2:032x}", "confirmed_defect", "", "local")

    def ids(**filters: str | None) -> list[str]:
        args = {"since": None, "until": None, "decision": None, "label": None, **filters}
        return [i.id[-1] for chunk in core.inspections.export(product, **args) for i in chunk]

    assert ids() == ["0", "1", "2", "3"]  # oldest first
    assert ids(since="2026-12-01", until="2026-12-02") == ["1", "2"]
    assert ids(since="2026-12-01T01:00:00+02:00") == ["1", "2", "3"]  # 2026-11-30T23:00Z
    assert ids(decision="ANOMALOUS") == ["1", "2"] and ids(label="confirmed_defect") == ["2"]
    for bad in ({"since": "yesterday"}, {"since": "2026-12-02", "until": "2026-12-01"}):
        with pytest.raises(InvalidRequest):
            core.inspections.export(product, **{"since": None, "until": None, "decision": None, "label": None, **bad})


def test_a_catalog_from_before_labels_opens_and_gains_the_new_tables(tmp_path):
    """No column changed: a database made without the new tables gets them when it is opened, and its rows stay."""
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    old = create_engine(url)
    metadata.create_all(old, tables=[t for t in metadata.sorted_tables if t not in (labels, version_origins, activations)])
    with old.begin() as conn:
        conn.execute(products.insert().values(id="a" * 32, tenant="plant-a", name="tile", description="", created_at="t", next_version=1))
    assert "labels" not in inspect(old).get_table_names()
    old.dispose()
    catalog = Catalog(url)
    assert {"labels", "version_origins", "activations"} <= set(inspect(catalog.engine).get_table_names())
    product = catalog.products.get("plant-a", "tile")
    assert product.id == "a" * 32 and catalog.labels.counts(product.id) == {} and catalog.history.activations(product.id, 10) == []
    catalog.engine.dispose()
