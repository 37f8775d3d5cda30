"""The v1 JSON contract (docs/api.md): every REST response body, and the webhook payload, as pydantic models.

Built from the domain models in one place, so REST, webhooks and the OpenAPI document cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field

from goldenshot.fingerprint import Stray, Validation
from services.core.defects import DefectKind, SimilarDefect
from services.core.explanations import GoldenPatch, RegionExplanation
from services.core.labels import Tuning
from services.core.lines import Line
from services.core.models import Activation, Decision, Delivery, Golden, Inspection, Job, JobKind, JobState, Label, LabelKind, MqttSink, Product, Region, Version, VersionOrigin, Webhook
from services.core.sources import SourceView, redacted


class ErrorBody(BaseModel):
    code: str = Field(description="stable, for programs: not_found, invalid_image, no_fingerprint, ...")
    message: str = Field(description="for people: what went wrong and what to do")


class ErrorOut(BaseModel):
    """Every 4xx/5xx answer, whatever the route or cause."""

    error: ErrorBody


class StatusOut(BaseModel):
    status: str


class GoldenScores(BaseModel):
    mean: float | None
    std: float | None
    max: float | None


class OriginOut(BaseModel):
    """Where a version that was not built came from."""

    parent_version: int = Field(description="the version whose bank it reuses")
    actor: str
    reason: str = Field(description='e.g. "threshold tuned from 3.1 to 3.25"')
    created_at: str

    @classmethod
    def of(cls, origin: VersionOrigin) -> OriginOut:
        return cls(**origin.model_dump(include={"parent_version", "actor", "reason", "created_at"}))


class VersionOut(BaseModel):
    """A fingerprint version."""

    version: int
    active: bool
    created_at: str
    threshold: float
    pixel_threshold: float
    threshold_source: str
    golden_count: int
    coreset_rows: int
    golden_scores: GoldenScores
    target_fpr: float | None = None  # the false-alarm rate the threshold aims at (None: set by hand)
    # the kNN part's own threshold: the distance defect kinds are told apart at (None: built before it was stored)
    distance_threshold: float | None = None
    selfconfig: Validation | None = None  # the configuration the build chose and its validation numbers
    strays: list[Stray] = []  # golden samples left out as unlike the others
    build_seconds: float
    sha256: str
    origin: OriginOut | None = None  # a tuned version: its parent, who, why; None for a built one

    @classmethod
    def of(cls, version: Version, active: int | None, origin: VersionOrigin | None = None) -> VersionOut:
        stats = version.golden_scores
        return cls(
            **version.model_dump(include={"version", "created_at", "threshold", "pixel_threshold", "threshold_source", "golden_count", "coreset_rows", "build_seconds", "sha256"}),
            active=version.version == active,
            golden_scores=GoldenScores(**{k: stats.get(k) for k in ("mean", "std", "max")}),
            target_fpr=stats.get("target_fpr"),
            distance_threshold=stats.get("distance_threshold"),
            selfconfig=stats.get("selfconfig"),
            strays=stats.get("strays", []),
            origin=OriginOut.of(origin) if origin is not None else None,
        )


class VersionList(BaseModel):
    items: list[VersionOut]


class ActivationOut(BaseModel):
    """Who made which version active, when, and which version was active before (null: none)."""

    version: int
    previous_version: int | None
    actor: str
    created_at: str

    @classmethod
    def of(cls, activation: Activation) -> ActivationOut:
        return cls(**activation.model_dump(include={"version", "previous_version", "actor", "created_at"}))


class ActivationList(BaseModel):
    items: list[ActivationOut] = Field(description="newest first")


class JobProgress(BaseModel):
    stage: str
    done: int
    total: int
    fraction: float = Field(description="progress within the current stage, 0..1")


class JobOut(BaseModel):
    """A build, batch or zero-shot job."""

    id: str
    kind: JobKind
    product: str
    state: JobState
    progress: JobProgress
    error: ErrorBody | None
    result: dict[str, Any] | None = Field(description='build: {"version"}; batch: {"count", "ok", "anomalous", "failed"}')
    attempts: int
    created_at: str
    started_at: str | None
    finished_at: str | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        fraction = 1.0 if job.state == "succeeded" else (job.done / job.total if job.total else 0.0)
        return cls(
            **job.model_dump(include={"id", "kind", "product", "state", "error", "result", "attempts", "created_at", "started_at", "finished_at"}),
            progress=JobProgress(stage=job.stage, done=job.done, total=job.total, fraction=round(fraction, 4)),
        )


class JobList(BaseModel):
    items: list[JobOut]


class ProductOut(BaseModel):
    name: str
    description: str
    created_at: str
    golden_count: int
    inspection_count: int
    active_version: int | None
    fingerprint: VersionOut | None = Field(description="the active version")
    building: JobOut | None = Field(description="the newest open build job")


class ProductList(BaseModel):
    items: list[ProductOut]
    next_cursor: str | None = None  # the cursor of the next page (a product name); None on the last


class DayCount(BaseModel):
    day: str
    ok: int
    anomalous: int


class LabelCounts(BaseModel):
    confirmed_defect: int
    false_alarm: int
    missed_defect: int


class StatsOut(BaseModel):
    total: int
    ok: int
    anomalous: int
    false_alarms: int
    labels: LabelCounts = Field(description="inspections per label")
    threshold: float | None = Field(description="the active version's, null without one")
    by_day: list[DayCount]


class GoldenOut(BaseModel):
    """A golden sample."""

    id: str
    filename: str
    sha256: str
    width: int
    height: int
    created_at: str
    image_url: str

    @classmethod
    def of(cls, product: Product, sample: Golden) -> GoldenOut:
        return cls(
            **sample.model_dump(include={"id", "filename", "sha256", "width", "height", "created_at"}),
            image_url=f"/v1/products/{product.name}/golden/{sample.id}/image",
        )


class GoldenList(BaseModel):
    items: list[GoldenOut]


class GoldenUploadOut(BaseModel):
    items: list[GoldenOut] = Field(description="the samples added")
    duplicates: list[str] = Field(description="file names of images the product already holds")


class LabelOut(BaseModel):
    """What a person said the part really was."""

    label: LabelKind = Field(description="missed_defect: an OK result that was bad")
    note: str
    actor: str = Field(description='who: "tenant/key label", or "local" without API keys')
    created_at: str

    @classmethod
    def of(cls, label: Label) -> LabelOut:
        return cls(**label.model_dump(include={"label", "note", "actor", "created_at"}))


class InspectionOut(BaseModel):
    """An inspection's result; also the body of a webhook delivery."""

    id: str
    product: str
    version: int = Field(description="fingerprint version; 0 for a zero-shot batch")
    decision: Decision
    score: float
    threshold: float
    regions: list[Region]
    filename: str
    width: int
    height: int
    created_at: str
    batch_id: str | None
    feedback: Literal["false_alarm"] | None = Field(description="deprecated: read label (false_alarm there too)")
    label: LabelOut | None = None
    image_url: str
    heatmap_url: str
    overlay_url: str
    timings_ms: dict[str, float]

    @classmethod
    def of(cls, product: Product, inspection: Inspection, label: Label | None = None) -> InspectionOut:
        base = f"/v1/products/{product.name}/inspections/{inspection.id}"
        return cls(
            **inspection.model_dump(include=_INSPECTION_FIELDS),
            product=product.name,
            label=LabelOut.of(label) if label is not None else None,
            image_url=f"{base}/image",
            heatmap_url=f"{base}/heatmap.png",
            overlay_url=f"{base}/overlay.png",
        )


_INSPECTION_FIELDS = {"id", "version", "decision", "score", "threshold", "regions", "filename", "width", "height", "created_at", "batch_id", "feedback", "timings_ms"}


class InspectionPage(BaseModel):
    items: list[InspectionOut]
    next_cursor: int | None = Field(description="pass as `cursor` for the next page; null on the last")


class ScorePointOut(BaseModel):
    id: str = Field(description="the inspection")
    version: int
    score: float
    decision: Decision
    label: LabelKind | None
    created_at: str


class TuningOut(BaseModel):
    """The scored history a threshold for this version can be judged on: inspections by any version with
    its bank, newest first (labelled and not), and the product's highest score ever."""

    version: int
    threshold: float
    golden_max: float | None = Field(description="the highest leave-one-out score of the golden samples")
    max_score: float | None = Field(description="the highest score of any inspection of the product; a threshold above it needs confirm")
    points: list[ScorePointOut]

    @classmethod
    def of(cls, tuning: Tuning) -> TuningOut:
        points = [ScorePointOut(id=p.inspection_id, **p.model_dump(exclude={"inspection_id"})) for p in tuning.points]
        v = tuning.version
        return cls(version=v.version, threshold=v.threshold, golden_max=v.golden_scores.get("max"), max_score=tuning.max_score, points=points)


class WebhookOut(BaseModel):
    url: str
    events: Literal["anomalous", "all"]
    created_at: str
    secret_set: bool

    @classmethod
    def of(cls, hook: Webhook) -> WebhookOut:
        return cls(url=hook.url, events=hook.events, created_at=hook.created_at, secret_set=bool(hook.secret))


class DeliveryOut(BaseModel):
    """One webhook delivery: the inspection it carries (also its X-Goldenshot-Delivery id) and how it went."""

    inspection_id: str
    state: Literal["pending", "delivered", "failed"] = Field(description="failed: given up after WEBHOOK_RETRY_FOR_S, or refused by the egress policy; replay sends it again")
    attempts: int
    last_error: str | None
    next_attempt_at: str | None = Field(description="when a pending delivery is tried next (UTC); null once delivered or failed")

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        state = delivery.state
        due = datetime.fromtimestamp(delivery.next_at, timezone.utc).isoformat(timespec="seconds") if state == "pending" else None
        return cls(inspection_id=delivery.inspection_id, state=state, attempts=delivery.attempts, last_error=delivery.last_error, next_attempt_at=due)


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class ReplayOut(BaseModel):
    queued: int = Field(description="deliveries queued again, due now")


class GoldenPatchOut(BaseModel):
    """A golden patch near a defect region, with where to crop it from the golden sample."""

    golden_id: str | None = Field(description="the golden sample; null when it was deleted since the build")
    name: str = Field(description="the golden sample's filename")
    sample: int = Field(description="index among the fingerprint version's golden samples")
    view: int = Field(description="0: the sample as uploaded; > 0: an augmented copy of it")
    row: int
    col: int
    distance: float = Field(description="L2 between the region's peak patch and this one")
    bbox: tuple[int, int, int, int] | None = Field(description="x, y, width, height in the golden image (view 0 only)")
    image_url: str | None = Field(description="the golden sample's image; crop it with bbox")

    @classmethod
    def of(cls, product: Product, patch: GoldenPatch) -> GoldenPatchOut:
        url = f"/v1/products/{product.name}/golden/{patch.golden_id}/image" if patch.golden_id else None
        return cls(**{k: getattr(patch, k) for k in ("golden_id", "name", "sample", "view", "row", "col", "distance", "bbox")}, image_url=url)


class RegionExplanationOut(BaseModel):
    region: int = Field(description="index into the inspection's regions")
    golden: list[GoldenPatchOut] = Field(description="nearest first; empty when the region's embedding was not recorded")


class ExplanationOut(BaseModel):
    """The golden patches nearest to each region of an inspection (from the version's vector collection)."""

    inspection_id: str
    regions: list[RegionExplanationOut]

    @classmethod
    def of(cls, product: Product, inspection_id: str, regions: list[RegionExplanation]) -> ExplanationOut:
        return cls(
            inspection_id=inspection_id,
            regions=[RegionExplanationOut(region=r.region, golden=[GoldenPatchOut.of(product, p) for p in r.golden]) for r in regions],
        )


class SimilarDefectOut(BaseModel):
    inspection: InspectionOut = Field(description="the past inspection (its feedback says whether it was a false alarm)")
    distance: float = Field(description="L2 between the two regions' peak-patch features")
    region: int = Field(description="this inspection's region")
    matched_region: int = Field(description="the past inspection's region")


class SimilarOut(BaseModel):
    """Past inspections of the product with the most similar defects, nearest first."""

    inspection_id: str
    items: list[SimilarDefectOut]

    @classmethod
    def of(cls, product: Product, inspection_id: str, found: list[SimilarDefect]) -> SimilarOut:
        items = [SimilarDefectOut(inspection=InspectionOut.of(product, s.inspection), distance=s.distance, region=s.region, matched_region=s.matched_region) for s in found]
        return cls(inspection_id=inspection_id, items=items)


class DefectKindOut(BaseModel):
    """Regions of past inspections that lie close together: one recurring defect."""

    regions: int
    inspections: int
    first_seen: str
    last_seen: str
    labels: dict[str, int] = Field(description="regions per label: unreviewed, false_alarm, ...")
    example_inspection_id: str = Field(description="the inspection whose region lies nearest the kind's centre")
    example_region: int
    spread: float = Field(description="mean feature distance of its regions to the centre")


class DefectKindsOut(BaseModel):
    """The product's recurring defects under its active version, largest first."""

    kinds: list[DefectKindOut]
    scale: float | None = Field(description="feature distance that separates kinds: the active version's threshold; null without one")

    @classmethod
    def of(cls, kinds: list[DefectKind], scale: float | None) -> DefectKindsOut:
        out = [
            DefectKindOut(
                regions=k.regions, inspections=k.inspections, first_seen=k.first_seen, last_seen=k.last_seen, labels=k.labels,
                example_inspection_id=k.example[0], example_region=k.example[1], spread=k.spread,
            )
            for k in kinds
        ]
        return cls(kinds=out, scale=scale)


class SourceOut(BaseModel):
    """A watched folder or camera / video stream of a product, with its live status (docs/line.md)."""

    id: str
    kind: Literal["folder", "stream"]
    target: str = Field(description="folder path, video file, stream URL (credentials hidden) or device index")
    fps: float = Field(description="stream: frames inspected per second")
    triggered: bool = Field(description="stream: a frame inspected per trigger instead of at fps")
    sort: bool = Field(description="folder: handled files move into ok/, anomalous/, failed/")
    enabled: bool = Field(description="runs, and starts again with the server")
    created_at: str
    state: Literal["starting", "running", "waiting", "error", "finished", "stopped"]
    seen: int = Field(description="files or frames taken since the server started")
    inspected: int
    failed: int = Field(description="unreadable files or frames, and triggers lost with the camera")
    pending: int = Field(description="triggered stream: triggers waiting for a frame")
    last_decision: Decision | None
    last_error: str | None

    @classmethod
    def of(cls, view: SourceView) -> SourceOut:
        source, status = view.source, view.status
        with status.lock:
            counters = dict(
                state=status.state, seen=status.seen, inspected=status.inspected, failed=status.failed, pending=status.pending,
                last_decision=status.last_decision, last_error=status.last_error,
            )
        return cls(**source.model_dump(exclude={"product_id", "target"}), target=redacted(source.target), **counters)


class SourceList(BaseModel):
    items: list[SourceOut]


class LineOut(BaseModel):
    """A product as the lines overview shows it."""

    name: str
    active_version: int | None
    sources: list[SourceOut]
    last: InspectionOut | None = Field(description="the newest inspection")
    inspected: int = Field(description="inspections since `since`")
    anomalous: int = Field(description="of them ANOMALOUS")

    @classmethod
    def of(cls, line: Line) -> LineOut:
        product = line.product
        last = InspectionOut.of(product, line.last) if line.last is not None else None
        return cls(
            name=product.name, active_version=product.active_version, sources=[SourceOut.of(v) for v in line.sources], last=last,
            inspected=sum(line.since.values()), anomalous=line.since.get("ANOMALOUS", 0),
        )


class LineList(BaseModel):
    items: list[LineOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class MqttSinkOut(BaseModel):
    """A product's MQTT sink and where its delivery stands (docs/line.md)."""

    topic: str = Field(description="template: {tenant}, {product}, {decision}")
    events: Literal["anomalous", "all"]
    created_at: str
    pending: int = Field(description="results stored and not yet acknowledged by the broker")
    connected: bool = Field(description="the publisher holds a connection to the broker now")
    last_error: str | None = Field(description="why the broker was last unreachable; null once connected")

    @classmethod
    def of(cls, sink: MqttSink, pending: int, connected: bool, last_error: str | None) -> MqttSinkOut:
        return cls(topic=sink.topic, events=sink.events, created_at=sink.created_at, pending=pending, connected=connected, last_error=last_error)
