"""Routes: the engineer's watch over a product: drift, golden sample health, ignore mask."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from goldenshot.masks import Shape
from services.core.drift import Drift, DriftMonitor
from services.core.golden_health import GoldenHealth, HealthStatus
from services.core.masks import IgnoreMasks
from services.core.models import IgnoreMask
from services.ingest.deps import ProductDep, runtime_of

router = APIRouter(prefix="/v1/products/{name}", tags=["health"])
VersionNumber = Annotated[int, Path(ge=0, le=2**31 - 1, description="fingerprint version")]


class DriftOut(BaseModel):
    """The active version's recent scores against its golden samples' leave-one-out scores."""

    version: int | None = Field(description="the active version; null without a fingerprint")
    inspections: int = Field(description="recent inspections of the active version compared (at most window)")
    window: int
    min_inspections: int = Field(description="fewer recent inspections than this: no verdict (ratio null)")
    recent_median: float | None
    golden_median: float | None
    ratio: float | None = Field(description="recent_median / golden_median: 1 when the line looks like the golden samples")
    high: float = Field(description="flagged at ratio >= high")
    low: float = Field(description="or at ratio <= low")
    flagged: bool
    direction: Literal["up", "down"] | None

    @classmethod
    def of(cls, drift: Drift, monitor: DriftMonitor) -> DriftOut:
        s = monitor.settings
        return cls(
            version=drift.version, inspections=drift.inspections, window=s.window, min_inspections=s.min_inspections,
            recent_median=drift.recent_median, golden_median=drift.golden_median, ratio=drift.ratio, high=s.high, low=s.low,
            flagged=drift.flagged, direction=drift.direction,
        )


class SampleHealthOut(BaseModel):
    """One golden sample as a version used it."""

    name: str
    sha256: str
    golden_id: str | None = Field(description="the sample's id today; null: deleted since the build")
    score: float | None = Field(description="leave-one-out score; null: not scored per sample")
    ratio: float | None = Field(description="kept: the kNN part of its score over the median of the other samples' (the scale strays are judged on); left out: score over the kept samples' median score")
    status: HealthStatus = Field(description="outlier: kept but unlike the others; left_out: left out of the bank as a stray")


class SampleHealthList(BaseModel):
    version: int
    outlier_ratio: float = Field(description="a kept sample at this ratio or above is an outlier")
    items: list[SampleHealthOut]


class IgnoreMaskIn(BaseModel):
    shapes: list[Shape] = Field(description="rectangles and polygons in normalised image coordinates (0..1); [] clears the mask")


class IgnoreMaskOut(BaseModel):
    shapes: list[Shape]
    updated_at: str | None = Field(description="null: never set")

    @classmethod
    def of(cls, mask: IgnoreMask) -> IgnoreMaskOut:
        return cls(shapes=mask.shapes, updated_at=mask.updated_at)


async def _drift(request: Request) -> DriftMonitor:
    return runtime_of(request).drift


async def _golden_health(request: Request) -> GoldenHealth:
    return runtime_of(request).golden_health


async def _masks(request: Request) -> IgnoreMasks:
    return runtime_of(request).masks


DriftDep = Annotated[DriftMonitor, Depends(_drift)]
GoldenHealthDep = Annotated[GoldenHealth, Depends(_golden_health)]
MasksDep = Annotated[IgnoreMasks, Depends(_masks)]


@router.get("/drift")
def get_drift(product: ProductDep, drift: DriftDep) -> DriftOut:
    """Has the line moved away from the golden samples (camera, light, supplier)?"""
    return DriftOut.of(drift.of(product), drift)


@router.get("/fingerprints/{version}/samples")
def version_samples(version: VersionNumber, product: ProductDep, health: GoldenHealthDep) -> SampleHealthList:
    """The golden samples the version was built from, each with its leave-one-out score and a warning for outliers."""
    items = [SampleHealthOut(**vars(s)) for s in health.samples(product, version)]
    return SampleHealthList(version=version, outlier_ratio=health.outlier_ratio, items=items)


@router.get("/ignore-mask")
def get_ignore_mask(product: ProductDep, masks: MasksDep) -> IgnoreMaskOut:
    return IgnoreMaskOut.of(masks.get(product))


@router.put("/ignore-mask")
def set_ignore_mask(body: IgnoreMaskIn, product: ProductDep, masks: MasksDep) -> IgnoreMaskOut:
    """Replace the mask whole: inspections from the next one on do not judge these regions."""
    return IgnoreMaskOut.of(masks.set(product, body.shapes))
