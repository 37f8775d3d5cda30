"""Zero-shot batches of real ball-screw and magnetic-tile images, with a planted defect where a test
needs a known answer, and the zeroshot / eval --zero-shot commands."""

import json
from collections.abc import Sequence

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from goldenshot.cli import app
from goldenshot.features import build_extractor
from goldenshot.images import read_image
from goldenshot.inspector import ANOMALOUS
from goldenshot.settings import Settings
from goldenshot.zeroshot import ZeroShotError, rescore, robust_threshold, score_batch

runner = CliRunner()
BLOB = (700, 230)  # (x, y) of the planted defect in a 1130x460 ball-screw photo


def _settings(**zeroshot) -> Settings:
    """A small coreset and chunks keep every step (stepwise growth, learning rounds) busy on 11 images."""
    base = Settings()
    update = {"coreset_size": 1024, "init_images": 4, "step_images": 3, **zeroshot}
    return base.model_copy(update={"zeroshot": base.zeroshot.model_copy(update=update)})


@pytest.fixture(scope="module")
def extractor():
    return build_extractor(Settings())


@pytest.fixture(scope="module")
def goods(screw_root):
    return [read_image(p) for p in sorted((screw_root / "test" / "good").iterdir())[:10]]


def _planted(image: np.ndarray) -> np.ndarray:
    out = image.copy()
    cv2.circle(out, BLOB, 40, (20, 20, 20), -1)
    return out


@pytest.fixture(scope="module")
def planted_batch(goods, extractor):
    images = goods + [_planted(goods[3])]
    stages: dict[str, tuple[int, int]] = {}
    batch = score_batch(images, extractor, _settings(), lambda stage, done, total: stages.__setitem__(stage, (done, total)))
    return images, batch, stages


def test_planted_defect_scores_highest_and_is_found_where_it_is(planted_batch):
    images, batch, _ = planted_batch
    assert batch.decisions[10] == ANOMALOUS and batch.scores[10] > 1.25 * max(batch.scores[:10])
    result = batch.inspection(10, Settings().maps)
    assert result.score_map.shape == images[10].shape[:2]
    y, x = np.unravel_index(result.score_map.argmax(), result.score_map.shape)
    assert abs(x - BLOB[0]) < 60 and abs(y - BLOB[1]) < 60
    assert any(r.x <= BLOB[0] <= r.x + r.width and r.y <= BLOB[1] <= r.y + r.height for r in result.regions)


def test_batch_contract_thresholds_and_progress(planted_batch):
    images, batch, stages = planted_batch
    assert len(batch.scores) == len(batch.maps) == len(batch.sizes) == len(images)
    assert all(m.shape == (256, 256) and m.dtype == np.float32 for m in batch.maps)
    assert batch.sizes == [im.shape[:2] for im in images]
    assert batch.threshold == pytest.approx(robust_threshold(batch.scores, Settings().zeroshot.threshold_mads))
    assert batch.pixel_threshold == pytest.approx(robust_threshold([m.max() for m in batch.maps], Settings().zeroshot.threshold_mads))
    assert 0 < batch.coreset_rows < 1024  # learning dropped rows of the 1024-row coreset
    assert stages["features"] == stages["scoring"] == (11, 11) and stages["coreset"] == (11, 11)
    assert set(stages) >= {"learning 1/2", "learning 2/2"}


def test_same_seed_same_scores_and_steps_can_be_switched_off(goods, extractor, planted_batch):
    images, batch, _ = planted_batch
    again = score_batch(images, extractor, _settings())
    assert again.scores == batch.scores
    plain = score_batch(images, extractor, _settings(rounds=0, stepwise=False, row_scores=False))
    assert plain.coreset_rows == 1024  # nothing vetted away
    assert plain.scores != batch.scores and int(np.argmax(plain.scores)) == 10


def test_a_repeated_photo_cannot_vouch_for_itself(goods, extractor):
    """Two copies of the defective image: without grouping identical images they match each other."""
    bad = _planted(goods[3])
    batch = score_batch(goods[:8] + [bad, bad.copy()], extractor, _settings())
    assert sorted(np.argsort(batch.scores)[-2:].tolist()) == [8, 9]
    assert batch.scores[8] == pytest.approx(batch.scores[9])


def test_mixed_sizes_and_each_image_read_once(tile_root, extractor):
    paths = sorted((tile_root / "test" / "good").iterdir())[:4]
    reads: list[int] = []

    class Counting(Sequence):
        def __len__(self):
            return len(paths)

        def __getitem__(self, i):
            if i >= len(paths):
                raise IndexError(i)
            reads.append(i)
            return read_image(paths[i])

    batch = score_batch(Counting(), extractor, _settings())
    assert reads == list(range(4))
    sizes = [Image.open(p).size[::-1] for p in paths]
    assert len(set(sizes)) > 1 and batch.sizes == sizes
    assert all(batch.inspection(i, Settings().maps).score_map.shape == sizes[i] for i in range(4))


@pytest.mark.parametrize(
    "images, message",
    [
        ([], "at least 2 images, got 0"),
        (["one"], "at least 2 images, got 1"),
        (["one", "one"], "2 different images"),
        (["one", "gray"], "image 1: expected an HxWx3 uint8 RGB array"),
        (["one", "float"], "image 1: expected an HxWx3 uint8 RGB array"),
    ],
)
def test_bad_batches_are_refused(images, message, goods, extractor):
    arrays = {"one": goods[0], "gray": goods[1][:, :, 0], "float": goods[1].astype(np.float32)}
    with pytest.raises(ZeroShotError, match=message):
        score_batch([arrays[name] for name in images], extractor, _settings())


def test_robust_threshold_ignores_a_minority_of_outliers():
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert robust_threshold(values, 2.0) == pytest.approx(3.0 + 2.0 * 1.4826 * 1.0)
    assert robust_threshold(values + [1000.0], 2.0) < 10.0  # mean + 2 std would be ~ 900


def test_rescore_pulls_scores_towards_similar_images():
    descriptors = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.95, 0.05], [0.0, 1.0], [0.1, 0.9]])
    scores = torch.tensor([1.0, 1.0, 4.0, 2.0, 2.0])
    out = rescore(scores, descriptors, neighbours=2, weight=0.5)
    assert out[2] == pytest.approx(0.5 * 4.0 + 0.5 * 1.0)  # its two look-alikes score 1
    assert out[3] == pytest.approx(0.5 * 2.0 + 0.5 * (2.0 + 1.0) / 2)  # its look-alike, then the next closest
    assert torch.equal(rescore(scores, descriptors, neighbours=2, weight=0.0), scores)
    assert rescore(scores, descriptors, neighbours=50, weight=1.0)[0] == pytest.approx(9.0 / 4)  # capped at N-1


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def small_coreset(monkeypatch):
    """The commands read settings from the environment; a small coreset keeps them quick."""
    monkeypatch.setenv("GOLDENSHOT_ZEROSHOT__CORESET_SIZE", "1024")


def test_zeroshot_command_writes_json_and_heatmaps(screw_root, tmp_path, small_coreset):
    good = sorted((screw_root / "test" / "good").iterdir())[:5]
    bad = sorted((screw_root / "test" / "pitting").iterdir())[:2]
    out = tmp_path / "batch.json"
    result = _run("zeroshot", *good, *bad, "--json", out, "--heatmaps", tmp_path / "maps")
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["count"] == 7 == report["ok"] + report["anomalous"]
    assert [r["image"] for r in report["images"]] == [str(p) for p in good + bad]
    for row in report["images"]:
        assert row["decision"] == ("ANOMALOUS" if row["score"] > report["threshold"] else "OK")
        with Image.open(row["overlay"]) as png:
            assert png.size == (1130, 460)
    assert result.stdout.strip().splitlines()[-1].startswith("7 images: ")


def test_zeroshot_command_bad_input_is_one_line_and_writes_nothing(screw_root, tmp_path):
    good = sorted((screw_root / "test" / "good").iterdir())[:3]
    corrupt = tmp_path / "bad.jpg"
    corrupt.write_bytes(good[0].read_bytes()[:500])
    out = tmp_path / "batch.json"
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, fragment in [
        ((*good, corrupt), "bad.jpg"),
        ((good[0],), "at least 2 images"),
        ((empty,), "no images"),
    ]:
        result = _run("zeroshot", *args, "--json", out)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1 and fragment in result.stderr
    assert not out.exists()


def test_eval_zero_shot_writes_the_few_shot_contract_with_shots_0(tile_root, tmp_path, small_coreset):
    out = tmp_path / "eval.json"
    result = _run("eval", tile_root, "--zero-shot", "--seeds", "0", "--max-test", "16", "--json", out)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    (run,) = report["runs"]
    assert run["shots"] == 0 and run["support"] == [] and run["n_test"] == 16
    for key in ("image_auroc", "pixel_auroc", "aupro", "f1_max", "fpr_at_threshold", "tpr_at_threshold"):
        assert 0.0 <= run[key] <= 1.0
    assert run["ms_per_image"] > 0 and report["summary"][0]["shots"] == 0
    refused = _run("eval", tile_root, "--zero-shot", "--shots", "1", "--json", out)
    assert refused.exit_code == 2 and "--shots" in refused.stderr
