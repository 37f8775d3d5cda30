"""Domain models: what the use cases, the scorer and the transports pass around instead of rows or dicts.

Validated once where they are made (a repository reading the catalog, the scorer storing a result),
so code that holds one can trust its fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from goldenshot.masks import Shape

Decision = Literal["OK", "ANOMALOUS"]
JobKind = Literal["build", "batch", "zeroshot", "replay"]
LabelKind = Literal["confirmed_defect", "false_alarm", "missed_defect"]  # missed_defect: an OK result that was bad
JobState = Literal["queued", "running", "succeeded", "failed"]


class Product(BaseModel):
    """A kind of part, owned by one tenant; its name is unique within the tenant."""

    model_config = ConfigDict(frozen=True)

    id: str
    tenant: str
    name: str
    description: str
    created_at: str
    active_version: int | None  # the fingerprint version inspections use; None before the first build
    next_version: int  # reserved by the next build request


class Golden(BaseModel):
    """A golden sample: one photo of a good part, kept in the object store."""

    model_config = ConfigDict(frozen=True)

    id: str
    product_id: str
    sha256: str  # of the file as uploaded: the same image is never a sample twice
    filename: str
    width: int
    height: int
    object_key: str
    created_at: str


class Version(BaseModel):
    """A fingerprint version: the artifact in the object store, its bank's collection, its threshold."""

    model_config = ConfigDict(frozen=True)

    product_id: str
    version: int
    created_at: str
    threshold: float
    pixel_threshold: float
    threshold_source: str  # leave-one-out, user, ...
    golden_count: int
    coreset_rows: int
    golden_scores: dict[str, Any]  # mean, std, max and each sample's leave-one-out score
    build_seconds: float
    sha256: str
    object_key: str
    collection: str


class Job(BaseModel):
    """A build, batch or zero-shot run: recorded before it is queued, finished after its work is stored."""

    model_config = ConfigDict(frozen=True)

    id: str
    tenant: str
    product_id: str
    product: str  # the product's name when the job was made
    kind: JobKind
    state: JobState
    stage: str
    done: int
    total: int
    error: dict[str, str] | None  # code, message
    params: dict[str, Any]
    result: dict[str, Any] | None
    attempts: int
    created_at: str
    started_at: str | None
    finished_at: str | None


class Webhook(BaseModel):
    """Where a product's inspections are POSTed (signed with the secret), and which ones."""

    model_config = ConfigDict(frozen=True)

    product_id: str
    url: str
    secret: str
    events: Literal["anomalous", "all"]
    created_at: str


DeliveryState = Literal["pending", "delivered", "failed"]


class Delivery(BaseModel):
    """One webhook POST in the outbox: retried until a 2xx or until it has been retried for long enough."""

    model_config = ConfigDict(frozen=True)

    seq: int
    product_id: str
    inspection_id: str
    url: str
    secret: str
    body: str
    attempts: int
    next_at: float  # epoch seconds: due, or leased by a sender until then
    delivered: bool
    failed: bool
    last_error: str | None

    @property
    def state(self) -> DeliveryState:
        return "delivered" if self.delivered else "failed" if self.failed else "pending"


class ApiKey(BaseModel):
    """A tenant's key, known only by its SHA-256."""

    model_config = ConfigDict(frozen=True)

    key_hash: str
    tenant: str
    label: str
    created_at: str


class NearestGolden(BaseModel):
    """The golden patch nearest to a region's peak (goldenshot.explain): "unlike this patch of golden sample 3"."""

    model_config = ConfigDict(frozen=True)

    golden_id: str | None = None  # the golden sample's id; None: deleted since the build
    sample: int  # index among the fingerprint's golden sources
    name: str  # the golden sample's filename
    sha256: str
    view: int  # 0: the sample as uploaded; > 0: one of its augmented copies
    row: int  # the patch in the golden view's grid
    col: int
    grid_h: int
    grid_w: int
    distance: float  # L2 between the region's peak patch and this golden patch
    patch_row: int  # the region's peak patch in the inspected image's grid
    patch_col: int
    bank_row: int


class Region(BaseModel):
    """A defect region in image pixels (goldenshot.regions.Region as stored)."""

    model_config = ConfigDict(frozen=True)

    bbox: tuple[int, int, int, int]  # x, y, width, height
    area: int
    peak_score: float
    mean_score: float
    polygon: list[tuple[int, int]]
    nearest_golden: NearestGolden | None = None  # None: not explained (zero-shot, or a fingerprint without provenance)


class Inspection(BaseModel):
    """One scored image: the decision and where its image and score map are stored."""

    model_config = ConfigDict(frozen=True)

    id: str
    product_id: str
    version: int  # fingerprint version; 0 for a zero-shot batch
    decision: Decision
    score: float
    threshold: float
    pixel_threshold: float
    regions: list[Region]
    filename: str
    width: int
    height: int
    image_key: str
    map_key: str
    batch_id: str | None
    feedback: Literal["false_alarm"] | None
    timings_ms: dict[str, float]
    created_at: str
    seq: int | None = None  # the catalog's order (the page cursor); None until stored


class StoredImage(BaseModel):
    """What one inspection keeps in the object store (its image and score map), for the retention policy."""

    model_config = ConfigDict(frozen=True)

    inspection_id: str
    product_id: str
    tenant: str
    nbytes: int
    created_at: str
    removed_at: str | None = None  # when the retention policy removed them; the result itself is kept


SourceKind = Literal["folder", "stream"]


class Source(BaseModel):
    """Where a product's images come from on the line: a watched folder or a camera / video stream."""

    model_config = ConfigDict(frozen=True)

    id: str
    product_id: str
    kind: SourceKind
    target: str
    fps: float  # stream: frames inspected per second (triggered: at most)
    sort: bool
    enabled: bool
    created_at: str
    triggered: bool = False  # stream: a frame inspected per trigger instead of at fps


class MqttSink(BaseModel):
    """A product's results published to the MQTT broker; `cursor` is the last inspection seq published."""

    model_config = ConfigDict(frozen=True)

    product_id: str
    topic: str
    events: Literal["anomalous", "all"]
    cursor: int
    created_at: str


class Label(BaseModel):
    """A person's verdict on an inspection: what the part really was, who said so and when."""

    model_config = ConfigDict(frozen=True)

    inspection_id: str
    product_id: str
    label: LabelKind
    note: str
    actor: str
    created_at: str

    @property
    def defective(self) -> bool:
        """The part was bad (a confirmed defect or a missed one); False: it was good (a false alarm)."""
        return self.label != "false_alarm"


class ScorePoint(BaseModel):
    """An inspection reduced to what threshold tuning needs."""

    model_config = ConfigDict(frozen=True)

    inspection_id: str
    version: int
    score: float
    decision: Decision
    label: LabelKind | None
    created_at: str


class VersionOrigin(BaseModel):
    """How a version that was not built came to be (a tuned threshold over another version's bank)."""

    model_config = ConfigDict(frozen=True)

    product_id: str
    version: int
    parent_version: int
    actor: str
    reason: str
    created_at: str


class Activation(BaseModel):
    """Who made which version the active one, when, and which was active before."""

    model_config = ConfigDict(frozen=True)

    product_id: str
    version: int
    previous_version: int | None
    actor: str
    created_at: str


class IgnoreMask(BaseModel):
    """A product's regions not judged (labels, fixtures, pen marks), applied to every inspection's map."""

    model_config = ConfigDict(frozen=True)

    product_id: str
    shapes: list[Shape]  # normalised image coordinates (goldenshot.masks)
    updated_at: str | None  # None: never set
