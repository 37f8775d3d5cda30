import numpy as np
import torch

from goldenshot.features import build_extractor
from goldenshot.fewshot import fit, golden_samples
from goldenshot.images import read_image
from goldenshot.inspector import Inspector
from goldenshot.scoring import score_grid, squared_norms
from goldenshot.settings import ScoringSettings, Settings
from goldenshot.subspace import fit_subspace, residual


def _plane_bank(rows: int = 400) -> torch.Tensor:
    """Rows on a 2-d plane through (1, ..., 1) in 6-d: the subspace is that plane."""
    gen = torch.Generator().manual_seed(0)
    coords = torch.randn(rows, 2, generator=gen)
    return torch.ones(6) + coords @ torch.eye(6)[:2]


def test_subspace_keeps_the_varying_directions_and_scores_the_part_outside():
    bank = _plane_bank()
    subspace = fit_subspace(bank, 0.99)
    assert subspace.basis.shape == (6, 2)
    on_plane = torch.ones(6) + torch.tensor([3.0, -2.0, 0, 0, 0, 0])
    off_plane = on_plane + torch.tensor([0, 0, 0, 0.6, 0.8, 0])  # 1.0 away from the plane
    assert torch.allclose(residual(torch.stack([on_plane, off_plane]), subspace), torch.tensor([0.0, 1.0]), atol=1e-4)


def test_excluded_rows_do_not_shape_the_subspace():
    bank = torch.cat([_plane_bank(), torch.ones(40, 6) + 5 * torch.eye(6)[5]])  # 40 rows off the plane
    exclude = torch.zeros(bank.shape[0], dtype=torch.bool)
    exclude[-40:] = True
    assert fit_subspace(bank, 0.99).basis.shape[1] == 3  # the off-plane rows add a direction
    assert fit_subspace(bank, 0.99, exclude).basis.shape[1] == 2


def test_score_grid_patch_score_modes():
    bank = _plane_bank()
    feats = (torch.ones(6) + 0.5 * torch.eye(6)[3]).expand(2, 2, 6).clone()  # 0.5 off the plane
    bank_sq = squared_norms(bank)
    knn, knn_map = score_grid(feats, (16, 16), bank, bank_sq, ScoringSettings(image_score="max", patch_score="knn"), 0.0)
    sub, sub_map = score_grid(feats, (16, 16), bank, bank_sq, ScoringSettings(image_score="max", patch_score="subspace"), 0.0)
    both = ScoringSettings(image_score="max", patch_score="knn+subspace")
    fused, fused_map = score_grid(feats, (16, 16), bank, bank_sq, both, 0.0)
    given = score_grid(feats, (16, 16), bank, bank_sq, both, 0.0, subspace=fit_subspace(bank, both.subspace_energy))[0]
    assert abs(sub - 0.5) < 1e-4 and knn > 0.5
    assert abs(fused - (knn + sub)) < 1e-4 and abs(given - fused) < 1e-6
    # the sum decides the image score; the map stays the kNN distance unless subspace_in_map, the residual
    # alone maps itself
    assert np.allclose(fused_map, knn_map) and np.allclose(sub_map, 0.5, atol=1e-4)
    in_map = score_grid(feats, (16, 16), bank, bank_sq, both.model_copy(update={"subspace_in_map": True}), 0.0)[1]
    assert np.allclose(in_map, knn_map + sub_map, atol=1e-4)


def test_a_one_row_bank_has_an_empty_subspace():
    row = torch.tensor([[1.0, 2.0, 3.0]])
    subspace = fit_subspace(row, 0.95)
    assert subspace.basis.shape == (3, 0)
    assert torch.allclose(residual(torch.tensor([[1.0, 2.0, 5.0]]), subspace), torch.tensor([2.0]))


def test_subspace_fingerprint_scores_alike_after_loading_and_is_a_candidate(tmp_path, tile_root):
    settings = Settings(scoring={"patch_score": "knn+subspace"}, selfconfig={"candidates": ["augment", "subspace"]})
    extractor = build_extractor(settings)
    images = sorted((tile_root / "train" / "good").iterdir())[:3]
    fingerprint = fit(golden_samples(images, settings), extractor, settings)
    assert set(fingerprint.meta.selfconfig.auroc) == {"augment", "subspace"}
    assert fingerprint.meta.scoring.patch_score == "knn+subspace"
    fingerprint.save(tmp_path / "fp")
    test = read_image(sorted((tile_root / "test" / "good").iterdir())[0])
    assert Inspector.load(tmp_path / "fp").score(test)[0] == Inspector(extractor, fingerprint).score(test)[0]
