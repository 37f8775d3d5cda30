"""Use cases on sources: a product's watched folders and camera / video streams, each run by its own thread.

A source is a catalog row (so it starts again with the server) plus, while it runs, a thread with a
live status: state, counters, the last error. Nothing a source meets ends the process: a folder that
disappears, a camera that cannot be opened, unreadable frames or files, a product without fingerprint
all become the source's state and last_error, and it tries again after source_retry_s.

Paths are checked against the configured source_roots (a REST caller must not make the server read
or move files anywhere it likes); with none configured, folder and video-file sources are refused.
Stream URLs go through the egress policy like webhooks: internal addresses (the plant's cameras) only
where source_url_allow names them, checked when set and resolved again at each (re)open.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import cv2

from goldenshot.images import ImageError, read_bytes
from goldenshot.watch import FolderGone, FolderWatch, follow
from services.common.catalog import Catalog
from services.common.egress import EgressPolicy, EgressRefused, pinned
from services.common.names import check_id, new_id
from services.core.errors import Conflict, InvalidImage, InvalidRequest, NotFound, TooManyRequests
from services.core.models import Product, Source, SourceKind
from services.core.scoring import Scorer

log = logging.getLogger(__name__)

_STREAM_URL = re.compile(r"(rtsps?|https?)://[^\s\x00]{1,1990}")
_DEVICE = re.compile(r"\d{1,3}")
_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
_MAX_PENDING = 8  # triggers waiting for a frame; more means the line runs faster than it is inspected
_OPEN_TIMEOUT_MS = 5000  # an unreachable camera is reported after this, not after FFmpeg's default 30 s


@dataclass
class SourceStatus:
    """What a running source did so far (in memory: counters start at 0 with the server)."""

    state: str = "starting"  # starting | running | waiting | error | finished | stopped
    seen: int = 0  # files or frames taken
    inspected: int = 0
    failed: int = 0  # unreadable files or frames
    last_error: str | None = None
    last_decision: str | None = None
    pending: int = 0  # triggers waiting for a frame (triggered streams)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, **values: object) -> None:
        with self.lock:
            for name, value in values.items():
                setattr(self, name, value)

    def count(self, name: str, decision: str | None = None) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)
            if decision is not None:
                self.last_decision = decision

    def take_trigger(self) -> bool:
        """True (and one trigger fewer) when a trigger waits for this frame."""
        with self.lock:
            if self.pending == 0:
                return False
            self.pending -= 1
            return True


@dataclass(frozen=True)
class SourceView:
    source: Source
    status: SourceStatus


class Sources:
    """Create, list, start, stop and delete sources; start() runs every enabled one (server start)."""

    def __init__(
        self, catalog: Catalog, scorer: Scorer, data_dir: Path, roots: list[Path], egress: EgressPolicy,
        poll_s: float, settle_s: float, retry_s: float, max_fps: float, events: bool,
    ) -> None:
        self.catalog = catalog
        self.scorer = scorer
        self.egress = egress  # which camera addresses a tenant may make the server connect to
        self.state_dir = Path(data_dir) / "sources"
        self.roots = [Path(root).resolve() for root in roots]
        self.poll_s = poll_s
        self.settle_s = settle_s
        self.events = events  # file events (inotify) besides the poll
        self.retry_s = retry_s
        self.max_fps = max_fps
        self._running: dict[str, tuple[threading.Thread, threading.Event, SourceStatus]] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        for source in self.catalog.sources.list():
            if source.enabled:
                self._start(source)

    def close(self) -> None:
        with self._lock:
            running = list(self._running)
        for source_id in running:
            self._stop(source_id)

    def create(self, product: Product, kind: SourceKind, target: str, fps: float, sort: bool, triggered: bool = False) -> SourceView:
        target = self._check_target(kind, target)
        if not 0 < fps <= self.max_fps:
            raise InvalidRequest(f"fps must be > 0 and <= {self.max_fps}")
        if triggered and not (kind == "stream" and (_STREAM_URL.fullmatch(target) or _DEVICE.fullmatch(target))):
            raise InvalidRequest("only a live camera (a stream URL or a device) can be triggered; a video file plays by its own clock")
        source = self.catalog.sources.add(new_id(), product.id, kind, target, fps, sort, triggered)
        log.info("source created", extra={"source_id": source.id, "product": product.name, "kind": kind})
        return SourceView(source, self._start(source))

    def list(self, product: Product) -> list[SourceView]:
        return [SourceView(s, self._status(s)) for s in self.catalog.sources.list(product.id)]

    def of(self, product_ids: list[str]) -> dict[str, list[SourceView]]:
        """The sources of many products at once (one catalog query), by product id."""
        wanted, out = set(product_ids), {}
        for source in self.catalog.sources.list():
            if source.product_id in wanted:
                out.setdefault(source.product_id, []).append(SourceView(source, self._status(source)))
        return out

    def get(self, product: Product, source_id: str) -> SourceView:
        source = self._get(product, source_id)
        return SourceView(source, self._status(source))

    def set_enabled(self, product: Product, source_id: str, enabled: bool) -> SourceView:
        source = self._get(product, source_id)
        self.catalog.sources.set_enabled(source.id, enabled)
        source = source.model_copy(update={"enabled": enabled})
        if enabled:
            return SourceView(source, self._start(source))
        self._stop(source.id)
        return SourceView(source, self._status(source))

    def trigger(self, product: Product, source_id: str) -> int:
        """Inspect the camera's next frame (a part is in place: the line controller says so); how many
        triggers now wait. Refused while the camera is not running: a later frame would show another part."""
        source = self._get(product, source_id)
        if not source.triggered:
            raise Conflict(f"source {source.id} samples at {source.fps} frames/s; create it with triggered=true to trigger it", code="not_triggered")
        status = self._status(source)
        with status.lock:
            if status.state != "running":
                raise Conflict(f"source {source.id} is {status.state}, not running: nothing to take a frame from", code="source_not_running")
            if status.pending >= _MAX_PENDING:
                raise TooManyRequests(f"{_MAX_PENDING} triggers already wait for a frame", retry_after=1)
            status.pending += 1
            return status.pending

    def delete(self, product: Product, source_id: str) -> None:
        source = self._get(product, source_id)
        self._stop(source.id)
        self.catalog.sources.delete(source.id)

    def _get(self, product: Product, source_id: str) -> Source:
        source = self.catalog.sources.get(product.id, check_id(source_id, "source id"))
        if source is None:
            raise NotFound(f"source {source_id} not found")
        return source

    def _status(self, source: Source) -> SourceStatus:
        with self._lock:
            running = self._running.get(source.id)
        return running[2] if running is not None else SourceStatus(state="stopped")

    def _check_target(self, kind: SourceKind, target: str) -> str:
        """A folder (or video file) below a source root, a stream URL, or a device index."""
        if "\x00" in target or not target.strip():
            raise InvalidRequest("target is empty or holds a NUL")
        if kind == "stream" and _DEVICE.fullmatch(target):
            return target
        if kind == "stream" and _STREAM_URL.fullmatch(target):
            self.egress.check_url(target)
            return target
        path = Path(target)
        if not path.is_absolute():
            raise InvalidRequest("target must be an absolute path, an rtsp:// or http(s):// URL, or a device index")
        resolved = path.resolve()
        if not any(resolved.is_relative_to(root) for root in self.roots):
            raise InvalidRequest("target is outside the allowed source roots (GOLDENSHOT_SERVER_SOURCE_ROOTS)")
        if kind == "stream" and not resolved.is_file():
            raise InvalidRequest("video file not found")
        return str(resolved)

    def _start(self, source: Source) -> SourceStatus:
        with self._lock:
            if source.id in self._running:
                return self._running[source.id][2]
            status, stop = SourceStatus(), threading.Event()
            run = self._watch_folder if source.kind == "folder" else self._read_stream
            thread = threading.Thread(target=self._guarded, args=(run, source, status, stop), name=f"source-{source.id[:8]}", daemon=True)
            self._running[source.id] = (thread, stop, status)
        thread.start()
        return status

    def _stop(self, source_id: str) -> None:
        with self._lock:
            running = self._running.pop(source_id, None)
        if running is not None:
            thread, stop, status = running
            stop.set()
            thread.join(timeout=30)
            status.set(state="stopped")

    def _guarded(self, run: Callable[[Source, SourceStatus, threading.Event], None], source: Source, status: SourceStatus, stop: threading.Event) -> None:
        """Runs a source until stopped; any error becomes its status and it tries again after retry_s."""
        while not stop.is_set():
            try:
                run(source, status, stop)
                return
            except Exception as exc:  # noqa: BLE001 - whatever breaks, the source reports it and retries
                if self.catalog.products.by_id(source.product_id) is None:  # its product was deleted: so is the source
                    self.catalog.sources.delete(source.id)
                    status.set(state="stopped", last_error="the product was deleted")
                    return
                status.set(state="error", last_error=_one_line(exc))
                log.warning("source error", extra={"source_id": source.id, "error": _one_line(exc)})
                stop.wait(self.retry_s)

    def _product(self, source: Source) -> Product:
        product = self.catalog.products.by_id(source.product_id)
        if product is None:
            raise NotFound("the source's product was deleted")
        return product

    def _inspect(self, source: Source, status: SourceStatus, data: bytes, filename: str) -> str:
        status.count("seen")
        inspection = self.scorer.inspect(self._product(source), data, filename)
        status.count("inspected", inspection.decision)
        status.set(state="running", last_error=None)
        return inspection.decision

    def _watch_folder(self, source: Source, status: SourceStatus, stop: threading.Event) -> None:
        watch = FolderWatch(Path(source.target), self.state_dir / f"{source.id}.jsonl", self.settle_s, source.sort, self.events)
        status.set(state="running")

        def handle(path: Path) -> dict:
            return {"decision": self._inspect(source, status, read_bytes(path), path.name)}

        def report(path: Path, outcome: str, row: dict) -> None:
            if "error" in row:
                status.count("failed")
                status.set(last_error=row["error"])

        while not stop.is_set():
            try:
                follow(watch, handle, report, stop, self.poll_s, (ImageError, InvalidImage))
            except FolderGone as exc:  # an unmounted share comes back: keep looking
                status.set(state="waiting", last_error=str(exc))
                stop.wait(self.retry_s)
                if watch.folder.is_dir():
                    status.set(state="running", last_error=None)

    def _read_stream(self, source: Source, status: SourceStatus, stop: threading.Event) -> None:
        """Frames sampled at source.fps: by the video's own clock for a file (as fast as it is scored),
        by the wall clock for a live camera; or, triggered, the frame after each trigger (every frame is
        grabbed meanwhile, so the one inspected is fresh). A live stream that ends or fails is reopened
        after retry_s."""
        is_file = not (_STREAM_URL.fullmatch(source.target) or _DEVICE.fullmatch(source.target))
        period_ms = 1000.0 / source.fps
        while not stop.is_set():
            try:
                target = self._checked(source.target)
            except EgressRefused as exc:  # a name that now resolves inside the plant: a status, tried again
                status.set(state="waiting", last_error=exc.message)
                stop.wait(self.retry_s)
                continue
            capture = _open(target)
            if not capture.isOpened():
                capture.release()
                status.set(state="waiting", last_error=f"cannot open {redacted(source.target)}")
                stop.wait(self.retry_s)
                continue
            status.set(state="running")
            next_ms: float | None = None  # when the next frame is due
            frame_no = 0
            try:
                while not stop.is_set():
                    if not capture.grab():
                        break
                    now_ms = capture.get(cv2.CAP_PROP_POS_MSEC) if is_file else time.monotonic() * 1000.0
                    frame_no += 1
                    if source.triggered:
                        if not status.take_trigger():
                            continue
                    elif next_ms is not None and now_ms < next_ms:
                        continue
                    else:
                        next_ms = now_ms + period_ms if next_ms is None else max(next_ms + period_ms, now_ms)  # behind: skip, no backlog
                    ok, frame = capture.retrieve()
                    encoded, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 95]) if ok else (False, None)
                    if not encoded:
                        status.count("failed")
                        status.set(last_error=f"frame {frame_no} unreadable")
                        continue
                    self._inspect(source, status, jpeg.tobytes(), f"frame-{frame_no:08d}.jpg")
            finally:
                capture.release()
                self._drop_triggers(status)
            if is_file:  # read once: not again at the next server start
                self.catalog.sources.set_enabled(source.id, False)
                status.set(state="finished")
                return
            status.set(state="waiting", last_error=f"stream {redacted(source.target)} ended; reopening")
            stop.wait(self.retry_s)

    @staticmethod
    def _drop_triggers(status: SourceStatus) -> None:
        """Triggers still waiting when the camera is lost are failures: a frame after the reconnect would
        show another part."""
        with status.lock:
            if status.pending:
                status.failed += status.pending
                status.last_error = f"camera lost with {status.pending} trigger(s) waiting"
                status.pending = 0

    def _checked(self, target: str) -> str:
        """A stream URL resolved now and pinned to the address the egress policy allowed; others as they are."""
        if not _STREAM_URL.fullmatch(target):
            return target
        parts = urlsplit(target)
        return pinned(target, self.egress.resolve(parts.hostname or "", parts.port or _DEFAULT_PORTS[parts.scheme]))


def _open(target: str) -> cv2.VideoCapture:
    if _DEVICE.fullmatch(target):
        return cv2.VideoCapture(int(target))
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, _OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, _OPEN_TIMEOUT_MS]
    return cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)


def redacted(target: str) -> str:
    """A camera URL without its user:password, for status and logs."""
    return re.sub(r"//[^/@\s]*@", "//***@", target)


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
