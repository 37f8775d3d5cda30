"""Backbone features served by Triton: the export, its config, and a real tritonserver on 127.0.0.1.

The server is the CPU one from PyPI nvidia-pytriton (Python backend running the exported ONNX on
onnxruntime), started once per session from a repository `goldenshot export --device cpu` wrote.
Tolerance, everywhere: per tap map, max |served - torch| / max |torch| <= goldenshot.export.TOLERANCE
(1e-4); float32 kernels differ only in summation order: measured <= 4e-6 (<= 1.6e-5 absolute)
on 16 magnetic tiles and 16 ball screws.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import torch
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2
from typer.testing import CliRunner

from goldenshot.backbones import file_sha256, load_backbone
from goldenshot.cli import app
from goldenshot.export import DEFAULT_MODEL, TOLERANCE, ModelCard, Serving, onnx_max_rel_diff, write_model
from goldenshot.features import FeatureExtractor, normalize, open_backbone
from goldenshot.fewshot import fit, golden_samples
from goldenshot.images import read_image
from goldenshot.inspector import Inspector
from goldenshot.preprocess import prepare
from goldenshot.settings import PreprocessSettings, Settings
from services.common.triton_backbone import TritonBackbone, TritonUnavailable
from services.common.tritonserver import TritonServerError, free_port, start_tritonserver

MAX_BATCH = 2  # small, so a batch of 3 or 4 exercises the adapter's splitting into several requests


def _config(model_dir: Path) -> model_config_pb2.ModelConfig:
    """Parse config.pbtxt with Triton's own schema: an unknown field or enum value fails here."""
    return text_format.Parse((model_dir / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())


def _rel_diff(got: torch.Tensor, expected: torch.Tensor) -> float:
    assert got.shape == expected.shape and got.dtype == torch.float32
    return float((got - expected).abs().max() / expected.abs().max())


@pytest.fixture(scope="session")
def backbone():
    return load_backbone("mobilenet_v2")


@pytest.fixture(scope="session")
def cpu_repository(tmp_path_factory) -> Path:
    """What `goldenshot export --triton DIR --device cpu` writes (the command itself, in-process)."""
    repository = tmp_path_factory.mktemp("model_repository")
    args = ["export", "--triton", str(repository), "--device", "cpu", "--max-batch-size", str(MAX_BATCH), "--cpu-threads", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "max relative difference to torch" in result.output
    return repository


@pytest.fixture(scope="session")
def card(cpu_repository) -> ModelCard:
    params = _config(cpu_repository / DEFAULT_MODEL).parameters
    return ModelCard.from_parameters({k: v.string_value for k, v in params.items()})


@pytest.fixture(scope="session")
def server(cpu_repository, tmp_path_factory):
    server = start_tritonserver(cpu_repository, tmp_path_factory.mktemp("tritonserver"), timeout_s=60)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def remote(server):
    backbone = TritonBackbone(server.grpc_url, DEFAULT_MODEL, timeout_s=30)
    yield backbone
    backbone.close()


@pytest.fixture(scope="session")
def tiles(tile_root) -> torch.Tensor:
    """Four real magnetic tiles at the working size (256x256), ImageNet-normalised: the backbone's input."""
    paths = sorted((tile_root / "train" / "good").iterdir())[:4]
    return normalize(torch.stack([prepare(read_image(p), PreprocessSettings()) for p in paths]))


def test_export_writes_the_cpu_model_and_its_card(cpu_repository, card, backbone):
    model_dir = cpu_repository / DEFAULT_MODEL
    assert sorted(p.name for p in (model_dir / "1").iterdir()) == ["model.onnx", "model.py"]
    assert not [p for p in cpu_repository.iterdir() if p.name.startswith(".")]  # no staging left behind
    config = _config(model_dir)
    assert (config.name, config.backend, config.max_batch_size) == (DEFAULT_MODEL, "python", MAX_BATCH)
    assert config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_CPU
    assert config.parameters["cpu_threads"].string_value == "1"
    assert (card.backbone, card.weights_sha256, card.taps) == (backbone.name, backbone.weights_sha256, backbone.taps)
    assert (card.channels, card.strides) == (backbone.channels, backbone.strides) == ((32, 96), (8, 16))
    assert card.onnx_sha256 == file_sha256(model_dir / "1" / "model.onnx")
    assert 0 <= card.max_rel_diff <= TOLERANCE


def test_onnx_equals_torch_on_real_images(cpu_repository, backbone, tiles):
    onnx_file = cpu_repository / DEFAULT_MODEL / "1" / "model.onnx"
    assert onnx_max_rel_diff(backbone, onnx_file, tiles) <= TOLERANCE
    # another size, not a multiple of 16 (keep-aspect preprocessing of a long part gives such sizes)
    assert onnx_max_rel_diff(backbone, onnx_file, tiles[:2, :, :200, :120]) <= TOLERANCE


def test_gpu_config_has_what_triton_and_clients_need(tmp_path, cpu_repository, card):
    model_dir = write_model(tmp_path, cpu_repository / DEFAULT_MODEL / "1" / "model.onnx", card, Serving("gpu", max_batch_size=16))
    assert sorted(p.name for p in (model_dir / "1").iterdir()) == ["model.onnx"]
    config = _config(model_dir)
    assert (config.name, config.platform, config.backend) == (DEFAULT_MODEL, "onnxruntime_onnx", "onnxruntime")
    assert config.max_batch_size == 16 and config.HasField("dynamic_batching")
    assert [g.kind for g in config.instance_group] == [model_config_pb2.ModelInstanceGroup.KIND_GPU]
    assert [(i.name, list(i.dims), i.data_type) for i in config.input] == [("input", [3, -1, -1], model_config_pb2.TYPE_FP32)]
    assert [(o.name, list(o.dims)) for o in config.output] == [("tap0", [32, -1, -1]), ("tap1", [96, -1, -1])]
    assert ModelCard.from_parameters({k: v.string_value for k, v in config.parameters.items()}) == card
    assert "cpu_threads" not in config.parameters


def test_triton_features_equal_in_process(remote, backbone, tiles):
    with torch.inference_mode():
        expected = backbone(tiles)
    got = remote(tiles)  # 4 images: two requests of MAX_BATCH
    assert len(got) == 2
    for g, e in zip(got, expected):
        assert _rel_diff(g, e) <= TOLERANCE
    # an odd batch (requests of 2 + 1) and a lone image give the same maps as the batch of four
    three, one = remote(tiles[1:]), remote(tiles[2:3])
    for tap in range(2):
        assert _rel_diff(three[tap], got[tap][1:]) <= TOLERANCE
        assert _rel_diff(one[tap], got[tap][2:3]) <= TOLERANCE


def test_triton_serves_the_in_process_model(remote, cpu_repository, tiles):
    """One exported model everywhere: Triton's file is the in-process runtime's, and both compute the same maps."""
    local = open_backbone(Settings())
    assert file_sha256(cpu_repository / DEFAULT_MODEL / "1" / "model.onnx") == file_sha256(local.path) == remote.card.onnx_sha256
    for served, here in zip(remote(tiles), local(tiles), strict=True):
        assert _rel_diff(served, here) <= 1e-5  # same graph, same onnxruntime: summation order at most


def test_adapter_identity_matches_in_process_backbone(remote, backbone):
    for attr in ("name", "weights_sha256", "taps", "channels", "strides"):
        assert getattr(remote, attr) == getattr(backbone, attr), attr


def test_fingerprint_built_in_process_scores_through_triton(remote, backbone, tile_root):
    settings = Settings(augment={"enabled": False})
    local = FeatureExtractor(backbone, settings.preprocess)
    golden = sorted((tile_root / "train" / "good").iterdir())[:2]
    fingerprint = fit(golden_samples(golden, settings), local, settings)
    served = Inspector(FeatureExtractor(remote, settings.preprocess), fingerprint)  # check_extractor passes
    image = read_image(sorted((tile_root / "test" / "crack").iterdir())[0])
    expected = Inspector(local, fingerprint).score(image)[0]
    assert served.score(image)[0] == pytest.approx(expected, rel=1e-4)


def test_down_server_is_one_clear_connection_error(cpu_repository, tmp_path):
    with pytest.raises(ConnectionError) as nobody:
        TritonBackbone(f"127.0.0.1:{free_port()}", timeout_s=5)
    assert isinstance(nobody.value, TritonUnavailable) and "\n" not in str(nobody.value)

    server = start_tritonserver(cpu_repository, tmp_path, timeout_s=60)
    try:
        remote = TritonBackbone(server.grpc_url, timeout_s=5)
    finally:
        server.stop()
    assert server.process.poll() is not None
    start = time.monotonic()
    with pytest.raises(TritonUnavailable) as stopped:
        remote(torch.zeros(1, 3, 64, 64))
    message = str(stopped.value)
    assert server.grpc_url in message and DEFAULT_MODEL in message and "\n" not in message
    assert time.monotonic() - start < 5
    remote.close()


def test_server_refuses_an_onnx_file_that_is_not_the_cards(cpu_repository, tmp_path):
    repository = tmp_path / "repository"
    shutil.copytree(cpu_repository, repository)
    with open(repository / DEFAULT_MODEL / "1" / "model.onnx", "ab") as f:
        f.write(b"\0")  # any other bytes: the file clients were promised is gone
    with pytest.raises(TritonServerError, match="is not the config's onnx_sha256"):
        start_tritonserver(repository, tmp_path / "server", timeout_s=60)


def test_unknown_model_is_refused_by_name(server):
    with pytest.raises(TritonUnavailable, match="does not serve model 'nope'"):
        TritonBackbone(server.grpc_url, "nope", timeout_s=5)


def test_export_refuses_bad_arguments_before_working(tmp_path):
    result = CliRunner().invoke(app, ["export", "--triton", str(tmp_path), "--device", "tpu"])
    assert result.exit_code == 2 and "device must be gpu or cpu" in result.output
    assert list(tmp_path.iterdir()) == []


def test_server_with_triton_features_scores_like_the_library(server, tile_root, tmp_path):
    """The embedded server with GOLDENSHOT_SERVER_FEATURES=triton: build and inspect through Triton,
    then the same fingerprint scored in-process (the same ONNX model on onnxruntime) gives the same score."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from serving import Server, files, wait_job

    env = {"GOLDENSHOT_SERVER_FEATURES": "triton", "GOLDENSHOT_SERVER_TRITON_URL": server.grpc_url, "GOLDENSHOT_SERVER_TRITON_MODEL": DEFAULT_MODEL}
    srv = Server(tmp_path / "data", env).start()
    try:
        with srv.client() as c:
            c.post("/v1/products", json={"name": "tile"})
            c.post("/v1/products/tile/golden", files=files(sorted((tile_root / "train" / "good").iterdir())[:4]))
            assert wait_job(c, c.post("/v1/products/tile/fingerprints").json()["id"])["state"] == "succeeded"
            path = tile_root / "test/fray/exp6_num_258703.jpg"
            served = c.post("/v1/products/tile/inspect", files=files([path], "file")).json()
            fp = tmp_path / "fp.safetensors"
            fp.write_bytes(c.get("/v1/products/tile/fingerprints/1/file").content)
            assert served["score"] == pytest.approx(Inspector.load(fp).inspect(read_image(path)).score, rel=1e-5)
    finally:
        srv.stop()
