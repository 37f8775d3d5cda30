"""The kernel's word that a file in a folder is finished: inotify on Linux, through watchdog.

Polling cannot tell a finished file from one whose writer paused, so the poll waits for a file to
stay unchanged (settle). inotify can, at once: IN_CLOSE_WRITE (watchdog's FileClosedEvent) says a
writer closed the file after writing it, IN_MOVED_TO (a FileMovedEvent's dest) says it was renamed
into the folder whole. Only the folder's top level is watched.

This is a shortcut, never the only way a file is found: a network share (NFS, SMB) gives no events
for writers on other machines, the kernel's queue can overflow, the watch limit can be reached, and
other systems have no inotify. FolderWatch's poll still hands out whatever the events did not.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchdog.observers.api import BaseObserver


class FolderEvents:
    """Calls `finished(name)`, from watchdog's thread, for each file closed after writing or moved into
    `folder` while started."""

    def __init__(self, folder: Path, finished: Callable[[str], None]) -> None:
        self.folder = folder
        self.finished = finished
        self._observer: BaseObserver | None = None

    def start(self) -> None:
        """Watch the folder; OSError when it cannot be (not Linux, folder missing, inotify limits)."""
        if not sys.platform.startswith("linux"):
            raise OSError("inotify is Linux only")
        # imported here: watchdog's inotify module fails to import off Linux
        from watchdog.events import FileClosedEvent, FileMovedEvent, FileSystemEvent, FileSystemEventHandler
        from watchdog.observers.api import BaseObserver
        from watchdog.observers.inotify import InotifyFullEmitter
        from watchdog.observers.inotify_c import InotifyConstants

        class Emitter(InotifyFullEmitter):
            """IN_MOVED_TO without IN_MOVED_FROM: watchdog holds an unpaired IN_MOVED_FROM (a sorted file
            moved out) 0.5 s to pair it, and every later event waits behind it. Unpaired, a move in
            arrives as FileMovedEvent("", dest)."""

            def get_event_mask_from_filter(self) -> int:
                return InotifyConstants.IN_CLOSE_WRITE | InotifyConstants.IN_MOVED_TO | InotifyConstants.IN_DELETE_SELF

        finished = self.finished

        class Handler(FileSystemEventHandler):
            def on_closed(self, event: FileSystemEvent) -> None:
                finished(os.path.basename(os.fsdecode(event.src_path)))

            def on_moved(self, event: FileSystemEvent) -> None:
                finished(os.path.basename(os.fsdecode(event.dest_path)))

        observer = BaseObserver(Emitter)
        observer.schedule(Handler(), str(self.folder), recursive=False, event_filter=[FileClosedEvent, FileMovedEvent])
        observer.start()  # inotify_add_watch runs here: its OSError reaches the caller
        self._observer = observer

    @property
    def running(self) -> bool:
        """False once the folder's watch ended by itself: the folder was deleted (its inode may come back
        with a new folder at the same path, so only this tells)."""
        observer = self._observer
        return observer is not None and observer.is_alive() and all(emitter.is_alive() for emitter in observer.emitters)

    def stop(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join()
