"""A watched folder: each new image file handed out once, when completely written, across restarts.

Cameras and PLC scripts drop files into a folder, often writing them slowly or in several chunks.
FolderWatch is the one idea both `goldenshot watch` and the server's folder source use:
- a file is ready when its size and mtime have not changed for `settle_s` (a writer still appending
  changes one of them), counted from its mtime (a file moved in complete is ready at first sight) or
  from when it was first seen unchanged, whichever is earlier (an mtime in the future, from a share's
  skewed clock, does not delay it); a file that then fails to decode but changed meanwhile is waited for again;
- every handled file is appended to a small JSON-lines state file keyed by name + size + mtime, so a
  restart resumes without inspecting anything twice (a file rewritten under the same name is new);
- with `sort`, a handled file moves into ok/, anomalous/ or failed/ below the folder;
- a folder that disappears raises FolderGone on each poll; the caller decides (the CLI waits for it
  to come back, the server shows it on the source's status), nothing already recorded is lost.
Only the folder's top level is scanned, so the sorting subfolders are never picked up again.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from goldenshot.images import IMAGE_SUFFIXES

FAILED = "failed"
STATE_NAME = ".goldenshot-watch.jsonl"


class FolderGone(OSError):
    """The watched folder is missing or not a folder (unmounted share, deleted, renamed)."""


@dataclass(frozen=True)
class Stamp:
    """What identifies one version of a file: a file rewritten under the same name is seen again."""

    name: str
    size: int
    mtime_ns: int

    @property
    def key(self) -> str:
        return f"{self.name}|{self.size}|{self.mtime_ns}"


class FolderWatch:
    """Hands out each new, completely written image file of `folder` once (see the module docstring)."""

    def __init__(self, folder: Path, state: Path | None = None, settle_s: float = 0.5, sort: bool = False) -> None:
        self.folder = Path(folder)
        self.state = Path(state) if state is not None else self.folder / STATE_NAME
        self.settle_s = settle_s
        self.sort = sort
        self._done = self._load_state()
        self._pending: dict[str, tuple[Stamp, float]] = {}  # name -> (stamp last seen, when it was first seen so)

    def _load_state(self) -> set[str]:
        """Keys already handled; a torn last line (crash mid-append) is skipped, not fatal."""
        done: set[str] = set()
        try:
            lines = self.state.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return done
        for line in lines:
            try:
                done.add(json.loads(line)["key"])
            except (ValueError, KeyError, TypeError):
                continue
        return done

    def ready(self) -> list[Path]:
        """Files complete and not handled yet, oldest first. Raises FolderGone when the folder is missing."""
        if not self.folder.is_dir():
            self._pending.clear()
            raise FolderGone(f"{self.folder}: watched folder is missing")
        now, wall = time.monotonic(), time.time()
        seen: dict[str, Stamp] = {}
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:  # removed between the check and the listing
            raise FolderGone(f"{self.folder}: watched folder is missing") from None
        for entry in entries:
            if entry.name.startswith(".") or Path(entry.name).suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # moved away meanwhile
                continue
            stamp = Stamp(entry.name, info.st_size, info.st_mtime_ns)
            if stamp.key not in self._done:
                seen[entry.name] = stamp
        ready: list[tuple[int, Path]] = []
        pending: dict[str, tuple[Stamp, float]] = {}
        for name, stamp in seen.items():
            last = self._pending.get(name)
            since = last[1] if last is not None and last[0] == stamp else now
            since = min(since, now - max(0.0, wall - stamp.mtime_ns / 1e9))  # unchanged since its last write
            pending[name] = (stamp, since)
            if stamp.size > 0 and now - since >= self.settle_s:
                ready.append((stamp.mtime_ns, self.folder / name))
        self._pending = pending
        return [path for _, path in sorted(ready)]

    @property
    def waiting(self) -> int:
        """Files seen but not settled yet."""
        return len(self._pending)

    def changed(self, path: Path) -> bool:
        """True when the file differs from when it was handed out: a decode failure then means 'not
        finished yet' (it is handed out again once settled), not a bad file."""
        pending = self._pending.get(path.name)
        try:
            info = path.stat()
        except FileNotFoundError:
            return True
        return pending is None or pending[0] != Stamp(path.name, info.st_size, info.st_mtime_ns)

    def done(self, path: Path, outcome: str, detail: dict | None = None) -> Path:
        """Record a handled file (outcome: OK, ANOMALOUS or failed) and, with `sort`, move it into the
        outcome's subfolder; returns where the file now is. Recorded before moving: a crash in between
        leaves the file in place but never inspects it again."""
        stamp = self._pending.pop(path.name)[0]
        line = json.dumps({"key": stamp.key, "name": stamp.name, "outcome": outcome, **(detail or {})})
        self.state.parent.mkdir(parents=True, exist_ok=True)
        with open(self.state, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._done.add(stamp.key)
        if not self.sort:
            return path
        target_dir = self.folder / outcome.lower()
        target_dir.mkdir(exist_ok=True)
        target = target_dir / path.name
        n = 1
        while target.exists():  # the same name dropped again later: keep both
            n += 1
            target = target_dir / f"{path.stem}-{n}{path.suffix}"
        os.replace(path, target)
        return target


Handle = Callable[[Path], dict]
"""Inspects one file: a JSON-ready result with a "decision"; raises one of `invalid` for a bad file."""
Report = Callable[[Path, str, dict], None]
"""Told each handled file: where it is now, its outcome (OK, ANOMALOUS, failed) and the result or error."""


def follow(
    watch: FolderWatch,
    handle: Handle,
    report: Report,
    stop: threading.Event,
    interval: float = 0.2,
    invalid: tuple[type[BaseException], ...] = (ValueError,),
    once: bool = False,
) -> None:
    """Poll `watch` every `interval` until `stop` is set (or, with `once`, until nothing is left).

    A bad file is recorded as failed unless it changed while being read (then it is still being
    written and comes back once settled). FolderGone propagates: the caller chooses to wait or end.
    """
    while not stop.is_set():
        ready = watch.ready()
        for path in ready:
            if stop.is_set():
                return
            try:
                row = handle(path)
            except invalid as exc:
                if watch.changed(path):
                    continue
                outcome, row = FAILED, {"error": " ".join(str(exc).split())}
            else:
                outcome = row["decision"]
            report(watch.done(path, outcome, {"error": row["error"]} if outcome == FAILED else None), outcome, row)
        if once and not ready and not watch.waiting:
            return
        stop.wait(interval)
