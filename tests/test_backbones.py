"""Backbones: real weights classify a real photo, truncated extractors give the right maps, bad files fail clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sklearn
import torch
from PIL import Image
from safetensors.torch import save_file
from torch import nn

from goldenshot.backbones import (
    BACKBONES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    Backbone,
    WeightsError,
    file_sha256,
    load_backbone,
    load_network,
)
from goldenshot.nets import resnet18, resnet50, wide_resnet50_2
from goldenshot.nets.efficientnet_lite import Conv2dSame

MOBILENET_V2_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
# scikit-learn's sample photo of the Summer Palace, Beijing; ImageNet class 698 is "palace".
PHOTO = Path(sklearn.__file__).parent / "datasets" / "images" / "china.jpg"
PALACE = 698


def _imagenet_tensor(image: Image.Image) -> torch.Tensor:
    a = (np.asarray(image.convert("RGB"), np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(a.astype(np.float32)).permute(2, 0, 1)[None]


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """The photo as classifiers were evaluated: shorter side to 256, centre crop 224, ImageNet-normalised."""
    image = Image.open(PHOTO)
    scale = 256 / min(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
    left, top = (image.width - 224) // 2, (image.height - 224) // 2
    return _imagenet_tensor(image.crop((left, top, left + 224, top + 224)))


@pytest.fixture(scope="module")
def backbones() -> dict[str, Backbone]:
    return {name: load_backbone(name) for name in ("mobilenet_v2", "efficientnet_lite0", "efficientnet_lite2")}


@pytest.fixture
def resnet18_file(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "resnet18.pth"
    torch.save(resnet18().state_dict(), path)
    return path


def test_mobilenet_v2_default_weights_are_the_expected_file() -> None:
    assert file_sha256(BACKBONES["mobilenet_v2"].default_weights()) == MOBILENET_V2_SHA256
    assert load_backbone("mobilenet_v2").weights_sha256 == MOBILENET_V2_SHA256


@pytest.mark.parametrize("name", ["mobilenet_v2", "efficientnet_lite0", "efficientnet_lite2"])
def test_bundled_weights_classify_a_real_photo(name: str, photo: torch.Tensor) -> None:
    net = load_network(name)
    assert not net.training
    with torch.no_grad():
        top5 = net(photo).topk(5).indices[0].tolist()
    # All put "palace" first with a wide margin (p ~0.7, ~0.4 and ~0.74): a wiring error would lose it.
    assert top5[0] == PALACE, top5


def test_efficientnet_lite0_pads_like_tensorflow() -> None:
    """TF 'SAME': a strided conv on an even input pads only bottom/right (k=3) or 1 top/left, 2 bottom/right (k=5)."""
    torch.manual_seed(0)
    for kernel, pad in ((3, (0, 1, 0, 1)), (5, (1, 2, 1, 2))):
        conv = Conv2dSame(4, 4, kernel, stride=2, groups=4)
        x = torch.randn(1, 4, 16, 10)
        expected = nn.functional.conv2d(nn.functional.pad(x, pad), conv.weight, stride=2, groups=4)
        torch.testing.assert_close(conv(x), expected)
        assert conv(torch.randn(1, 4, 15, 9)).shape[-2:] == (8, 5)


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite2"])
def test_efficientnet_lite_sees_the_input_scale_it_was_trained_on(name: str) -> None:
    """The stem BN's running variance records the training input scale ([-1, 1]); ImageNet-normalised
    pixels fed straight in would come out ~4x larger (variance ~8x the running value on this photo)."""
    net = load_network(name)
    with torch.no_grad():
        stem = net._conv_stem(net._input_rescale(_imagenet_tensor(Image.open(PHOTO)))).flatten(2)[0]
    ratio = (stem.var(dim=1) / net._bn0.running_var).median().item()
    assert 1 / 3 < ratio < 3, ratio


@pytest.mark.parametrize(
    ("name", "channels"),
    [("mobilenet_v2", (32, 96)), ("efficientnet_lite0", (40, 112)), ("efficientnet_lite2", (48, 120))],
)
def test_backbone_maps_for_non_square_input(name: str, channels: tuple[int, int], backbones: dict) -> None:
    backbone = backbones[name]
    assert backbone.channels == channels and backbone.strides == (8, 16)
    x = torch.randn(1, 3, 160, 400)
    with torch.inference_mode():
        first, again = backbone(x), backbone(x)
    assert [tuple(f.shape) for f in first] == [(1, channels[0], 20, 50), (1, channels[1], 10, 25)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))


@pytest.mark.parametrize("name", ["mobilenet_v2", "efficientnet_lite0", "efficientnet_lite2"])
def test_backbone_is_truncated_and_matches_the_full_network(name: str, backbones: dict) -> None:
    backbone = backbones[name]
    assert not any(isinstance(m, nn.Linear) for m in backbone.modules())  # no classifier kept
    net = load_network(name)
    names = [n for n, _ in net.stages()]
    assert len(backbone.body) == names.index(backbone.taps[-1]) + 1  # nothing after the last tap

    seen: dict[str, torch.Tensor] = {}
    for tap in backbone.taps:
        net.get_submodule(tap).register_forward_hook(lambda m, i, o, tap=tap: seen.__setitem__(tap, o))
    x = torch.randn(2, 3, 96, 128)
    with torch.no_grad():
        net(x)
        feats = backbone(x)
    for tap, feat in zip(backbone.taps, feats):
        torch.testing.assert_close(feat, seen[tap], atol=1e-4, rtol=1e-4)


def test_backbone_is_frozen(backbones: dict) -> None:
    backbone = backbones["mobilenet_v2"]
    backbone.train()
    assert not backbone.training and not any(m.training for m in backbone.modules())
    assert not any(p.requires_grad for p in backbone.parameters())


def test_taps_follow_the_requested_order_and_unknown_taps_are_named() -> None:
    backbone = load_backbone("mobilenet_v2", taps=["features.13", "features.4"])
    assert backbone.channels == (96, 32) and backbone.strides == (16, 8)
    with pytest.raises(ValueError, match=r"features\.13") as info:
        load_backbone("mobilenet_v2", taps=["features.99"])
    assert "features.99" in str(info.value)


def test_unknown_backbone_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="wide_resnet50_2"):
        load_network("vgg16")
    with pytest.raises(ValueError, match="mobilenet_v2"):
        load_backbone("vgg16")


def test_resnet18_loads_a_torchvision_format_file_by_path(resnet18_file: Path) -> None:
    backbone = load_backbone("resnet18", resnet18_file)
    assert backbone.taps == ("layer2", "layer3")
    assert backbone.channels == (128, 256) and backbone.strides == (8, 16)
    assert backbone.weights_sha256 == file_sha256(resnet18_file)
    with torch.inference_mode():
        feats = backbone(torch.randn(1, 3, 64, 96))
    assert [tuple(f.shape) for f in feats] == [(1, 128, 8, 12), (1, 256, 4, 6)]


def test_resnet_without_weights_is_a_weights_error() -> None:
    with pytest.raises(WeightsError, match="resnet18"):
        load_network("resnet18")


def test_missing_weights_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pth"
    with pytest.raises(WeightsError, match="not found") as info:
        load_backbone("resnet18", missing)
    assert str(missing) in str(info.value)


def test_corrupt_weights_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(WeightsError, match="cannot read") as info:
        load_network("resnet18", corrupt)
    assert str(corrupt) in str(info.value)


def test_not_a_state_dict(tmp_path: Path) -> None:
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(WeightsError, match="not a state dict"):
        load_network("resnet18", path)


def test_wrong_shapes_and_wrong_network(tmp_path: Path, resnet18_file: Path) -> None:
    state = torch.load(resnet18_file, weights_only=True)
    state["fc.weight"] = torch.zeros(10, 512)
    wrong = tmp_path / "wrong_fc.pth"
    torch.save(state, wrong)
    with pytest.raises(WeightsError, match=r"fc\.weight \(10, 512\) vs \(1000, 512\)") as info:
        load_network("resnet18", wrong)
    assert str(wrong) in str(info.value)
    # A MobileNetV2 file given for a ResNet: keys missing and unexpected, reported briefly.
    with pytest.raises(WeightsError, match="missing keys.*unexpected keys") as info:
        load_network("resnet18", BACKBONES["mobilenet_v2"].default_weights())
    assert len(str(info.value)) < 1000


@pytest.mark.parametrize(
    ("build", "params", "shapes"),
    [
        # Parameter counts as torchvision documents them for these architectures.
        (
            resnet50,
            25_557_032,
            {"layer1.0.conv1.weight": (64, 64, 1, 1), "layer3.0.downsample.0.weight": (1024, 512, 1, 1)},
        ),
        (
            wide_resnet50_2,
            68_883_240,
            {"layer1.0.conv1.weight": (128, 64, 1, 1), "layer1.0.conv3.weight": (256, 128, 1, 1)},
        ),
    ],
)
def test_big_resnets_have_torchvision_layout(build, params: int, shapes: dict) -> None:
    net = build()
    state = net.state_dict()
    assert sum(p.numel() for p in net.parameters()) == params
    assert len(state) == 320 and "fc.weight" in state and "layer4.2.bn3.num_batches_tracked" in state
    assert {k: tuple(state[k].shape) for k in shapes} == shapes


def test_resnet50_round_trips_through_a_file(tmp_path: Path) -> None:
    path = tmp_path / "resnet50.pth"
    torch.save(resnet50().state_dict(), path)
    backbone = load_backbone("resnet50", path)
    assert backbone.channels == (512, 1024) and backbone.strides == (8, 16)


def test_safetensors_weights_load_strictly_and_are_fingerprinted(tmp_path: Path, resnet18_file: Path) -> None:
    state = torch.load(resnet18_file, weights_only=True)
    path = tmp_path / "resnet18.safetensors"
    save_file(state, str(path))
    backbone = load_backbone("resnet18", path)
    assert backbone.weights_sha256 == file_sha256(path)
    loaded = load_network("resnet18", path).state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    del state["fc.bias"]
    save_file(state, str(path))
    with pytest.raises(WeightsError, match=r"1 missing keys: fc\.bias") as info:
        load_network("resnet18", path)
    assert str(path) in str(info.value)


def test_truncated_safetensors_is_a_weights_error(tmp_path: Path, resnet18_file: Path) -> None:
    path = tmp_path / "cut.safetensors"
    save_file(torch.load(resnet18_file, weights_only=True), str(path))
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(WeightsError, match="cannot read weights file") as info:
        load_network("resnet18", path)
    assert str(path) in str(info.value)
