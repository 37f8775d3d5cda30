"""A watched folder: each new image file handed out once, when completely written, across restarts.

Cameras and PLC scripts drop files into a folder, often writing them slowly or in several chunks.
FolderWatch is the one idea both `goldenshot watch` and the server's folder source use:
- with `events` (the default; Linux inotify, goldenshot.folder_events), while `follow` runs, a file is
  ready as soon as its writer closes it after writing or it is moved/renamed into the folder, if it has
  not changed since; a file still open for writing has had no such event and waits for the poll's rule.
  A writer that closes and reopens a file to append more must write under a temporary name and rename,
  or run with events off: each close counts as finished;
- otherwise (events off, or missed: a network share gives none for remote writers, the kernel's queue
  can overflow) the poll decides: a file is ready when its size and mtime have not changed for
  `settle_s` (a writer still appending changes one of them), counted from its mtime (a file moved in
  complete is ready at first sight) or from when it was first seen unchanged, whichever is earlier (an
  mtime in the future, from a share's skewed clock, does not delay it); the poll runs at its interval
  whether events come or not;
- a file that fails to decode but changed meanwhile is waited for again (by the poll's rule);
- every handled file is appended to a small JSON-lines state file keyed by name + size + mtime, so a
  restart resumes without inspecting anything twice (a file rewritten under the same name is new);
- with `sort`, a handled file moves into ok/, anomalous/ or failed/ below the folder;
- a folder that disappears raises FolderGone on each poll; the caller decides (the CLI waits for it
  to come back, the server shows it on the source's status), nothing already recorded is lost.
Only the folder's top level is scanned, so the sorting subfolders are never picked up again.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from goldenshot.folder_events import FolderEvents
from goldenshot.images import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

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

    def __init__(self, folder: Path, state: Path | None = None, settle_s: float = 0.5, sort: bool = False, events: bool = True) -> None:
        self.folder = Path(folder)
        self.state = Path(state) if state is not None else self.folder / STATE_NAME
        self.settle_s = settle_s
        self.sort = sort
        self.events = events
        self._done = self._load_state()
        self._pending: dict[str, tuple[Stamp, float]] = {}  # name -> (stamp last seen, when it was first seen so)
        self._finished: dict[str, Stamp] = {}  # name -> stamp when its close / move-in event came (events' thread writes)
        self._lock = threading.Lock()  # guards _finished
        self._woken = threading.Event()  # an event came since the last look
        self._listening = False  # inside listening(): events wanted
        self._listener: FolderEvents | None = None
        self._listened: tuple[int, int] | None = None  # (st_dev, st_ino) of the folder the listener was started on

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

    def _wanted(self, name: str) -> bool:
        return not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES

    def ready(self) -> list[Path]:
        """Files complete and not handled yet, oldest first. Raises FolderGone when the folder is missing."""
        if not self.folder.is_dir():
            self._pending.clear()
            raise FolderGone(f"{self.folder}: watched folder is missing")
        if self._listening:
            self._keep_listening()
        self._woken.clear()  # events from now on wake the next wait
        with self._lock:
            finished = dict(self._finished)
        now, wall = time.monotonic(), time.time()
        seen: dict[str, Stamp] = {}
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:  # removed between the check and the listing
            raise FolderGone(f"{self.folder}: watched folder is missing") from None
        for entry in entries:
            if not self._wanted(entry.name):
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
            if stamp.size > 0 and (finished.get(name) == stamp or now - since >= self.settle_s):
                ready.append((stamp.mtime_ns, self.folder / name))
        self._pending = pending
        with self._lock:  # forget events of files gone, handled or changed since; newer events stay
            for name, stamp in finished.items():
                if seen.get(name) != stamp and self._finished.get(name) == stamp:
                    del self._finished[name]
        return [path for _, path in sorted(ready)]

    @contextmanager
    def listening(self) -> Iterator[None]:
        """With `events`, files finished while inside are handed out by ready() at once (see the module
        docstring); the listener starts at the first ready() and stops on leaving."""
        self._listening = self.events
        try:
            yield
        finally:
            self._listening = False
            self._listen(None)

    def _keep_listening(self) -> None:
        """Start the listener at the first look, and again for a folder replaced or remounted (another
        identity) or deleted and made again (its inode may come back, but the old watch ended)."""
        try:
            info = self.folder.stat()
        except FileNotFoundError:  # gone since the check: the listing that follows says so
            return
        folder_id = (info.st_dev, info.st_ino)
        if self._listened != folder_id or (self._listener is not None and not self._listener.running):
            self._listen(folder_id)

    def _listen(self, folder_id: tuple[int, int] | None) -> None:
        """(Re)start the listener on the folder now at the path, or only stop it (None). A listener that
        cannot start leaves the poll alone, said once per folder."""
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        self._listened = folder_id
        if folder_id is None:
            return
        listener = FolderEvents(self.folder, self._on_finished)
        try:
            listener.start()
        except OSError as exc:
            log.warning("%s: no file events (%s); new files are found by polling, after settle_s", self.folder, exc)
            return
        self._listener = listener

    def _on_finished(self, name: str) -> None:
        """From the listener's thread: remember the file as it is now, and wake the waiting loop."""
        if not self._wanted(name):
            return
        try:
            info = os.lstat(self.folder / name)
        except OSError:  # moved away meanwhile
            return
        if stat.S_ISREG(info.st_mode):
            with self._lock:
                self._finished[name] = Stamp(name, info.st_size, info.st_mtime_ns)
            self._woken.set()

    def wait(self, stop: threading.Event, timeout: float) -> None:
        """Sleep until the next look: `timeout`, cut short by `stop`, or by a file event while listening
        (a stop is then noticed at the latest after `timeout`)."""
        if self._listener is not None:
            self._woken.wait(timeout)
        else:
            stop.wait(timeout)

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
        with self._lock:
            self._finished.pop(path.name, None)
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
    """Look at `watch` every `interval`, and at once on a file event, until `stop` is set (or, with
    `once`, until nothing is left); file events are listened to only while this runs.

    A bad file is recorded as failed unless it changed while being read (then it is still being
    written and comes back once settled). FolderGone propagates: the caller chooses to wait or end.
    """
    with watch.listening():
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
            watch.wait(stop, interval)
