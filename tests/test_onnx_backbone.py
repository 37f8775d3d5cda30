"""The in-process ONNX backbone: the cached export, its identity checks, and scores equal to torch's.

Tolerance: per tap map, max |onnx - torch| / max |torch| <= goldenshot.export.TOLERANCE (1e-4), the
bound the export itself enforces; scores built from those maps agree to 1e-4 relative.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from goldenshot.backbones import load_backbone
from goldenshot.export import TOLERANCE, ExportError, Serving, write_model
from goldenshot.features import FeatureExtractor, build_extractor, normalize, open_backbone
from goldenshot.fewshot import fit, golden_samples
from goldenshot.images import read_image
from goldenshot.inspector import Inspector
from goldenshot import onnx_backbone
from goldenshot.onnx_backbone import CARD_FILE, MODEL_FILE, OnnxBackbone, exported_model
from goldenshot.preprocess import prepare
from goldenshot.settings import PreprocessSettings, Settings
from goldenshot.threads import ThreadShare


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def onnx(cache) -> OnnxBackbone:
    backbone = open_backbone(Settings(cache_dir=cache))
    assert isinstance(backbone, OnnxBackbone)  # the default runtime
    return backbone


@pytest.fixture(scope="module")
def torch_backbone():
    return open_backbone(Settings(runtime="torch"))


def _rel_diff(got: torch.Tensor, expected: torch.Tensor) -> float:
    assert got.shape == expected.shape and got.dtype == torch.float32
    return float((got - expected).abs().max() / expected.abs().max())


@pytest.mark.parametrize("size", [256, 384])  # the default and self-configuration's size_384: one dynamic model
def test_onnx_maps_equal_torch_on_real_images(onnx, torch_backbone, tile_root, size):
    paths = sorted((tile_root / "train" / "good").iterdir())[:3]
    batch = normalize(torch.stack([prepare(read_image(p), PreprocessSettings(size=size)) for p in paths]))
    with torch.inference_mode():
        expected = torch_backbone(batch)
    for got, want in zip(onnx(batch), expected, strict=True):
        assert _rel_diff(got, want) <= TOLERANCE
    # one image of a keep-aspect size, not square
    with torch.inference_mode():
        expected = torch_backbone(batch[:1, :, :208, :320])
    for got, want in zip(onnx(batch[:1, :, :208, :320]), expected, strict=True):
        assert _rel_diff(got, want) <= TOLERANCE


def test_onnx_and_torch_score_alike(onnx, torch_backbone, tile_root):
    settings = Settings(augment={"enabled": False}, selfconfig={"enabled": False})
    on_torch = FeatureExtractor(torch_backbone, settings.preprocess)
    fingerprint = fit(golden_samples(sorted((tile_root / "train" / "good").iterdir())[:3], settings), on_torch, settings)
    by_onnx, by_torch = Inspector(FeatureExtractor(onnx, settings.preprocess), fingerprint), Inspector(on_torch, fingerprint)
    for path in sorted((tile_root / "test" / "crack").iterdir())[:2] + sorted((tile_root / "test" / "good").iterdir())[:2]:
        image = read_image(path)
        (score, working), (expected, expected_map) = by_onnx.score(image), by_torch.score(image)
        assert score == pytest.approx(expected, rel=1e-4)
        assert abs(working - expected_map).max() <= 1e-4 * abs(expected_map).max()


def test_two_inspections_at_once_run_on_a_narrower_session_with_the_same_maps(onnx, tile_root, monkeypatch):
    """While another inspection runs, the backbone takes its share of the threads: a session of one
    thread, made once, computing what the session of every thread computes."""
    before, share = torch.get_num_threads(), ThreadShare()
    share.set_threads(onnx.threads)
    monkeypatch.setattr(onnx_backbone, "share", share)
    image = normalize(prepare(read_image(sorted((tile_root / "train" / "good").iterdir())[0]), PreprocessSettings())[None])
    try:
        with share.running():
            alone = onnx(image)
            with share.running():  # a second inspection in flight
                beside = onnx(image)
        assert share.width(onnx.threads) == 2 and sorted(onnx._sessions) == [1, 2]
        for got, want in zip(beside, alone, strict=True):
            assert _rel_diff(got, want) <= 1e-5
    finally:
        torch.set_num_threads(before)


def test_export_is_made_once_and_reused(onnx, cache):
    path, card = exported_model("mobilenet_v2", None, None, cache)
    assert path == onnx.path and card == onnx.card
    assert [p.parent for p in cache.glob(f"*/{MODEL_FILE}")] == [path.parent]  # one folder, no staging left
    assert 0 <= card.max_rel_diff <= TOLERANCE


def test_model_of_other_weights_is_refused_naming_both_hashes(onnx, cache, tmp_path):
    folder = tmp_path / onnx.path.parent.name
    folder.mkdir()
    (folder / MODEL_FILE).write_bytes(onnx.path.read_bytes())
    card = json.loads((onnx.path.parent / CARD_FILE).read_text())
    (folder / CARD_FILE).write_text(json.dumps({**card, "weights_sha256": "f" * 64}))
    with pytest.raises(ExportError) as refused:
        exported_model("mobilenet_v2", None, None, tmp_path)
    message = str(refused.value)
    assert "\n" not in message and "ffffffffffff" in message and onnx.weights_sha256[:12] in message


def test_model_file_that_is_not_its_cards_is_refused(onnx, tmp_path):
    folder = tmp_path / onnx.path.parent.name
    folder.mkdir()
    (folder / MODEL_FILE).write_bytes(onnx.path.read_bytes() + b"\0")
    (folder / CARD_FILE).write_text((onnx.path.parent / CARD_FILE).read_text())
    with pytest.raises(ExportError, match="onnx_sha256"):
        exported_model("mobilenet_v2", None, None, tmp_path)


def test_served_backbone_of_other_weights_is_refused_at_start(cache):
    served = load_backbone("mobilenet_v2")
    served.weights_sha256 = "0" * 64  # what a Triton model exported from other weights reports
    with pytest.raises(ExportError) as refused:
        build_extractor(Settings(cache_dir=cache), served)
    assert "\n" not in str(refused.value) and "000000000000" in str(refused.value)
    assert build_extractor(Settings(cache_dir=cache), load_backbone("mobilenet_v2")).feature_dim == 128


def test_committed_model_repository_is_the_in_process_export(tmp_path):
    """model_repository/'s tracked configs are what `make model-repository` writes for the default export:
    Triton serves the file the library runs (its sha256 is in the card), on GPU and on CPU."""
    path, card = exported_model("mobilenet_v2", None, None, Settings().cache_dir)
    written = write_model(tmp_path, path, card, Serving("gpu", "goldenshot_backbone"))
    committed = Path(__file__).resolve().parents[1] / "model_repository" / "goldenshot_backbone"
    for name in ("config.pbtxt", "configs/cpu.pbtxt", "goldenshot.json"):
        assert (written / name).read_text() == (committed / name).read_text(), name
    assert "KIND_GPU" in (committed / "config.pbtxt").read_text() and "dynamic_batching" in (committed / "config.pbtxt").read_text()
    assert "KIND_CPU" in (committed / "configs" / "cpu.pbtxt").read_text()
