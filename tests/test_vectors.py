"""The vector stores for real: the Qdrant Edge engine in-process (shards on disk) and a Qdrant server's
API through qdrant-client (its local mode in memory), against the hot in-memory kNN; shards found again
after a restart, damaged ones detected and rebuilt from the fingerprint file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from goldenshot.fingerprint import Fingerprint
from goldenshot.images import image_sha256
from goldenshot.scoring import nearest as hot_nearest
from goldenshot.settings import Settings
from services.common.settings import ServiceSettings
from services.common.vectors import EdgeVectorStore, QdrantVectorStore, ShardDamaged, VectorStore, VectorStoreError, nearest
from services.core.keys import alias_name
from services.core.models import Golden
from services.runtime import Runtime


@pytest.fixture(params=["edge", "client"])
def store(request, tmp_path) -> Iterator[VectorStore]:
    store = EdgeVectorStore(tmp_path / "vectors", 1) if request.param == "edge" else QdrantVectorStore()
    yield store
    store.close()


def test_store_knn_equals_the_hot_bank_and_alias_switches(store: VectorStore):
    rng = np.random.default_rng(0)
    v1, v2 = rng.normal(size=(500, 32)).astype(np.float32), rng.normal(size=(300, 32)).astype(np.float32)
    queries = rng.normal(size=(64, 32)).astype(np.float32)
    store.write("p_v1", v1, [{"sample": i % 3} for i in range(500)])
    store.write("p_v2", v2)
    store.point_alias("p", "p_v1")
    hot, rows = hot_nearest(torch.from_numpy(queries), torch.from_numpy(v1))
    np.testing.assert_allclose(nearest(store, "p", queries), hot.numpy(), rtol=1e-4, atol=1e-4)
    top = store.search("p", queries[:1], 3)[0]
    assert top[0].id == int(rows[0]) and top[0].payload == {"sample": int(rows[0]) % 3}
    assert [h.distance for h in top] == sorted(h.distance for h in top)
    assert all(h.payload["sample"] == 2 for h in store.search("p", queries[:1], 5, {"sample": 2})[0])
    store.point_alias("p", "p_v2")
    np.testing.assert_array_equal(store.read_bank("p"), v2)
    store.write("p_v2", v1[:10])  # a rerun build rewrites its version, then points the alias again
    store.point_alias("p", "p_v2")
    assert store.read_bank("p").shape == (10, 32)
    assert store.search("absent", queries[:2], 1) == [[], []]
    store.drop("p")
    assert not store.exists("p_v1") and not store.exists("p")
    with pytest.raises(Exception):
        store.read_bank("p_v1")


def test_library_points_are_added_found_by_payload_and_relabelled(store: VectorStore):
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(4, 8)).astype(np.float32)
    ids = [f"00000000-0000-0000-0000-00000000000{i}" for i in range(4)]
    store.upsert("lib", ids[:2], rows[:2], [{"inspection_id": "a", "region": i, "label": "unreviewed"} for i in range(2)])
    store.upsert("lib", ids[2:], rows[2:], [{"inspection_id": "b", "region": 0, "label": "unreviewed"}] * 2)
    store.upsert("lib", ids[:1], rows[:1], [{"inspection_id": "a", "region": 0, "label": "unreviewed"}])  # a retry replaces
    vectors, payloads = store.points("lib", {"inspection_id": "a"})
    assert sorted(p["region"] for p in payloads) == [0, 1] and vectors.shape == (2, 8)
    store.set_payload("lib", {"inspection_id": "a"}, {"label": "false_alarm"})
    assert {p["label"] for p in store.points("lib", {"inspection_id": "a"})[1]} == {"false_alarm"}
    assert {p["label"] for p in store.points("lib", {"inspection_id": "b"})[1]} == {"unreviewed"}
    hit = store.search("lib", rows[3:], 1)[0][0]
    assert hit.id == ids[3] and hit.distance == pytest.approx(0.0, abs=1e-5)


def test_edge_shards_and_aliases_survive_a_restart(tmp_path):
    bank = np.random.default_rng(2).normal(size=(200, 16)).astype(np.float32)
    store = EdgeVectorStore(tmp_path, 1)
    store.write("c_v1", bank)
    store.point_alias("c", "c_v1")
    store.close()
    again = EdgeVectorStore(tmp_path, 1)
    np.testing.assert_array_equal(again.read_bank("c"), bank)
    again.close()


def _damage(shard: Path) -> None:
    """What a torn disk write leaves: the shard's config unreadable."""
    (shard / "edge_config.json").write_text("{not json")


def test_edge_damaged_or_incomplete_shard_is_detected(tmp_path):
    bank = np.random.default_rng(3).normal(size=(50, 8)).astype(np.float32)
    store = EdgeVectorStore(tmp_path, 1)
    store.write("d", bank)
    store.write("e", bank)
    store.close()
    _damage(tmp_path / "d")
    manifest = tmp_path / "e" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"points": 50', '"points": 60'))
    again = EdgeVectorStore(tmp_path, 1)
    for name in ("d", "e"):
        with pytest.raises(ShardDamaged):
            again.check(name)
        with pytest.raises(ShardDamaged):
            again.search(name, bank[:1], 1)
    with pytest.raises(VectorStoreError):
        again.read_bank("missing")
    again.close()


def _built_runtime(service: ServiceSettings, tile_root: Path, versions: int) -> tuple[Runtime, str]:
    """A runtime whose product 'tile' has `versions` fingerprint versions built from 3 golden samples."""
    runtime = Runtime(service, Settings())
    product = runtime.catalog.products.create("a" * 32, "default", "tile", "")
    samples = []
    for i, path in enumerate(sorted((tile_root / "train" / "good").iterdir())[:3]):
        key = f"products/{product.id}/golden/{i}"
        runtime.objects.put(key, path.read_bytes())
        samples.append(Golden(
            id=f"{i:032d}", product_id=product.id, sha256=image_sha256(path.read_bytes()), filename=path.name, width=1, height=1, object_key=key,
            created_at=f"2026-12-02T00:00:0{i}",
        ))
    runtime.catalog.golden.add(samples, limit=200)
    for version in range(1, versions + 1):
        job = runtime.catalog.jobs.create(f"{version:032d}", "default", product.id, "tile", "build", {"version": version, "threshold": None})
        runtime.runner.handlers["build"](job, lambda *a: None)
    return runtime, product.id


def test_restart_finds_every_shard_and_rebuilds_a_damaged_one(tmp_path, tile_root: Path):
    service = ServiceSettings(data_dir=tmp_path / "data", grpc_port=None)
    runtime, product_id = _built_runtime(service, tile_root, 2)
    runtime.catalog.products.activate(product_id, 1, "test")
    runtime.patches.vectors.point_alias(alias_name(product_id), runtime.catalog.versions.get(product_id, 1).collection)
    v1, v2 = (runtime.catalog.versions.get(product_id, v) for v in (1, 2))
    fingerprint = Fingerprint.loads(runtime.objects.get(v1.object_key))
    assert fingerprint.provenance is not None
    payload = runtime.vectors.search(v1.collection, fingerprint.bank[:1].numpy(), 1)[0][0].payload
    sample = int(fingerprint.provenance[0, 0])
    assert payload["sample"] == sample and payload["sha256"] == fingerprint.meta.sources[sample].sha256
    runtime.close()

    _damage(tmp_path / "data" / "vectors" / v2.collection)
    again = Runtime(service, Settings())
    assert again.patches.reconcile() == 1  # v1 found as it was, v2 rebuilt from its fingerprint file
    np.testing.assert_array_equal(again.vectors.read_bank(alias_name(product_id)), fingerprint.bank.numpy())
    assert again.vectors.read_bank(v2.collection).shape[0] == v2.coreset_rows
    assert again.patches.reconcile() == 0

    _damage(tmp_path / "data" / "vectors" / v1.collection)  # damaged while the server runs: rebuilt on first use
    again.vectors.close()
    hits = again.patches.top_k(v1, fingerprint.bank[:2].numpy(), 3)
    assert [h[0].id for h in hits] == [0, 1] and hits[0][0].distance == pytest.approx(0.0, abs=1e-3)

    again.products.delete("default", "tile")  # a product deleted takes its collections with it
    assert not list((tmp_path / "data" / "vectors").glob(f"gs_{product_id}*"))
    again.close()
