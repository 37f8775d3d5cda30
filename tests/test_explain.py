"""Provenance of bank rows and the nearest golden patch of each defect region, on real magnetic tiles."""

from __future__ import annotations

import pytest
import torch

from goldenshot.data import load_category, support_set
from goldenshot.explain import nearest_row
from goldenshot.features import build_extractor
from goldenshot.fewshot import fit, golden_samples
from goldenshot.fingerprint import Fingerprint
from goldenshot.images import read_image
from goldenshot.inspector import ANOMALOUS, Inspector
from goldenshot.regions import Region
from goldenshot.settings import Settings


@pytest.fixture(scope="module")
def tile(tile_root):
    return load_category(tile_root)


@pytest.fixture(scope="module")
def fitted(tile):
    """The backbone, 3 golden tiles and the fingerprint fit on them."""
    settings = Settings()
    extractor, support = build_extractor(settings), support_set(tile.train, 3, 0)
    return extractor, support, fit(golden_samples(support, settings), extractor, settings)


@pytest.fixture(scope="module")
def extractor(fitted):
    return fitted[0]


@pytest.fixture(scope="module")
def support(fitted):
    return fitted[1]


@pytest.fixture(scope="module")
def fingerprint(fitted):
    return fitted[2]


@pytest.fixture(scope="module")
def anomalous(tile, extractor, fingerprint):
    """The most anomalous of a few broken tiles, and its result."""
    inspector = Inspector(extractor, fingerprint)
    results = [inspector.inspect(read_image(s.path)) for s in [s for s in tile.test if s.defect in ("break", "fray")][:6]]
    result = max(results, key=lambda r: r.score)
    assert result.decision == ANOMALOUS and result.regions
    return inspector, result


def test_provenance_names_the_golden_patch_each_bank_row_came_from(fingerprint, support, extractor):
    provenance = fingerprint.provenance
    assert provenance is not None and tuple(provenance.shape) == (fingerprint.bank.shape[0], 6)
    assert set(provenance[:, 0].tolist()) <= set(range(len(support)))
    inspector = Inspector(extractor, fingerprint)
    originals = (provenance[:, 1] == 0).nonzero().flatten()[:20]  # rows from the images as given (view 0)
    assert len(originals) > 0
    for i in originals.tolist():
        sample, _, row, col, grid_h, grid_w = provenance[i].tolist()
        feats = inspector.extractor(inspector.extractor.tensor(read_image(support[sample]))[None])[0]
        assert tuple(feats.shape[:2]) == (grid_h, grid_w)
        torch.testing.assert_close(feats[row, col].half().float(), fingerprint.bank[i], rtol=0, atol=1e-3)


def test_provenance_survives_the_file_and_old_files_load_without_it(fingerprint, tmp_path):
    again = Fingerprint.loads(fingerprint.dumps())
    assert torch.equal(again.provenance, fingerprint.provenance) and again.sha256 == fingerprint.sha256
    assert torch.equal(fingerprint.with_threshold(1.0).provenance, fingerprint.provenance)
    old = Fingerprint(fingerprint.bank, fingerprint.meta, fingerprint.projection)  # as written before provenance existed
    assert Fingerprint.loads(old.dumps()).provenance is None


def test_each_region_carries_the_golden_patch_nearest_to_its_peak(anomalous, fingerprint):
    inspector, result = anomalous
    assert result.region_features is not None and result.region_features.shape == (len(result.regions), fingerprint.bank.shape[1])
    for region, feature in zip(result.regions, result.region_features):
        nearest = region.nearest_golden
        distances = torch.cdist(torch.from_numpy(feature)[None], fingerprint.bank)[0]
        assert nearest["bank_row"] == int(torch.argmin(distances))
        assert nearest["distance"] == pytest.approx(float(distances.min()), rel=1e-3, abs=1e-3)
        source = fingerprint.meta.sources[nearest["sample"]]
        assert (nearest["name"], nearest["sha256"]) == (source.name, source.sha256)
        assert fingerprint.provenance[nearest["bank_row"]].tolist() == [nearest[k] for k in ("sample", "view", "row", "col", "grid_h", "grid_w")]
        assert Region.from_dict(region.to_dict()) == region  # stored as JSON and read back whole
    assert "explain" in result.timings_ms


def test_nearest_row_is_the_exact_nearest_neighbour():
    rng = torch.Generator().manual_seed(0)
    bank, query = torch.randn(300, 16, generator=rng), torch.randn(16, generator=rng)
    row, distance = nearest_row(query, bank, (bank * bank).sum(1))
    distances = torch.cdist(query[None], bank)[0]
    assert row == int(torch.argmin(distances)) and distance == pytest.approx(float(distances.min()), rel=1e-4)


def test_a_fingerprint_without_provenance_still_inspects_without_explanations(anomalous, fingerprint, extractor, tile):
    old = Inspector(extractor, Fingerprint(fingerprint.bank, fingerprint.meta, fingerprint.projection))
    image = read_image([s for s in tile.test if s.defect in ("break", "fray")][0].path)
    result = old.inspect(image)
    assert all(r.nearest_golden is None and "nearest_golden" not in r.to_dict() for r in result.regions)
    assert result.score == pytest.approx(anomalous[0].inspect(image).score, rel=1e-6)
    if result.regions:  # the embedding is there for the defect library all the same
        assert result.region_features.shape[0] == len(result.regions)
