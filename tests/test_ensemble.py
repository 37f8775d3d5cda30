import pytest
import torch

from goldenshot.ensemble import balance, member_taps
from goldenshot.features import aggregate, build_extractor, normalize
from goldenshot.fewshot import fit, golden_samples
from goldenshot.fingerprint import FingerprintError
from goldenshot.images import read_image
from goldenshot.inspector import Inspector
from goldenshot.settings import Settings

COMPOSITE = "mobilenet_v2+efficientnet_lite0"


def test_balance_gives_each_block_unit_mean_norm_whatever_its_scale():
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 5, 4, 4, generator=gen)
    louder = feats.clone()
    louder[:, 2:] *= 100.0  # the second block 100x larger, as Lite0's taps are next to MobileNetV2's
    out = balance(louder, (2, 3))
    assert torch.allclose(out, balance(feats, (2, 3)), atol=1e-5)
    for block in out.split([2, 3], dim=1):
        assert torch.allclose(block.norm(dim=1).mean(dim=(1, 2)), torch.ones(2), atol=1e-5)


def test_member_taps_pick_each_members_own():
    taps = ("a:x", "a:y", "b:z")
    assert member_taps("a", taps) == ["x", "y"] and member_taps("b", taps) == ["z"]
    assert member_taps("a", None) is None
    with pytest.raises(ValueError, match="name none of c's"):
        member_taps("c", taps)


def test_composite_features_are_each_members_balanced_features_side_by_side(tile_root):
    composite = build_extractor(Settings(backbone=COMPOSITE, runtime="torch"))
    assert composite.backbone.name == COMPOSITE and composite.backbone.taps[0] == "mobilenet_v2:features.6"
    image = composite.tensor(read_image(sorted((tile_root / "test" / "good").iterdir())[0]))[None]
    feats = composite(image)
    assert feats.shape[-1] == composite.feature_dim == 128 + 152
    for member, block in zip(composite.backbone.members, feats.split([128, 152], dim=-1)):
        own = aggregate(member(normalize(image))).permute(0, 2, 3, 1)  # the member alone, unbalanced
        ratio = block / own.clamp(min=1e-6)
        scale = ratio[own > 1e-3]
        assert torch.allclose(scale, scale.median().expand_as(scale), rtol=1e-3)  # one scale per member and image
        assert abs(float(block.norm(dim=-1).mean()) - 1.0) < 1e-4


def test_composite_fingerprint_names_its_members_and_loads_on_onnx(tmp_path, tile_root):
    settings = Settings(backbone=COMPOSITE, selfconfig={"enabled": False})
    extractor = build_extractor(settings)
    images = sorted((tile_root / "train" / "good").iterdir())[:2]
    fingerprint = fit(golden_samples(images, settings), extractor, settings)
    assert fingerprint.meta.backbone == COMPOSITE and len(fingerprint.meta.weights_sha256.split("+")) == 2
    fingerprint.save(tmp_path / "fp")
    test = read_image(sorted((tile_root / "test" / "good").iterdir())[0])
    assert Inspector.load(tmp_path / "fp").score(test)[0] == Inspector(extractor, fingerprint).score(test)[0]
    with pytest.raises(FingerprintError, match="made with backbone mobilenet_v2\\+efficientnet_lite0"):
        Inspector(build_extractor(Settings()), fingerprint)


def test_composite_refuses_a_weights_file(tmp_path):
    with pytest.raises(ValueError, match="bundled weights"):
        build_extractor(Settings(backbone=COMPOSITE, weights=tmp_path / "w.pth"))
