"""User-file backbones (ConvNeXt-T, DINOv2 ViT-S/14 and ViT-B/14): official key layout, loading from a
.pth or .safetensors file, tap maps and strides, and the ViT's handling of any input size.

All with random weights: the official files are not downloaded (docs/backbones.md says where they are).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from goldenshot.backbones import BACKBONES, Backbone, WeightsError, file_sha256, load_backbone, load_network
from goldenshot.features import aggregate
from goldenshot.nets.dinov2 import Attention, Embedding, patch_grid

# name -> (tap channels, tap strides, key count, parameter count, some exact keys with their shapes as
# the official files store them: torchvision's convnext_tiny-983f1562.pth, Meta's dinov2_vit*14_pretrain.pth).
LAYOUT = {
    "convnext_tiny": (
        (192, 384),
        (8, 16),
        182,
        28_589_128,  # torchvision's documented count
        {
            "features.0.0.weight": (96, 3, 4, 4),
            "features.0.1.weight": (96,),
            "features.1.0.block.0.weight": (96, 1, 7, 7),
            "features.1.0.block.2.weight": (96,),
            "features.1.0.block.3.weight": (384, 96),
            "features.1.0.block.5.weight": (96, 384),
            "features.1.0.layer_scale": (96, 1, 1),
            "features.2.0.weight": (96,),
            "features.2.1.weight": (192, 96, 2, 2),
            "features.5.8.layer_scale": (384, 1, 1),
            "features.6.1.weight": (768, 384, 2, 2),
            "classifier.0.weight": (768,),
            "classifier.2.weight": (1000, 768),
        },
    ),
    "dinov2_vits14": (
        (384, 384),
        (14, 14),
        175,
        22_056_576,
        {
            "cls_token": (1, 1, 384),
            "pos_embed": (1, 1 + 37 * 37, 384),
            "mask_token": (1, 384),
            "patch_embed.proj.weight": (384, 3, 14, 14),
            "blocks.0.norm1.weight": (384,),
            "blocks.0.attn.qkv.weight": (1152, 384),
            "blocks.0.attn.proj.weight": (384, 384),
            "blocks.0.ls1.gamma": (384,),
            "blocks.0.mlp.fc1.weight": (1536, 384),
            "blocks.0.mlp.fc2.weight": (384, 1536),
            "blocks.11.ls2.gamma": (384,),
            "norm.weight": (384,),
        },
    ),
    "dinov2_vitb14": (
        (768, 768),
        (14, 14),
        175,
        86_580_480,
        {
            "pos_embed": (1, 1 + 37 * 37, 768),
            "blocks.0.attn.qkv.weight": (2304, 768),
            "blocks.11.mlp.fc1.weight": (3072, 768),
            "blocks.11.ls1.gamma": (768,),
        },
    ),
}
NAMES = list(LAYOUT)


def _random_state(name: str) -> dict[str, torch.Tensor]:
    """A random-weight state dict of the net; the tokens and positions (zeros at init) randomised too."""
    torch.manual_seed(0)
    state = BACKBONES[name].build().state_dict()
    for key in ("cls_token", "pos_embed", "mask_token"):
        if key in state:
            state[key] = torch.randn_like(state[key]) * 0.02
    return state


def _vits14(taps: tuple[str, str]) -> tuple[nn.Module, Backbone]:
    """The random-weight ViT-S/14 in memory (no file needed) and a Backbone tapping it at `taps`."""
    net = BACKBONES["dinov2_vits14"].build()
    net.load_state_dict(_random_state("dinov2_vits14"))
    return net.eval(), Backbone("dinov2_vits14", net, taps, "0" * 64)


@pytest.mark.parametrize("name", NAMES)
def test_official_key_layout(name: str) -> None:
    _, _, count, params, shapes = LAYOUT[name]
    net = BACKBONES[name].build()
    state = net.state_dict()
    assert len(state) == count
    assert sum(p.numel() for p in net.parameters()) == params
    assert {k: tuple(state[k].shape) for k in shapes} == shapes


@pytest.mark.parametrize("name", NAMES)
def test_user_file_backbones_need_a_weights_file(name: str) -> None:
    assert BACKBONES[name].default_weights is None
    with pytest.raises(WeightsError, match=rf"{name} ships no weights.*docs/backbones\.md"):
        load_backbone(name)


@pytest.fixture(scope="module", params=NAMES)
def weights_files(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, torch.Tensor], dict[str, Path]]]:
    """One random-weight state dict per net, saved as a torch pickle and as safetensors."""
    name = request.param
    state = _random_state(name)
    folder = tmp_path_factory.mktemp(name)
    paths = {"pth": folder / f"{name}.pth", "safetensors": folder / f"{name}.safetensors"}
    torch.save(state, paths["pth"])
    save_file(state, str(paths["safetensors"]))
    yield name, state, paths
    for path in paths.values():
        path.unlink()


@pytest.mark.parametrize("suffix", ["pth", "safetensors"])
def test_loads_from_pth_and_safetensors(weights_files: tuple[str, dict[str, torch.Tensor], dict[str, Path]], suffix: str) -> None:
    name, state, paths = weights_files
    channels, strides = LAYOUT[name][:2]
    backbone = load_backbone(name, paths[suffix])
    assert backbone.weights_sha256 == file_sha256(paths[suffix])
    assert backbone.channels == channels and backbone.strides == strides
    assert not any(p.requires_grad for p in backbone.parameters())
    # The first stage's weight (stem conv `features.0` / the embedding's patch conv) is the file's, not a fresh init.
    local, key = ("0.weight", "features.0.0.weight") if name == "convnext_tiny" else ("patch_embed.proj.weight",) * 2
    assert torch.equal(backbone.body[0].get_parameter(local), state[key])
    with torch.inference_mode():
        maps = backbone(torch.randn(1, 3, 112, 224))
    assert [tuple(m.shape) for m in maps] == [(1, c, 112 // s, 224 // s) for c, s in zip(channels, strides)]
    assert all(m.is_contiguous() and m.isfinite().all() for m in maps)


@pytest.mark.parametrize(
    ("name", "key", "wrong"),
    [
        ("convnext_tiny", "features.1.0.layer_scale", (96,)),
        ("dinov2_vits14", "blocks.0.ls1.gamma", (385,)),
        ("dinov2_vitb14", "pos_embed", (1, 1 + 16 * 16, 768)),  # a file trained at 224 px, not 518
    ],
)
def test_wrong_shape_is_a_weights_error_naming_the_key(name: str, key: str, wrong: tuple, tmp_path: Path) -> None:
    # Only the offending tensor is written: the report lists the missing rest and the shape misfit.
    path = tmp_path / "wrong.safetensors"
    save_file({key: torch.zeros(wrong)}, str(path))
    with pytest.raises(WeightsError, match="1 shape mismatches") as info:
        load_network(name, path)
    assert f"{key} {wrong} vs" in str(info.value) and str(path) in str(info.value)


def test_dinov2_taps_match_the_official_feature_path() -> None:
    """The last tapped block, normed and without CLS, is the net's own output (official x_norm_patchtokens)."""
    net, backbone = _vits14(("blocks.2", "blocks.11"))
    assert len(backbone.body) == 13  # embedding + 12 blocks
    x = torch.randn(2, 3, 112, 168)
    with torch.no_grad():
        expected = net(x)
        maps = backbone(x)
    assert expected.shape == (2, 384, 8, 12)
    torch.testing.assert_close(maps[1], expected, atol=1e-5, rtol=1e-5)
    assert aggregate(maps).shape == (2, 768, 8, 12)  # both taps on the one stride-14 grid


def test_dinov2_any_input_size_is_resized_to_whole_patches() -> None:
    """100 x 130 is not a multiple of 14: it is resized to 98 x 126 (the nearest), giving 7 x 9 patches."""
    assert patch_grid(100, 130) == (7, 9) and patch_grid(256, 256) == (18, 18) and patch_grid(5, 5) == (1, 1)
    _, backbone = _vits14(("blocks.0", "blocks.1"))
    x = torch.randn(1, 3, 100, 130)
    with torch.no_grad():
        maps = backbone(x)
        resized = backbone(F.interpolate(x, size=(98, 126), mode="bilinear", align_corners=False))
    assert [tuple(m.shape) for m in maps] == [(1, 384, 7, 9)] * 2
    assert all(torch.equal(a, b) for a, b in zip(maps, resized))


def test_dinov2_positional_embedding_interpolation() -> None:
    """At the training grid (518 px) pos_embed is used as is; elsewhere CLS's entry is kept, the patch
    entries are resampled bicubically (a constant field stays constant) to the input's grid."""
    net = BACKBONES["dinov2_vits14"].build()
    embedding = Embedding(net)
    with torch.no_grad():
        net.pos_embed.normal_()
        assert embedding.positions((37, 37)) is net.pos_embed
        pos = embedding.positions((5, 9))
        assert pos.shape == (1, 1 + 45, 384)
        torch.testing.assert_close(pos[:, 0], net.pos_embed[:, 0])
        net.pos_embed[:, 1:] = 0.5
        torch.testing.assert_close(embedding.positions((20, 11))[:, 1:], torch.full((1, 220, 384), 0.5))
    assert embedding(torch.randn(1, 3, 70, 126)).shape == (1, 1 + 5 * 9, 384)


def test_dinov2_attention_is_plain_softmax_attention() -> None:
    """softmax(q k^T / sqrt(head dim)) v per head, qkv split as (3, heads, head dim) like the official layout."""
    torch.manual_seed(0)
    attn = Attention(12, 3)
    x = torch.randn(2, 5, 12)
    q, k, v = attn.qkv(x).reshape(2, 5, 3, 3, 4).unbind(2)  # each [B, N, heads, head dim]
    weights = torch.einsum("bnhd,bmhd->bhnm", q, k).div(2.0).softmax(-1)
    expected = attn.proj(torch.einsum("bhnm,bmhd->bnhd", weights, v).reshape(2, 5, 12))
    torch.testing.assert_close(attn(x), expected)
