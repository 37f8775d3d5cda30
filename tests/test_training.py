"""Stage 1 training: a tiny SimSiam run learns, is reproducible and resumable, and fails clearly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from goldenshot.backbones import load_backbone, load_network
from goldenshot.cli import app
from goldenshot.features import FeatureExtractor
from goldenshot.images import read_image
from goldenshot.settings import PreprocessSettings, Settings, TrainSettings
from goldenshot.training import TrainError, find_categories, train_extractor


def _settings(**train) -> Settings:
    """64 px, 4 images a batch, 2 epochs of 3 steps; a large lr so that visibly moves the loss."""
    return Settings(
        preprocess=PreprocessSettings(size=64),
        train=TrainSettings(**{"batch_size": 4, "steps_per_epoch": 3, "epochs": 2, "base_lr": 8.0} | train),
    )


@pytest.fixture(scope="module")
def root(tmp_path_factory, tile_root: Path) -> Path:
    """A folder of one category holding six magnetic-tile good images."""
    root = tmp_path_factory.mktemp("data")
    good = root / "tile" / "train" / "good"
    good.mkdir(parents=True)
    for path in sorted((tile_root / "train" / "good").iterdir())[:6]:
        shutil.copy(path, good / path.name)
    return root


@pytest.fixture(scope="module")
def run(root: Path, tmp_path_factory) -> dict:
    """One uninterrupted 2-epoch run with per-epoch checkpoints."""
    out = tmp_path_factory.mktemp("run")
    result = train_extractor([root], out / "w.safetensors", _settings(), checkpoint_dir=out / "ckpt", progress=False)
    return {"out": out / "w.safetensors", "ckpt": out / "ckpt", "result": result}


def test_finds_categories_below_a_root_or_at_it(root: Path) -> None:
    assert [len(c) for c in find_categories([root])] == [6]
    assert find_categories([root / "tile"]) == find_categories([root])


def test_loss_goes_down(run: dict) -> None:
    losses = run["result"].losses
    assert len(losses) == 6
    assert sum(losses[-2:]) / 2 < sum(losses[:2]) / 2 - 0.05, losses


def test_output_loads_as_weights_and_changes_the_features(run: dict, root: Path) -> None:
    assert run["result"].step == run["result"].total_steps == 6
    size = PreprocessSettings(size=64)
    trained = FeatureExtractor(load_backbone("mobilenet_v2", run["out"]), size)
    imagenet = FeatureExtractor(load_backbone("mobilenet_v2"), size)
    image = trained.tensor(read_image(next((root / "tile" / "train" / "good").iterdir())))[None]
    a, b = trained(image), imagenet(image)
    assert a.shape == b.shape == (1, 8, 8, 128)
    assert not torch.allclose(a, b, atol=1e-3)
    # Layers after the last tap (features.13) were never trained: they keep their ImageNet values.
    state, start = load_file(run["out"]), load_network("mobilenet_v2").state_dict()
    assert state.keys() == start.keys()
    assert torch.equal(state["features.18.0.weight"], start["features.18.0.weight"])
    assert not torch.equal(state["features.13.conv.2.weight"], start["features.13.conv.2.weight"])


def test_same_seed_same_weights_and_resume_continues_exactly(run: dict, root: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.safetensors"
    train_extractor([root], again, _settings(), progress=False)
    resumed = tmp_path / "resumed.safetensors"
    result = train_extractor([root], resumed, _settings(), resume=run["ckpt"] / "epoch_1.safetensors", progress=False)
    assert len(result.losses) == 3 and result.losses == run["result"].losses[3:]
    reference = load_file(run["out"])
    for other in (again, resumed):
        state = load_file(other)
        assert all(torch.equal(state[k], v) for k, v in reference.items())


def test_corrupted_or_mismatched_checkpoint_is_a_clear_error(run: dict, root: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes((run["ckpt"] / "epoch_1.safetensors").read_bytes()[:5000])
    with pytest.raises(TrainError, match="cannot read checkpoint") as info:
        train_extractor([root], tmp_path / "w.safetensors", _settings(), resume=cut, progress=False)
    assert str(cut) in str(info.value)
    with pytest.raises(TrainError, match="different seed"):
        train_extractor([root], tmp_path / "w.safetensors", _settings().model_copy(update={"seed": 1}),
                        resume=run["ckpt"] / "epoch_1.safetensors", progress=False)


def test_cli_errors_are_one_line(tmp_path: Path, run: dict, root: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["train-extractor", "--data", str(tmp_path), "--out", str(tmp_path / "w.safetensors")])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path}: no category with train/good found (looked at most 2 levels down)"
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    args = ["--data", str(root), "--out", str(tmp_path / "w.safetensors"), "--resume", str(bad)]
    result = runner.invoke(app, ["train-extractor", *args])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"error: cannot read checkpoint {bad}")
