"""The vector store adapter (Qdrant local mode) against the hot in-memory kNN, and its refill at start."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from goldenshot.fingerprint import Fingerprint
from goldenshot.images import image_sha256
from goldenshot.scoring import nearest
from goldenshot.settings import Settings
from services.common.settings import ServiceSettings
from services.common.vectors import QdrantVectorStore
from services.core.keys import alias_name
from services.core.models import Golden
from services.runtime import Runtime


def test_store_knn_equals_the_hot_bank_and_alias_switches():
    rng = np.random.default_rng(0)
    v1, v2 = rng.normal(size=(500, 32)).astype(np.float32), rng.normal(size=(300, 32)).astype(np.float32)
    queries = rng.normal(size=(64, 32)).astype(np.float32)
    store = QdrantVectorStore()
    store.write_bank("p_v1", v1)
    store.write_bank("p_v2", v2)
    store.point_alias("p", "p_v1")
    hot, _ = nearest(torch.from_numpy(queries), torch.from_numpy(v1))
    np.testing.assert_allclose(store.nearest("p", queries), hot.numpy(), rtol=1e-4, atol=1e-4)
    store.point_alias("p", "p_v2")
    np.testing.assert_array_equal(store.read_bank("p"), v2)
    store.write_bank("p_v2", v1[:10])  # a rerun build rewrites its version, then points the alias again
    store.point_alias("p", "p_v2")
    assert store.read_bank("p").shape == (10, 32)
    store.drop("p")
    with pytest.raises(Exception):
        store.read_bank("p_v1")
    store.close()


def test_in_memory_store_is_refilled_from_fingerprint_files(tmp_path, tile_root: Path):
    service, engine = ServiceSettings(data_dir=tmp_path / "data"), Settings()
    runtime = Runtime(service, engine)
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
    for version in (1, 2):
        job = runtime.catalog.jobs.create(f"{version:032d}", "default", product.id, "tile", "build", {"version": version, "threshold": None})
        runtime.runner.handlers["build"](job, lambda *a: None)
    runtime.catalog.products.activate(product.id, 1)
    runtime.close()

    again = Runtime(service, engine)
    again.start()
    try:
        bank = Fingerprint.loads(again.objects.get(again.catalog.versions.get(product.id, 1).object_key)).bank.numpy()
        np.testing.assert_array_equal(again.vectors.read_bank(alias_name(product.id)), bank)
        assert again.vectors.read_bank(again.catalog.versions.get(product.id, 2).collection).shape[1] == bank.shape[1]
    finally:
        again.close()
