"""The `goldenshot` command: fit, inspect, watch, zeroshot, eval, bench, train-extractor, export.

Flags override the settings read from GOLDENSHOT_* env vars; every known failure is one line on
stderr naming the cause and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

# Only the CLI's skeleton is imported here: `goldenshot --help` and argument errors answer in a
# fraction of a second; torch, onnxruntime and the engine load inside the command that needs them.
if TYPE_CHECKING:
    import numpy as np

    from goldenshot.fewshot import Progress
    from goldenshot.inspector import Inspection
    from goldenshot.settings import Settings

# torch's OpenMP workers spin for a while after each parallel region (the kNN product); on a few cores
# that takes the core onnxruntime's worker needs for the next image's backbone. Waiting passively took
# 1-2 ms off a 16 ms inspection (docs/results.md). libgomp reads it once, when torch loads (after this
# line: the engine loads inside the commands); a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Few-shot visual anomaly detection.")



def _user_errors() -> tuple[type[BaseException], ...]:
    """The failures a user causes (bad file, bad flag, bad weights): one line each, never a traceback."""
    from goldenshot.backbones import WeightsError
    from goldenshot.data import DatasetError
    from goldenshot.export import ExportError
    from goldenshot.fewshot import FitError
    from goldenshot.fingerprint import FingerprintError
    from goldenshot.images import ImageError
    from goldenshot.training import TrainError

    return (ImageError, DatasetError, FitError, FingerprintError, WeightsError, TrainError, ExportError, ValueError, OSError)

Backbone = Annotated[Optional[str], typer.Option(help="mobilenet_v2 | efficientnet_lite0 | efficientnet_lite2 | resnet18 | resnet50 | wide_resnet50_2 | convnext_tiny | dinov2_vits14 | dinov2_vitb14 (the last five need --weights), or shipped ones joined by + (see docs/backbones.md)")]
Weights = Annotated[Optional[Path], typer.Option(help="torchvision-format weights file (ResNets need one)")]


def decimal(text: str) -> float:
    """A number typed with a decimal point or a decimal comma ("3.25" or "3,25": keyboards on the floor
    differ); one separator only, so "1.234,5" is refused rather than guessed."""
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number (write 3.25 or 3,25)") from None


def _settings(backbone: str | None = None, weights: Path | None = None, augment: bool | None = None) -> Settings:
    import logging

    from goldenshot import threads
    from goldenshot.settings import Settings

    settings = Settings()
    update: dict = {}
    if backbone:
        update["backbone"] = backbone
    if weights:
        update["weights"] = weights
    if augment is not None:  # a person's choice: not left to self-configuration
        update["augment"] = settings.augment.model_copy(update={"enabled": augment})
        update["selfconfig"] = settings.selfconfig.model_copy(update={"enabled": False})
    settings = settings.model_copy(update=update)
    threads.share.set_threads(settings.threads)
    logging.basicConfig(
        level=settings.log_level, stream=sys.stderr, format="ts=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)r"
    )
    return settings


def _fail(exc: BaseException) -> None:
    """One line on stderr, whatever the exception's own formatting."""
    typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
    raise typer.Exit(2)


def _int_list(flag: str, text: str, minimum: int) -> list[int]:
    """'1,2,4' -> [1, 2, 4]; anything else is a ValueError naming the flag."""
    try:
        values = [int(x) for x in text.split(",")]
    except ValueError:
        raise ValueError(f"{flag} expects comma-separated integers, got {text!r}") from None
    if min(values) < minimum:
        raise ValueError(f"{flag} values must be >= {minimum}, got {text!r}")
    return values


def _image_paths(items: list[Path]) -> list[Path]:
    """Folders expand to their images (sorted); files are taken as given."""
    from goldenshot.data import list_images

    return [p for item in items for p in (list_images(item) if item.is_dir() else [item])]


@contextmanager
def _progress_bars() -> Iterator[Progress]:
    """A progress callback drawing one tqdm bar per stage on stderr, when stderr is a terminal (so
    logs and error lines stay clean); the bars close on exit."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = tqdm(total=total, desc=stage, file=sys.stderr, leave=False, disable=None)
        bars[stage].n = done
        bars[stage].refresh()

    try:
        yield progress
    finally:
        for bar in bars.values():
            bar.close()


def _check_output(path: Path) -> None:
    """Refuse an unusable output path before minutes of work, not after."""
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, expected a file path")
    if path.parent.exists() and not path.parent.is_dir():
        raise ValueError(f"{path.parent}: is not a directory")


@app.command()
def fit(
    images: Annotated[list[Path], typer.Option("--images", help="folder of golden samples, or image files (repeatable)")],
    out: Annotated[Path, typer.Option(help="fingerprint file to write (.safetensors)")],
    shots: Annotated[Optional[int], typer.Option(help="use K golden samples drawn with --seed (protocol draw)")] = None,
    seed: int = 0,
    threshold: Annotated[Optional[float], typer.Option(parser=decimal, metavar="FLOAT", help="decision threshold (3.25 or 3,25); default: from leave-one-out scores")] = None,
    augment: Annotated[Optional[bool], typer.Option("--augment/--no-augment")] = None,
    backbone: Backbone = None,
    weights: Weights = None,
) -> None:
    """Build a fingerprint from golden samples (good parts only)."""
    from goldenshot.data import support_set
    from goldenshot.features import build_extractor
    from goldenshot.fewshot import fit as fit_fingerprint
    from goldenshot.fewshot import golden_samples

    try:
        settings = _settings(backbone, weights, augment)
        paths = _image_paths(images)
        if shots is not None:
            paths = support_set(paths, shots, seed)
        extractor = build_extractor(settings)
        _check_output(out)
        with _progress_bars() as progress:
            fingerprint = fit_fingerprint(golden_samples(paths, settings), extractor, settings, threshold, progress)
        size = fingerprint.save(out)
    except _user_errors() as exc:
        _fail(exc)
    meta = fingerprint.meta
    for stray in meta.strays:
        typer.echo(f"warning: golden sample {stray.name} looks unlike the others (leave-one-out score {stray.score:.3f}); left out", err=True)
    if meta.selfconfig is not None:
        tried = ", ".join(f"{name} {auroc:.3f}" for name, auroc in meta.selfconfig.auroc.items())
        typer.echo(f"self-configuration: chose {meta.selfconfig.chosen} (held-out goods vs synthetic defects, AUROC: {tried})")
    typer.echo(
        f"fingerprint {out}: {len(paths)} golden samples, {meta.coreset_rows} bank rows, "
        f"threshold {meta.threshold:.4f} ({meta.threshold_source}"
        f"{'' if meta.target_fpr is None else f', aiming at {meta.target_fpr:.0%} false alarms'}), {size / 1e6:.2f} MB"
    )


@app.command()
def inspect(
    fingerprint: Annotated[Path, typer.Option(help="fingerprint file")],
    images: Annotated[list[Path], typer.Argument(help="images to inspect: files and/or folders")],
    heatmaps: Annotated[Optional[Path], typer.Option(help="folder for heatmap and overlay PNGs")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print results as JSON")] = False,
    threshold: Annotated[Optional[float], typer.Option(parser=decimal, metavar="FLOAT", help="override the fingerprint's threshold (3.25 or 3,25)")] = None,
    weights: Weights = None,
) -> None:
    """Score images against a fingerprint: decision, score, regions, heatmaps."""
    from goldenshot.images import ImageError, decode_near, read_bytes
    from goldenshot.inspector import Inspector
    from goldenshot.maps import display_size

    try:
        settings = _settings()
        paths = _image_paths(images)
        inspector = Inspector.load(fingerprint, weights, settings)
        if threshold is not None:
            inspector = Inspector(inspector.extractor, inspector.fingerprint.with_threshold(threshold))
        if heatmaps is not None:
            heatmaps.mkdir(parents=True, exist_ok=True)
    except _user_errors() as exc:
        _fail(exc)
    # decoded near the working size; with pictures, also no smaller than they are drawn (maps.max_side)
    max_side = inspector.fingerprint.meta.maps.max_side

    def target(height: int, width: int) -> tuple[int, int]:
        shown = display_size(height, width, max_side) if heatmaps is not None else (0, 0)
        work = inspector.working_size(height, width)
        return max(work[0], shown[0] // 2), max(work[1], shown[1] // 2)

    results, failed, used = [], 0, set()
    for path in paths:
        try:
            image, size = decode_near(read_bytes(path, settings.limits.max_bytes), str(path), settings.limits.max_pixels, target)
        except ImageError as exc:
            typer.echo(f"error: {exc}", err=True)
            failed += 1
            continue
        result = inspector.inspect(image, size)
        row = {"image": str(path), **result.to_dict()}
        if heatmaps is not None:
            row.update(_write_pictures(heatmaps, _unique_stem(path, used), image, result))
        results.append(row)
        if not as_json:
            typer.echo(f"{path}: {result.decision} score={result.score:.4f} threshold={result.threshold:.4f} regions={len(result.regions)}")
    if as_json:
        typer.echo(json.dumps(results, indent=2))
    if failed:
        raise typer.Exit(1)


@app.command()
def watch(
    folder: Annotated[Path, typer.Argument(help="folder that new images are dropped into")],
    fingerprint: Annotated[Path, typer.Option(help="fingerprint file")],
    out: Annotated[Optional[Path], typer.Option(help="append results here as JSON lines [default: stdout]")] = None,
    sort: Annotated[bool, typer.Option("--sort", help="move each handled file into ok/, anomalous/ or failed/ below FOLDER")] = False,
    state: Annotated[Optional[Path], typer.Option(help="state file of handled files [default: FOLDER/.goldenshot-watch.jsonl]")] = None,
    interval: Annotated[float, typer.Option(min=0.01, help="seconds between looks at the folder")] = 0.2,
    settle: Annotated[float, typer.Option(min=0.0, help="seconds a file's size and mtime must stay unchanged before it is read")] = 0.5,
    events: Annotated[
        bool, typer.Option("--events/--no-events", help="read a file as soon as its writer closes it or it is moved in (Linux inotify); --settle still covers what no event reports")
    ] = True,
    once: Annotated[bool, typer.Option("--once", help="handle what is there, then exit (1 if the folder is missing)")] = False,
    weights: Weights = None,
) -> None:
    """Inspect each new image dropped into FOLDER once, as JSON lines; a restart resumes without doubles.

    A folder that disappears is reported on stderr and waited for (it comes back when a share is
    remounted); with --once it ends with exit code 1. Ctrl-C stops cleanly.
    """
    from goldenshot.images import ImageError, read_bytes
    from goldenshot.inspector import Inspector
    from goldenshot.watch import FolderGone, FolderWatch, follow

    try:
        settings = _settings()
        inspector = Inspector.load(fingerprint, weights, settings)
        watcher = FolderWatch(folder, state, settle, sort, events)
        sink = open(out, "a", encoding="utf-8") if out is not None else sys.stdout
    except _user_errors() as exc:
        _fail(exc)
    limits = settings.limits

    def handle(path: Path) -> dict:
        image, size = inspector.decode(read_bytes(path, limits.max_bytes), str(path), limits.max_pixels)
        return inspector.inspect(image, size).to_dict()

    def report(path: Path, outcome: str, row: dict) -> None:
        sink.write(json.dumps({"image": str(path), "at": time.time(), **row}) + "\n")
        sink.flush()

    stop, missing = threading.Event(), False
    try:
        while not stop.is_set():
            try:
                follow(watcher, handle, report, stop, interval, (ImageError,), once)
                return
            except FolderGone as exc:
                if once:
                    typer.echo(f"error: {exc}", err=True)
                    raise typer.Exit(1) from None
                if not missing:  # once per disappearance, not every poll
                    typer.echo(f"warning: {exc}; waiting for it to come back", err=True)
                missing = True
                stop.wait(interval)
                if watcher.folder.is_dir():
                    typer.echo(f"watching {watcher.folder} again", err=True)
                    missing = False
    except OSError as exc:  # the state file or a sorting folder cannot be written: stop, nothing lost
        _fail(exc)
    except KeyboardInterrupt:
        pass
    finally:
        if out is not None:
            sink.close()


def _unique_stem(path: Path, used: set[str]) -> str:
    stem, n = path.stem, 1
    while stem in used:
        n += 1
        stem = f"{path.stem}-{n}"
    used.add(stem)
    return stem


def _write_pictures(folder: Path, stem: str, image: np.ndarray, result: Inspection) -> dict[str, str]:
    from goldenshot.overlay import pictures

    heat, over = folder / f"{stem}_heatmap.png", folder / f"{stem}_overlay.png"
    heat_png, over_png = pictures(image, result.score_map, result.regions, result.pixel_threshold, result.size)
    heat.write_bytes(heat_png)
    over.write_bytes(over_png)
    return {"heatmap": str(heat), "overlay": str(over)}


@app.command("eval")
def eval_command(
    root: Annotated[Path, typer.Argument(help="category folder (MVTec layout)")],
    out: Annotated[Path, typer.Option("--json", help="JSON report to write")],
    shots: Annotated[Optional[str], typer.Option(help="comma-separated K [default: 1,2,4,8]")] = None,
    seeds: Annotated[str, typer.Option(help="comma-separated seeds")] = "0,1,2",
    zero_shot: Annotated[bool, typer.Option("--zero-shot", help="no golden samples: the test split scores itself (shots 0)")] = False,
    max_test: Annotated[Optional[int], typer.Option(min=1, help="score a fixed random subset of the test split")] = None,
    backbone: Backbone = None,
    weights: Weights = None,
) -> None:
    """Few-shot (or --zero-shot) protocol: AUROC, pixel AUROC, AUPRO, F1-max for each K and seed."""
    from goldenshot.evaluation import evaluate, evaluate_zero_shot

    try:
        _check_output(out)
        seed_list = _int_list("--seeds", seeds, 0)
        if zero_shot:
            if shots is not None:
                raise ValueError("--shots does not apply to --zero-shot (no golden samples are drawn)")
            with _progress_bars() as progress:
                report = evaluate_zero_shot(root, seed_list, _settings(backbone, weights), max_test, progress)
        else:
            shot_list = _int_list("--shots", shots or "1,2,4,8", 1)
            report = evaluate(root, shot_list, seed_list, _settings(backbone, weights), max_test)
        _write_json(out, report)
    except _user_errors() as exc:
        _fail(exc)
    for row in report["summary"]:
        typer.echo(json.dumps(row))


@app.command("zeroshot")
def zeroshot_command(
    images: Annotated[list[Path], typer.Argument(help="one product's batch: folders and/or image files")],
    out: Annotated[Path, typer.Option("--json", help="JSON report to write")],
    heatmaps: Annotated[Optional[Path], typer.Option(help="folder for heatmap and overlay PNGs")] = None,
    seed: Annotated[Optional[int], typer.Option(help="seed of the coreset's image sampling")] = None,
    backbone: Backbone = None,
    weights: Weights = None,
) -> None:
    """Zero-shot: no golden samples; every image is scored against the rest of its batch."""
    from goldenshot.features import build_extractor
    from goldenshot.images import ImageFiles, read_image
    from goldenshot.inspector import ANOMALOUS, OK
    from goldenshot.zeroshot import score_batch

    try:
        settings = _settings(backbone, weights)
        if seed is not None:
            settings = settings.model_copy(update={"seed": seed})
        paths = _image_paths(images)
        _check_output(out)
        if heatmaps is not None:
            heatmaps.mkdir(parents=True, exist_ok=True)
        extractor = build_extractor(settings)
        limits = settings.limits
        with _progress_bars() as progress:
            batch = score_batch(ImageFiles(paths, limits.max_pixels, limits.max_bytes), extractor, settings, progress)
        rows, used = [], set()
        for i, path in enumerate(paths):
            result = batch.inspection(i, settings.maps)
            row = {"image": str(path), **result.to_dict()}
            if heatmaps is not None:
                image = read_image(path, limits.max_pixels, limits.max_bytes)
                row.update(_write_pictures(heatmaps, _unique_stem(path, used), image, result))
            rows.append(row)
        decisions = [row["decision"] for row in rows]
        report = {
            "count": len(rows),
            "ok": decisions.count(OK),
            "anomalous": decisions.count(ANOMALOUS),
            "threshold": batch.threshold,
            "pixel_threshold": batch.pixel_threshold,
            "coreset_rows": batch.coreset_rows,
            "images": rows,
        }
        _write_json(out, report)
    except _user_errors() as exc:
        _fail(exc)
    for row in rows:
        typer.echo(f"{row['image']}: {row['decision']} score={row['score']:.4f} regions={len(row['regions'])}")
    typer.echo(f"{report['count']} images: {report['ok']} OK, {report['anomalous']} ANOMALOUS (threshold {report['threshold']:.4f}, from the batch)")


@app.command("bench")
def bench_command(
    root: Annotated[Path, typer.Argument(help="category folder (MVTec layout)")],
    out: Annotated[Path, typer.Option("--json", help="JSON report to write")],
    shots: Annotated[int, typer.Option(min=1)] = 8,
    max_images: Annotated[int, typer.Option(min=1)] = 100,
    backbone: Backbone = None,
    weights: Weights = None,
) -> None:
    """Speed and memory: fit time, per-image latency (decode to regions), RSS, fingerprint size."""
    from goldenshot.evaluation import bench as run_bench

    try:
        _check_output(out)
        report = run_bench(root, shots, _settings(backbone, weights), max_images)
        _write_json(out, report)
    except _user_errors() as exc:
        _fail(exc)
    typer.echo(json.dumps(report))


@app.command("train-extractor")
def train_extractor_command(
    data: Annotated[list[Path], typer.Option("--data", help="category folder with train/good, or a folder of categories (repeatable)")],
    out: Annotated[Path, typer.Option(help="backbone weights file to write (.safetensors)")],
    epochs: Annotated[Optional[int], typer.Option(min=1)] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=2)] = None,
    steps_per_epoch: Annotated[Optional[int], typer.Option(min=1, help="default: one pass over the images")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="checkpoint to continue from (same data and settings)")] = None,
    checkpoint_dir: Annotated[Optional[Path], typer.Option(help="write epoch_<n>.safetensors here after every epoch")] = None,
    seed: Annotated[Optional[int], typer.Option()] = None,
    backbone: Backbone = None,
    weights: Annotated[Optional[Path], typer.Option(help="starting weights (default: the backbone's ImageNet file)")] = None,
) -> None:
    """Stage 1: fine-tune a backbone on good images with SimSiam; the output works as --weights."""
    from goldenshot.training import train_extractor

    try:
        settings = _settings(backbone, weights)
        given = {"epochs": epochs, "batch_size": batch_size, "steps_per_epoch": steps_per_epoch}
        train = settings.train.model_copy(update={k: v for k, v in given.items() if v is not None})
        settings = settings.model_copy(update={"train": train, "seed": settings.seed if seed is None else seed})
        _check_output(out)
        result = train_extractor(data, out, settings, checkpoint_dir, resume)
    except _user_errors() as exc:
        _fail(exc)
    tail = result.losses[-10:]
    last = f", mean loss of the last {len(tail)} steps {sum(tail) / len(tail):.4f}" if tail else ""
    typer.echo(f"weights {out}: {result.step}/{result.total_steps} steps{last}")


@app.command("export")
def export_command(
    triton: Annotated[Optional[Path], typer.Option("--triton", help="Triton model repository folder to write the model into (default: only the in-process cache)")] = None,
    device: Annotated[str, typer.Option(help="gpu: onnxruntime backend on GPU; cpu: Python backend (nvidia-pytriton's tritonserver)")] = "gpu",
    model: Annotated[str, typer.Option("--model-name", help="Triton model name")] = "backbone",
    max_batch_size: Annotated[int, typer.Option(min=1)] = 16,
    cpu_threads: Annotated[int, typer.Option(min=0, help="--device cpu: onnxruntime threads (0: every physical core)")] = 0,
    backbone: Backbone = None,
    weights: Weights = None,
) -> None:
    """Export the backbone to ONNX (checked against torch) into the cache the in-process runtime reads, and
    copy that same file into a Triton model repository whose config carries the backbone's identity."""
    from goldenshot.export import Serving
    from goldenshot.onnx_backbone import exported_model, export_triton

    try:
        serving = Serving(device, model, max_batch_size, cpu_threads)
        settings = _settings(backbone, weights)
        if triton is None:
            path, card = exported_model(settings.backbone, settings.weights, settings.taps, settings.cache_dir)
            where = f"model {path}"
        else:
            card = export_triton(triton, serving, settings.backbone, settings.weights, settings.taps, settings.cache_dir)
            where = f"model {model} in {triton} ({device})"
    except _user_errors() as exc:
        _fail(exc)
    typer.echo(
        f"{where}: {card.backbone} taps {','.join(card.taps)}, "
        f"onnx sha256 {card.onnx_sha256[:12]}, max relative difference to torch {card.max_rel_diff:.1e}"
    )


def _write_json(path: Path, data: dict) -> None:
    from goldenshot.atomic import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2))


def _add_plugins() -> None:
    """Commands installed by other packages (the server's `serve`, `keys`) under entry point group
    goldenshot.commands: the library never imports them, they only register here."""
    for entry in entry_points(group="goldenshot.commands"):
        target = entry.load()
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=entry.name)
        else:
            app.command(entry.name)(target)


_add_plugins()
