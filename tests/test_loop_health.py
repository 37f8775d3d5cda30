"""The engineer's watch over a product, as use cases over a real SQLite catalog and object store: drift of
recent scores from the golden ones, golden sample health (a wrong-product photo named), ignore masks."""

from __future__ import annotations

from pathlib import Path

import pytest

from goldenshot.features import build_extractor
from goldenshot.fewshot import fit, golden_samples
from goldenshot.masks import Polygon, Rect
from goldenshot.settings import Settings
from services.common.catalog import Catalog
from services.common.objects import LocalObjectStore
from services.core.drift import DriftMonitor, DriftSettings
from services.core.errors import InvalidRequest
from services.core.golden_health import GoldenHealth
from services.core.masks import IgnoreMasks
from services.core.models import Golden, Inspection, Product, Version

GOLDEN = [1.0, 1.1, 0.9, 1.2, 1.0]  # median 1.0


@pytest.fixture()
def catalog(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield catalog
    catalog.engine.dispose()


def _product(catalog: Catalog, golden_scores: dict, name: str = "tile") -> Product:
    product = catalog.products.create(f"p-{name}", "default", name, "")
    catalog.versions.add(Version(
        product_id=product.id, version=1, created_at="2026-12-02T00:00:00", threshold=1.5, pixel_threshold=1.5, threshold_source="leave-one-out",
        golden_count=5, coreset_rows=10, golden_scores=golden_scores, build_seconds=1.0, sha256="0" * 64,
        object_key=f"products/{product.id}/fingerprints/v1.safetensors", collection="c",
    ), activate=True, actor="test")
    return catalog.products.get("default", name)


def _inspect(catalog: Catalog, product: Product, scores: list[float], version: int = 1) -> None:
    start = catalog.inspections.count(product.id)
    for i, score in enumerate(scores):
        catalog.inspections.add(Inspection(
            id=f"i{start + i:031d}", product_id=product.id, version=version, decision="ANOMALOUS" if score > 1.5 else "OK", score=score,
            threshold=1.5, pixel_threshold=1.5, regions=[], filename="x.png", width=8, height=8, image_key="k", map_key="m",
            batch_id=None, feedback=None, timings_ms={}, created_at="2026-12-02T00:00:00",
        ))


def test_drift_flags_a_stream_whose_scores_moved_and_not_one_that_did_not(catalog):
    product = _product(catalog, {"scores": GOLDEN})
    monitor = DriftMonitor(catalog, DriftSettings(window=10, min_inspections=5, high=1.2, low=0.8, every=1))
    _inspect(catalog, product, [1.0, 1.05])
    early = monitor.of(product)
    assert early.inspections == 2 and early.ratio is None and not early.flagged  # too few for a verdict
    _inspect(catalog, product, [0.95, 1.1, 1.0, 1.05, 3.0, 0.9, 1.0, 1.1])  # one real defect among good parts
    steady = monitor.of(product)
    assert steady.inspections == 10 and steady.ratio == pytest.approx(1.025) and not steady.flagged and steady.direction is None
    _inspect(catalog, product, [1.4, 1.6, 1.5, 1.45, 1.7, 1.55, 1.5, 1.6])  # the light changed: 8 of the last 10 moved
    moved = monitor.of(product)
    assert moved.flagged and moved.direction == "up" and moved.ratio == pytest.approx(1.5)
    _inspect(catalog, product, [0.5] * 10, version=2)  # another version's inspections do not count for version 1
    assert monitor.of(product).ratio == pytest.approx(1.5)


def test_drift_downwards_is_flagged_too_and_a_product_without_fingerprint_has_none(catalog):
    product = _product(catalog, {"scores": GOLDEN})
    monitor = DriftMonitor(catalog, DriftSettings(window=10, min_inspections=5, high=1.2, low=0.8, every=1))
    _inspect(catalog, product, [0.6, 0.7, 0.65, 0.7, 0.6])  # a blurred camera: detail, and scores, fade
    low = monitor.of(product)
    assert low.flagged and low.direction == "down"
    empty = catalog.products.create("p2", "default", "new", "")
    assert monitor.of(empty).version is None and not monitor.of(empty).flagged


@pytest.fixture(scope="module")
def mixed_fingerprint(tile_root: Path, screw_root: Path):
    """3 tile photos and one photo of another product: too few samples for the fit to leave it out."""
    settings = Settings()
    paths = sorted((tile_root / "train" / "good").iterdir())[:3] + sorted((screw_root / "train" / "good").iterdir())[:1]
    return fit(golden_samples(paths, settings), build_extractor(settings), settings), paths


def test_golden_health_names_the_wrong_product_photo_from_the_fingerprint_file(catalog, tmp_path, mixed_fingerprint):
    fingerprint, paths = mixed_fingerprint
    assert fingerprint.meta.strays == []  # the fit kept it: the threshold rose silently
    meta = fingerprint.meta
    # a version recorded before golden health existed: no "sources" in its record, so the file's header is read
    product = _product(catalog, {"scores": meta.golden.scores, "strays": []})
    objects = LocalObjectStore(tmp_path / "objects")
    objects.put(f"products/{product.id}/fingerprints/v1.safetensors", fingerprint.dumps())
    catalog.golden.add([Golden(
        id="g" * 32, product_id=product.id, sha256=meta.sources[0].sha256, filename=paths[0].name, width=8, height=8, object_key="k", created_at="x",
    )], 10)
    samples = GoldenHealth(catalog, objects, outlier_ratio=1.4).samples(product, 1)
    assert [s.name for s in samples] == [p.name for p in paths]
    assert [s.name for s in samples if s.status == "outlier"] == [paths[3].name]
    assert all(s.status == "ok" and s.score is not None and s.ratio < 1.4 for s in samples[:3])
    assert samples[0].golden_id == "g" * 32 and samples[1].golden_id is None  # deleted (here: never stored) since the build


def test_golden_health_reports_strays_the_fit_left_out(catalog, tmp_path):
    sources = [{"name": f"s{i}.png", "sha256": str(i) * 64} for i in range(4)]
    product = _product(catalog, {"scores": [1.0, 1.1, 0.9], "strays": [{"name": "s2.png", "score": 3.0}], "sources": sources})
    samples = GoldenHealth(catalog, LocalObjectStore(tmp_path / "objects"), outlier_ratio=1.4).samples(product, 1)
    assert [(s.name, s.status) for s in samples] == [("s0.png", "ok"), ("s1.png", "ok"), ("s2.png", "left_out"), ("s3.png", "ok")]
    assert samples[2].score == 3.0 and samples[2].ratio == pytest.approx(3.0)
    assert samples[3].score == 0.9


def test_golden_outliers_are_judged_on_the_knn_part_of_the_scores(catalog, tmp_path):
    """With the subspace residual in the score, a held-out sample with its own texture scores high on the
    residual alone: the ratio reads the kNN part (distances), the score shown stays the decision's."""
    sources = [{"name": f"s{i}.png", "sha256": str(i) * 64} for i in range(4)]
    record = {"scores": [2.0, 2.1, 1.9, 3.2], "distances": [1.0, 1.05, 0.95, 1.1], "strays": [], "sources": sources}
    health = GoldenHealth(catalog, LocalObjectStore(tmp_path / "objects"), outlier_ratio=1.4)
    samples = health.samples(_product(catalog, record), 1)
    assert [s.status for s in samples] == ["ok"] * 4 and samples[3].score == 3.2 and samples[3].ratio == pytest.approx(1.1 / 1.0)
    before = health.samples(_product(catalog, {k: v for k, v in record.items() if k != "distances"}, name="older"), 1)
    assert [s.status for s in before] == ["ok", "ok", "ok", "outlier"]  # a version recorded before distances: scores


def test_an_ignore_mask_is_replaced_whole_and_bounded(catalog):
    product = _product(catalog, {"scores": GOLDEN})
    masks = IgnoreMasks(catalog, max_shapes=2)
    assert masks.get(product).shapes == [] and masks.get(product).updated_at is None
    shapes = [Rect(x=0.1, y=0.1, width=0.2, height=0.2), Polygon(points=[(0.5, 0.5), (0.9, 0.5), (0.7, 0.9)])]
    saved = masks.set(product, shapes)
    assert masks.get(product) == saved and saved.shapes == shapes and saved.updated_at is not None
    with pytest.raises(InvalidRequest) as refused:
        masks.set(product, shapes + [Rect(x=0, y=0, width=1, height=1)])
    assert refused.value.code == "too_many_shapes" and masks.get(product).shapes == shapes  # nothing lost
    assert masks.set(product, []).shapes == [] and masks.get(product).shapes == []
    masks.set(product, shapes)
    catalog.products.delete(product.id)
    assert catalog.masks.get(product.id).shapes == []


def test_a_catalog_from_before_ignore_masks_opens_and_gains_the_table(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Catalog(url)
    product = old.products.create("p1", "default", "tile", "")
    with old.engine.begin() as conn:  # the schema as it was: no ignore_masks table
        conn.exec_driver_sql("DROP TABLE ignore_masks")
    old.engine.dispose()
    reopened = Catalog(url)
    try:
        assert reopened.products.get("default", "tile") == product
        assert IgnoreMasks(reopened, max_shapes=4).set(product, [Rect(x=0, y=0, width=0.5, height=0.5)]).shapes[0].width == 0.5
    finally:
        reopened.engine.dispose()
