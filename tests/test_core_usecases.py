"""The use cases (services/core) without a server: a SQLite catalog and a local object store in a temp
dir, a scorer and a vector store that only record what they are asked."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import event

from services.common.admission import DecodeBudget
from services.common.bus import MemoryBus
from services.common.catalog import Catalog
from services.common.egress import EgressPolicy
from services.common.jobs import JobRunner
from services.common.metrics import Metrics
from services.common.objects import LocalObjectStore, ObjectNotFound
from services.core.errors import Conflict, InvalidImage, InvalidRequest, NotFound
from services.core.fingerprints import Fingerprints
from services.core.golden import GoldenSamples
from services.core.inspections import Inspections
from services.core.keys import alias_name
from services.core.models import Inspection, Product
from services.core.products import Products
from services.core.uploads import Upload


class RecordingScorer:
    def __init__(self) -> None:
        self.forgotten: list[str] = []

    def ready(self, product: Product) -> int:
        if product.active_version is None:
            raise Conflict("no fingerprint yet", code="no_fingerprint")
        return product.active_version

    def inspect(self, product: Product, data: bytes, filename: str, *, credentials: str | None = None) -> Inspection:
        raise AssertionError("not used here")

    def forget(self, product_id: str) -> None:
        self.forgotten.append(product_id)


class RecordingVectors:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def point_alias(self, alias: str, collection: str) -> None:
        self.calls.append(("alias", alias))

    def drop(self, prefix: str) -> None:
        self.calls.append(("drop", prefix))


class Core:
    """The use cases over one temp catalog and object store."""

    def __init__(self, root: Path, max_golden: int = 5) -> None:
        self.catalog = Catalog(f"sqlite:///{root / 'catalog.db'}")
        self.objects = LocalObjectStore(root / "objects")
        self.scorer, self.vectors = RecordingScorer(), RecordingVectors()
        self.runner = JobRunner(self.catalog, MemoryBus(), Metrics(lambda: 0.0, lambda: 0.0), open_per_tenant=3)
        self.products = Products(self.catalog, self.objects, self.vectors, self.scorer, EgressPolicy([]), max_products=3)
        self.golden = GoldenSamples(self.catalog, self.objects, 4_000_000, max_golden, DecodeBudget(8_000_000, 8_000_000, 5.0, 1))
        self.fingerprints = Fingerprints(self.catalog, self.objects, self.vectors, self.runner)
        self.inspections = Inspections(self.catalog, self.objects, self.scorer, self.runner, self.golden, 4_000_000, 100)


def _files(core: Core) -> list[Path]:
    return [p for p in core.objects.root.rglob("*") if p.is_file()]


@pytest.fixture()
def core(tmp_path):
    core = Core(tmp_path)
    yield core
    core.catalog.engine.dispose()


@pytest.fixture(scope="module")
def images(tile_root: Path) -> list[Upload]:
    return [Upload(p.name, p.read_bytes()) for p in sorted((tile_root / "train" / "good").iterdir())[:7]]


def test_products_are_named_by_slugs_unique_per_tenant(core):
    product = core.products.create("plant-a", "tile", "magnetic tile")
    assert core.products.get("plant-a", "tile") == product and product.active_version is None
    with pytest.raises(Conflict):
        core.products.create("plant-a", "tile", "")
    assert core.products.create("plant-b", "tile", "").tenant == "plant-b"  # another tenant, another product
    with pytest.raises(NotFound):
        core.products.get("plant-c", "tile")
    for hostile in ("../etc", "Tile", "t\u0456le", ""):
        with pytest.raises(InvalidRequest):
            core.products.create("plant-a", hostile, "")


def test_golden_samples_are_added_all_or_nothing(core, images):
    product = core.products.create("default", "tile", "")
    broken = Upload("broken.jpg", images[0].data[:300])
    with pytest.raises(InvalidImage, match="broken.jpg"):
        core.golden.add(product, [images[1], broken])
    assert core.golden.list(product) == [] and _files(core) == []
    added, duplicates = core.golden.add(product, images[:3])
    assert [g.filename for g in added] == [u.filename for u in images[:3]] and duplicates == []
    added, duplicates = core.golden.add(product, images[2:4])
    assert [g.filename for g in added] == [images[3].filename] and duplicates == [images[2].filename]
    with pytest.raises(Conflict) as full:
        core.golden.add(product, images[4:7])  # 4 held + 3 new > 5
    assert full.value.code == "too_many_golden_samples" and len(core.golden.list(product)) == 4
    sample = core.golden.list(product)[0]
    assert core.golden.image(product, sample.id) == images[0].data
    core.golden.delete(product, sample.id)
    with pytest.raises(ObjectNotFound):
        core.objects.get(sample.object_key)


def test_a_build_needs_golden_samples_and_reserves_a_version(core, images):
    product = core.products.create("default", "tile", "")
    with pytest.raises(Conflict) as empty:
        core.fingerprints.request_build("default", product, None)
    assert empty.value.code == "no_golden_samples"
    core.golden.add(product, images[:2])
    first = core.fingerprints.request_build("default", product, None)
    second = core.fingerprints.request_build("default", product, 1.5)
    assert (first.kind, first.state, first.params["version"]) == ("build", "queued", 1)
    assert second.params["version"] == 2 and second.params["threshold"] == 1.5
    assert [j.id for j in core.fingerprints.jobs("default", product, "queued", 10)] == [second.id, first.id]
    with pytest.raises(NotFound):
        core.fingerprints.activate(product, 1)  # reserved, never built
    with pytest.raises(NotFound):
        core.fingerprints.job("other-tenant", first.id)


def test_inspecting_needs_a_fingerprint(core):
    product = core.products.create("default", "tile", "")
    with pytest.raises(Conflict) as refused:
        core.inspections.ready(product)
    assert refused.value.code == "no_fingerprint"


def test_feedback_can_make_a_false_alarm_a_golden_sample(core, images):
    product = core.products.create("default", "tile", "")
    core.objects.put("products/p/inspections/i/image", images[5].data)
    core.catalog.inspections.add(Inspection(
        id="a" * 32, product_id=product.id, version=1, decision="ANOMALOUS", score=3.0, threshold=2.0, pixel_threshold=2.0, regions=[],
        filename=images[5].filename, width=8, height=8, image_key="products/p/inspections/i/image", map_key="m", batch_id=None,
        feedback=None, timings_ms={}, created_at="2026-12-02T00:00:00",
    ))
    marked = core.inspections.record_feedback(product, "a" * 32, "false_alarm", add_to_golden=True)
    assert marked.feedback == "false_alarm" and [g.filename for g in core.golden.list(product)] == [images[5].filename]
    core.inspections.record_feedback(product, "a" * 32, None, add_to_golden=True)  # the same image: not twice
    assert len(core.golden.list(product)) == 1 and core.inspections.get(product, "a" * 32).feedback is None
    with pytest.raises(InvalidRequest):
        core.inspections.get(product, "../../catalog.db")


def test_webhooks_and_deleting_a_product(core, images):
    product = core.products.create("default", "tile", "")
    with pytest.raises(InvalidRequest):
        core.products.set_webhook("default", "tile", "file:///etc/passwd", "", "all")
    with pytest.raises(NotFound):
        core.products.webhook("default", "tile")
    for internal in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://2130706433/", "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/latest"):
        with pytest.raises(InvalidRequest) as refused:  # SSRF: nothing internal unless GOLDENSHOT_SERVER_WEBHOOK_ALLOW names it
            core.products.set_webhook("default", "tile", internal, "", "all")
        assert refused.value.code == "webhook_target_refused", internal
    hook = core.products.set_webhook("default", "tile", "http://line-controller.example:9/hook", "s3cret", "anomalous")
    assert (hook.url, hook.events, hook.secret) == ("http://line-controller.example:9/hook", "anomalous", "s3cret")
    core.golden.add(product, images[:1])
    core.products.delete("default", "tile")
    assert core.scorer.forgotten == [product.id] and ("drop", alias_name(product.id)) in core.vectors.calls
    assert _files(core) == []
    with pytest.raises(NotFound):
        core.products.get("default", "tile")


def test_concurrent_golden_uploads_never_pass_the_limit_nor_fail_with_500(core, images):
    """The count is checked inside the insert's transaction: racing uploads (issue 20, Low #6) end as
    samples, duplicates or a 409 Conflict, never more than max_golden samples and never an IntegrityError."""
    product = core.products.create("default", "tile", "")
    barrier = threading.Barrier(7)
    outcomes: list[object] = []

    def upload(batch: list[Upload]) -> None:
        barrier.wait(30)
        try:
            outcomes.append(core.golden.add(product, batch))
        except Exception as exc:  # collected: the test names what happened
            outcomes.append(exc)

    def race(batches: list[list[Upload]]) -> None:
        threads = [threading.Thread(target=upload, args=(b,)) for b in batches]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)

    race([[images[0]]] * 7)  # one image seven times at once
    assert all(isinstance(o, tuple) or (isinstance(o, Conflict) and o.code == "duplicate_golden_sample") for o in outcomes), outcomes
    assert len(core.golden.list(product)) == 1
    outcomes.clear()
    race([[image] for image in images[:7]])  # seven new images at once, room for four
    assert all(isinstance(o, tuple) or (isinstance(o, Conflict) and o.code in ("too_many_golden_samples", "duplicate_golden_sample")) for o in outcomes), outcomes
    assert len(core.golden.list(product)) <= 5


def test_a_tenant_holds_at_most_its_quota_of_products(core):
    for name in ("a", "b", "c"):
        core.products.create("plant-a", name, "")
    with pytest.raises(Conflict) as full:
        core.products.create("plant-a", "d", "")
    assert full.value.code == "quota_exceeded"
    core.products.create("plant-b", "a", "")  # each tenant has its own


def test_racing_creates_cannot_pass_the_product_quota(core):
    outcomes: list[object] = []

    def create(name: str) -> None:
        try:
            outcomes.append(core.products.create("plant-a", name, ""))
        except Conflict as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=create, args=(f"p{i}",)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == 12 and outcomes.count("quota_exceeded") == 12 - 3, outcomes
    assert sorted(p.name for p in core.catalog.products.list("plant-a")) == sorted(o.name for o in outcomes if isinstance(o, Product))


def test_listing_products_is_paged_with_the_same_few_queries_whatever_the_page_size(core, images):
    core.products.max_products = 100
    for i in range(24):
        core.products.create("plant-a", f"p{i:02d}", "")
    core.golden.add(core.products.get("plant-a", "p03"), images[:2])
    core.fingerprints.request_build("plant-a", core.products.get("plant-a", "p03"), None)
    statements: list[str] = []
    event.listen(core.catalog.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    queries = []
    for limit in (5, 20):
        statements.clear()
        views, cursor = core.products.overviews("plant-a", limit, None)
        queries.append(len(statements))
        assert [v.product.name for v in views] == [f"p{i:02d}" for i in range(limit)] and cursor == f"p{limit - 1:02d}"
    assert queries[0] == queries[1] <= 5  # before: about four per product
    views, cursor = core.products.overviews("plant-a", 20, "p19")
    assert [v.product.name for v in views] == ["p20", "p21", "p22", "p23"] and cursor is None
    busy = next(v for v in core.products.overviews("plant-a", 5, None)[0] if v.product.name == "p03")
    assert busy.golden_count == 2 and busy.building is not None and busy.fingerprint is None
