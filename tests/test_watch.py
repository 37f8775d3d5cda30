"""The watched folder (goldenshot.watch) on real files in a temp folder, and `goldenshot watch` end to end."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from goldenshot.cli import app
from goldenshot.images import read_image
from goldenshot.watch import FAILED, FolderGone, FolderWatch, follow


def _png(value: int = 128) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _handle(path: Path) -> dict:
    """A real decode; the decision is read from the name so tests know what to expect."""
    read_image(path)
    return {"decision": "ANOMALOUS" if path.name.startswith("bad") else "OK"}


def _run(watch: FolderWatch) -> list[tuple[str, str]]:
    """Everything ready now, handled once: [(name, outcome)] in the order reported."""
    seen: list[tuple[str, str]] = []
    follow(watch, _handle, lambda path, outcome, row: seen.append((path.name, outcome)), threading.Event(), 0.01, once=True)
    return seen


def test_each_file_once_and_a_restart_resumes_without_doubles(tmp_path):
    folder, state = tmp_path / "in", tmp_path / "state.jsonl"
    folder.mkdir()
    for name in ("a.png", "b.png", "notes.txt", ".hidden.png"):
        (folder / name).write_bytes(_png())
    assert sorted(_run(FolderWatch(folder, state, settle_s=0.0))) == [("a.png", "OK"), ("b.png", "OK")]
    assert _run(FolderWatch(folder, state, settle_s=0.0)) == []  # a restart: nothing twice
    (folder / "c.png").write_bytes(_png())
    (folder / "a.png").write_bytes(_png(7) + b"\0" * 10)  # rewritten under the same name: a new file
    assert sorted(_run(FolderWatch(folder, state, settle_s=0.0))) == [("a.png", "OK"), ("c.png", "OK")]


def test_a_file_being_written_is_read_only_once_complete(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    data = _png()
    (folder / "part.png").write_bytes(data[: len(data) // 2])
    watch = FolderWatch(folder, tmp_path / "state.jsonl", settle_s=0.3)
    assert watch.ready() == []  # just seen: not settled yet
    with open(folder / "part.png", "ab") as fh:
        fh.write(data[len(data) // 2 :])
    assert watch.ready() == []  # it changed: the wait starts again
    assert _run(watch) == [("part.png", "OK")]


def test_a_file_that_changes_while_read_is_not_failed(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    data = _png()
    path = folder / "slow.png"
    path.write_bytes(data[:20])
    watch = FolderWatch(folder, tmp_path / "state.jsonl", settle_s=0.0)
    assert watch.ready() == [path]
    path.write_bytes(data[:40])  # the writer went on after the file was handed out
    assert watch.changed(path)
    reported: list[str] = []

    def handle(p: Path) -> dict:
        if not reported:  # the first read meets the half-written file; the writer finishes meanwhile
            reported.append("tried")
            p.write_bytes(data)
            read_image(p.with_name("missing.png"))
        return _handle(p)

    follow(watch, handle, lambda p, outcome, row: reported.append(outcome), threading.Event(), 0.01, once=True)
    assert reported == ["tried", "OK"]


def test_sort_moves_files_and_a_bad_file_is_recorded_failed(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.png").write_bytes(_png())
    (folder / "bad.png").write_bytes(_png(3))
    (folder / "junk.jpg").write_bytes(b"not an image at all")
    watch = FolderWatch(folder, settle_s=0.0, sort=True)
    assert sorted(_run(watch)) == [("bad.png", "ANOMALOUS"), ("good.png", "OK"), ("junk.jpg", FAILED)]
    assert [p.name for p in (folder / "ok").iterdir()] == ["good.png"]
    assert [p.name for p in (folder / "anomalous").iterdir()] == ["bad.png"]
    assert [p.name for p in (folder / "failed").iterdir()] == ["junk.jpg"]
    lines = [json.loads(line) for line in (folder / ".goldenshot-watch.jsonl").read_text().splitlines()]
    assert {line["name"]: line["outcome"] for line in lines} == {"good.png": "OK", "bad.png": "ANOMALOUS", "junk.jpg": FAILED}
    assert "not an image" in next(line["error"] for line in lines if line["name"] == "junk.jpg")
    (folder / "good.png").write_bytes(_png())  # the same name dropped again: kept beside the first
    _run(watch)
    assert sorted(p.name for p in (folder / "ok").iterdir()) == ["good-2.png", "good.png"]


def test_a_folder_that_disappears_is_reported_and_comes_back(tmp_path):
    folder, state = tmp_path / "in", tmp_path / "state.jsonl"
    folder.mkdir()
    (folder / "a.png").write_bytes(_png())
    watch = FolderWatch(folder, state, settle_s=0.0)
    assert _run(watch) == [("a.png", "OK")]
    shutil.rmtree(folder)
    with pytest.raises(FolderGone, match="missing"):
        watch.ready()
    folder.mkdir()
    (folder / "b.png").write_bytes(_png())
    assert _run(watch) == [("b.png", "OK")]


def test_a_torn_state_line_is_skipped(tmp_path):
    folder, state = tmp_path / "in", tmp_path / "state.jsonl"
    folder.mkdir()
    (folder / "a.png").write_bytes(_png())
    _run(FolderWatch(folder, state, settle_s=0.0))
    with open(state, "a") as fh:
        fh.write('{"key": "b.png|12')  # a crash mid-append
    assert _run(FolderWatch(folder, state, settle_s=0.0)) == []


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, tile_root):
    out = tmp_path_factory.mktemp("fp") / "tile.safetensors"
    result = CliRunner().invoke(app, ["fit", "--images", str(tile_root / "train" / "good"), "--shots", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_cli_watch_writes_json_lines_sorts_and_resumes(fitted, tile_root, tmp_path):
    folder, out = tmp_path / "drop", tmp_path / "results.jsonl"
    folder.mkdir()
    good = sorted((tile_root / "test" / "good").iterdir())[0]
    shutil.copy(good, folder / good.name)
    (folder / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    args = ["watch", str(folder), "--fingerprint", str(fitted), "--out", str(out), "--sort", "--settle", "0", "--once"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = {Path(row["image"]).name: row for row in map(json.loads, out.read_text().splitlines())}
    assert set(rows) == {good.name, "junk.png"}
    assert rows[good.name]["decision"] in ("OK", "ANOMALOUS") and rows[good.name]["score"] > 0
    assert Path(rows[good.name]["image"]).parent.name == rows[good.name]["decision"].lower()
    assert "junk.png" in rows["junk.png"]["error"]
    shutil.copy(good, folder / "again.png")
    assert CliRunner().invoke(app, args).exit_code == 0
    assert [Path(json.loads(line)["image"]).name for line in out.read_text().splitlines()][2:] == ["again.png"]


def test_cli_watch_once_on_a_missing_folder_exits_1(fitted, tmp_path):
    result = CliRunner().invoke(app, ["watch", str(tmp_path / "nowhere"), "--fingerprint", str(fitted), "--once"])
    assert result.exit_code == 1
    assert "watched folder is missing" in result.output


def test_cli_watch_unwritable_output_is_one_line(fitted, tmp_path):
    (tmp_path / "in").mkdir()
    result = CliRunner().invoke(app, ["watch", str(tmp_path / "in"), "--fingerprint", str(fitted), "--out", str(tmp_path / "no" / "r.jsonl"), "--once"])
    assert result.exit_code == 2 and result.output.startswith("error: ") and result.output.count("\n") == 1, result.output


def test_a_file_last_written_long_ago_is_ready_at_first_sight(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "old.png").write_bytes(_png())
    os.utime(folder / "old.png", (time.time() - 3600, time.time() - 3600))
    (folder / "new.png").write_bytes(_png())
    watch = FolderWatch(folder, tmp_path / "state.jsonl", settle_s=60.0)
    assert watch.ready() == [folder / "old.png"]  # the fresh one waits for its minute


def test_cli_watch_waits_for_a_folder_that_disappears(fitted, tile_root, tmp_path):
    """The long-running command (a real process, stopped by PID): a missing folder is one warning, then
    files dropped into the folder once it is back are inspected."""
    folder, out, err = tmp_path / "drop", tmp_path / "results.jsonl", tmp_path / "stderr.txt"
    folder.mkdir()
    good = sorted((tile_root / "test" / "good").iterdir())[0]
    shutil.copy(good, folder / "first.jpg")
    cmd = [sys.executable, "-m", "goldenshot", "watch", str(folder), "--fingerprint", str(fitted), "--out", str(out), "--state", str(tmp_path / "state.jsonl"), "--settle", "0", "--interval", "0.05"]
    with open(err, "wb") as stderr:
        proc = subprocess.Popen(cmd, stderr=stderr)
    try:
        assert _wait(lambda: out.is_file() and len(out.read_text().splitlines()) == 1), err.read_text()
        shutil.rmtree(folder)
        assert _wait(lambda: "watched folder is missing; waiting" in err.read_text()), err.read_text()
        assert proc.poll() is None
        folder.mkdir()
        shutil.copy(good, folder / "second.jpg")
        assert _wait(lambda: len(out.read_text().splitlines()) == 2), err.read_text()
        assert [Path(json.loads(line)["image"]).name for line in out.read_text().splitlines()] == ["first.jpg", "second.jpg"]
        assert err.read_text().count("missing") == 1  # once per disappearance, not every poll
    finally:
        proc.terminate()
        proc.wait(20)


def _wait(probe, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while not probe() and time.monotonic() < deadline:
        time.sleep(0.1)
    return probe()


class _Following:
    """follow() in its own thread as the CLI and the server run it (a missing folder is waited for),
    recording (name, outcome, time.monotonic()) of each handled file."""

    def __init__(self, watch: FolderWatch, interval: float = 0.2) -> None:
        self.watch, self.interval = watch, interval
        self.seen: list[tuple[str, str, float]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                follow(self.watch, _handle, lambda path, outcome, row: self.seen.append((path.name, outcome, time.monotonic())), self.stop, self.interval)
            except FolderGone:
                self.stop.wait(self.interval)

    def __enter__(self) -> _Following:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()

    def names(self) -> list[str]:
        return [name for name, _, _ in self.seen]

    def probe(self, name: str = "probe.png") -> None:
        """A file last written long ago is handed out at the first look, which starts the file events
        first: once it is reported, events are on."""
        path = self.watch.folder / name
        path.write_bytes(_png())
        os.utime(path, (time.time() - 3600, time.time() - 3600))
        assert _wait(lambda: name in self.names(), 30), self.seen

    def handed_out(self, name: str, timeout: float) -> float:
        """When `name` was reported (time.monotonic()); fails after `timeout`."""
        assert _wait(lambda: name in self.names(), timeout), self.seen
        return next(at for seen, _, at in self.seen if seen == name)


def _move_in(folder: Path, name: str, staging: Path) -> float:
    """A camera's complete file: written beside the folder, renamed in; returns when (time.monotonic())."""
    staging.mkdir(exist_ok=True)
    (staging / name).write_bytes(_png())
    os.utime(staging / name)  # last written now: the settle wait counts from here
    moved = time.monotonic()
    os.replace(staging / name, folder / name)
    return moved


@pytest.mark.parametrize("events", [True, False])
def test_a_file_written_slowly_in_chunks_is_handed_out_once_after_it_is_closed(tmp_path, events):
    """Chunks 0.2 s apart (4 polls) into a file held open: not handed out while open, once after the close
    (events: at once; without: once it settled)."""
    folder = tmp_path / "in"
    folder.mkdir()
    data = _png()
    with _Following(FolderWatch(folder, tmp_path / "state.jsonl", settle_s=2.0, events=events), interval=0.05) as following:
        following.probe()
        with open(folder / "slow.png", "wb") as fh:
            for start in range(0, len(data), len(data) // 4 + 1):
                fh.write(data[start : start + len(data) // 4 + 1])
                fh.flush()
                time.sleep(0.2)
            assert following.names() == ["probe.png"]  # still open: nothing handed out
            closing = time.monotonic()
        assert following.handed_out("slow.png", 30) >= closing
        time.sleep(0.5)  # a few more looks: not again
    assert following.seen[1:] == [("slow.png", "OK", following.seen[1][2])]


def test_a_file_moved_in_is_handed_out_at_once_not_after_settle(tmp_path):
    """The default watch (events on) with a 5 s settle: a file renamed into the folder from beside it,
    and one renamed from a hidden temporary name inside it, are each handed out well before 5 s."""
    folder = tmp_path / "in"
    folder.mkdir()
    with _Following(FolderWatch(folder, tmp_path / "state.jsonl", settle_s=5.0)) as following:
        following.probe()
        moved = _move_in(folder, "cam1.png", tmp_path / "staging")
        assert following.handed_out("cam1.png", 30) - moved < 1.5
        (folder / ".cam2.png.part").write_bytes(_png())
        moved = time.monotonic()
        os.replace(folder / ".cam2.png.part", folder / "cam2.png")
        assert following.handed_out("cam2.png", 30) - moved < 1.5
    assert following.names() == ["probe.png", "cam1.png", "cam2.png"]


def test_without_events_a_file_moved_in_waits_for_settle(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    with _Following(FolderWatch(folder, tmp_path / "state.jsonl", settle_s=1.0, events=False), interval=0.05) as following:
        following.probe()
        moved = _move_in(folder, "cam1.png", tmp_path / "staging")
        assert following.handed_out("cam1.png", 30) - moved >= 0.8  # counted from its mtime, just before the move


def test_with_events_a_restart_resumes_without_doubles(tmp_path):
    folder, state = tmp_path / "in", tmp_path / "state.jsonl"
    folder.mkdir()
    with _Following(FolderWatch(folder, state, settle_s=5.0)) as following:
        following.probe()
        for name in ("a.png", "b.png"):
            _move_in(folder, name, tmp_path / "staging")
        following.handed_out("b.png", 30)
        following.handed_out("a.png", 30)
    with _Following(FolderWatch(folder, state, settle_s=5.0)) as following:  # a restart: only what is new
        following.probe("probe2.png")
        _move_in(folder, "c.png", tmp_path / "staging")
        following.handed_out("c.png", 30)
        time.sleep(0.5)
    assert following.names() == ["probe2.png", "c.png"]


def test_events_follow_a_folder_that_is_removed_and_made_again(tmp_path):
    """The events' watch dies with the folder; the new folder at the same path gets its own (a
    remounted share is a new folder too)."""
    folder = tmp_path / "in"
    folder.mkdir()
    threads = threading.active_count()
    with _Following(FolderWatch(folder, tmp_path / "state.jsonl", settle_s=5.0), interval=0.05) as following:
        following.probe()
        shutil.rmtree(folder)
        folder.mkdir()
        time.sleep(0.3)  # the old watch has seen its folder go (the next look then starts a new one)
        following.probe("probe2.png")
        moved = _move_in(folder, "after.png", tmp_path / "staging")
        assert following.handed_out("after.png", 30) - moved < 1.5
    assert _wait(lambda: threading.active_count() == threads, 10)  # the events' threads end with follow
