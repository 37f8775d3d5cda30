"""The goldenshot command, in-process through typer's runner plus one real subprocess."""

import json
import subprocess
import sys

import pytest
from PIL import Image
from typer.testing import CliRunner

from goldenshot.cli import app

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, tile_root):
    out = tmp_path_factory.mktemp("fp") / "tile.safetensors"
    result = _run("fit", "--images", tile_root / "train" / "good", "--shots", "2", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_fit_then_inspect_json_and_heatmaps(fitted, tile_root, tmp_path):
    good = sorted((tile_root / "test" / "good").iterdir())[0]
    bad = sorted((tile_root / "test" / "break").iterdir())[0]
    result = _run("inspect", "--fingerprint", fitted, good, bad, "--heatmaps", tmp_path / "maps", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["image"] for r in rows] == [str(good), str(bad)]
    for row in rows:
        assert row["decision"] in ("OK", "ANOMALOUS") and row["score"] >= 0
        for key in ("heatmap", "overlay"):
            with Image.open(row[key]) as png:
                assert png.format == "PNG" and png.size == Image.open(row["image"]).size


def test_inspect_reports_unreadable_images_and_goes_on(fitted, tile_root, tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    good = sorted((tile_root / "test" / "good").iterdir())[0]
    result = _run("inspect", "--fingerprint", fitted, junk, good)
    assert result.exit_code == 1
    assert "junk.png" in result.stderr and str(good) in result.stdout


def test_eval_writes_the_contract(tile_root, tmp_path):
    out = tmp_path / "eval.json"
    result = _run("eval", tile_root, "--shots", "1,2", "--seeds", "0,1", "--max-test", "24", "--json", out)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["category"] == "magnetic_tile" and report["backbone"] == "mobilenet_v2"
    assert len(report["runs"]) == 4 and [s["shots"] for s in report["summary"]] == [1, 2]
    run_keys = {"shots", "seed", "support", "image_auroc", "pixel_auroc", "aupro", "f1_max", "fit_seconds", "ms_per_image", "n_test"}
    for run in report["runs"]:
        assert run_keys <= set(run) and run["n_test"] == 24 and len(run["support"]) == run["shots"]
        for key in ("image_auroc", "pixel_auroc", "aupro", "f1_max"):
            assert 0.0 <= run[key] <= 1.0
    summary_keys = {"shots", "image_auroc_mean", "image_auroc_std", "pixel_auroc_mean", "aupro_mean", "fit_seconds_mean", "ms_per_image_median"}
    assert all(summary_keys <= set(s) for s in report["summary"])


def test_bench_writes_the_contract(screw_root, tmp_path):
    out = tmp_path / "bench.json"
    result = _run("bench", screw_root, "--shots", "2", "--max-images", "4", "--json", out)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    for key in ("fit_seconds", "ms_per_image_p50", "ms_per_image_p95", "images_per_second", "peak_rss_mb", "fingerprint_bytes", "threads"):
        assert report[key] > 0


@pytest.mark.parametrize(
    "case, message",
    [
        ("empty", "no images"),
        ("too_many", "K=9"),
        ("corrupt", "bad.jpg"),
        ("no_weights", "resnet18"),
    ],
)
def test_bad_fit_input_is_one_line_and_writes_nothing(case, message, tmp_path, tile_root):
    folder = tmp_path / "golden"
    folder.mkdir()
    args = ["fit", "--images", folder, "--out", tmp_path / "fp.safetensors"]
    good = sorted((tile_root / "train" / "good").iterdir())[:3]
    for path in good:
        (folder / path.name).write_bytes(path.read_bytes())
    if case == "empty":
        for path in folder.iterdir():
            path.unlink()
    elif case == "too_many":
        args += ["--shots", "9"]
    elif case == "corrupt":
        (folder / "bad.jpg").write_bytes(good[0].read_bytes()[:500])
    else:
        args += ["--backbone", "resnet18"]
    result = _run(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "fp.safetensors").exists()


def test_damaged_fingerprint_is_refused(fitted, tmp_path, tile_root):
    short = tmp_path / "short.safetensors"
    short.write_bytes(fitted.read_bytes()[:1000])
    good = sorted((tile_root / "test" / "good").iterdir())[0]
    result = _run("inspect", "--fingerprint", short, good)
    assert result.exit_code == 2 and "short.safetensors" in result.stderr


def test_console_script_runs(fitted, tile_root):
    good = sorted((tile_root / "test" / "good").iterdir())[0]
    proc = subprocess.run(
        [sys.executable, "-m", "goldenshot", "inspect", "--fingerprint", str(fitted), str(good)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{good}: ") and "threshold=" in proc.stdout


def test_fingerprint_used_with_other_weights_is_refused(tmp_path, tile_root):
    import torch

    from goldenshot.nets import resnet18

    paths = []
    for seed in (0, 1):  # two random-weight files of the same architecture
        torch.manual_seed(seed)
        paths.append(tmp_path / f"resnet18-{seed}.pth")
        torch.save(resnet18().state_dict(), paths[-1])
    out = tmp_path / "fp.safetensors"
    fit = _run("fit", "--images", tile_root / "train" / "good", "--shots", "2", "--out", out, "--backbone", "resnet18", "--weights", paths[0])
    assert fit.exit_code == 0, fit.output
    good = sorted((tile_root / "test" / "good").iterdir())[0]
    assert _run("inspect", "--fingerprint", out, good, "--weights", paths[0]).exit_code == 0
    other = _run("inspect", "--fingerprint", out, good, "--weights", paths[1])
    assert other.exit_code == 2 and "made with backbone resnet18" in other.stderr


def _one_error_line(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_eval_refuses_bad_requests_before_working(tile_root, tmp_path):
    out = tmp_path / "eval.json"
    _one_error_line(_run("eval", tile_root, "--shots", "1,800", "--seeds", "0", "--json", out), "K=800")
    _one_error_line(_run("eval", tile_root, "--shots", "1,x", "--json", out), "--shots")
    _one_error_line(_run("eval", tmp_path, "--shots", "1", "--json", out))  # not a dataset
    _one_error_line(_run("eval", tile_root, "--shots", "1", "--json", tmp_path), "is a directory")
    assert not out.exists()


def test_threshold_takes_a_decimal_comma(fitted, tile_root):
    good = sorted((tile_root / "test" / "good").iterdir())[0]
    result = _run("inspect", "--fingerprint", fitted, good, "--threshold", "99,5", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["threshold"] == 99.5
    refused = _run("inspect", "--fingerprint", fitted, good, "--threshold", "1.234,5")
    assert refused.exit_code == 2 and "'1.234,5' is not a number" in refused.output


def test_missing_weights_file_and_bad_threshold(tile_root, tmp_path):
    images = tile_root / "train" / "good"
    out = tmp_path / "fp.safetensors"
    _one_error_line(_run("fit", "--images", images, "--shots", "2", "--out", out, "--backbone", "resnet18", "--weights", tmp_path / "nope.pth"), "nope.pth")
    _one_error_line(_run("fit", "--images", images, "--shots", "2", "--out", out, "--threshold", "nan"), "finite")
    assert not out.exists()


def _imported_by(*argv: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run `goldenshot ARGV` in a fresh interpreter; its exit and which heavy modules it imported."""
    heavy = ("torch", "onnxruntime", "cv2", "sqlalchemy", "uvicorn", "fastapi")
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['goldenshot', *{list(argv)!r}]\n"
        "try:\n    runpy.run_module('goldenshot', run_name='__main__')\n"
        "except SystemExit as e:\n    code = e.code\n"
        f"print('IMPORTED', *[m for m in {heavy!r} if m in sys.modules])\n"
        "sys.exit(code)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    line = [row for row in proc.stdout.splitlines() if row.startswith("IMPORTED")][-1]
    return proc, set(line.split()[1:])


def test_help_and_argument_errors_import_no_engine():
    """--help and a usage error answer from the CLI's skeleton: torch and the server stay unloaded."""
    help_run, imported = _imported_by("--help")
    assert help_run.returncode == 0 and "inspect" in help_run.stdout and "serve" in help_run.stdout
    assert imported == set()
    usage, imported = _imported_by("inspect", "--fingerprint", "fp.safetensors")
    assert usage.returncode == 2 and "Missing argument" in usage.stderr
    assert imported == set()


def test_inspect_takes_folders_like_fit(fitted, tile_root, tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    picked = sorted((tile_root / "test" / "good").iterdir())[:2]
    for path in picked:
        (folder / path.name).write_bytes(path.read_bytes())
    result = _run("inspect", "--fingerprint", fitted, folder, "--json")
    assert result.exit_code == 0, result.output
    assert [row["image"] for row in json.loads(result.stdout)] == [str(folder / p.name) for p in picked]
