"""Routes: inspect one image, batch jobs, stored results, their pictures and explanations, and false-alarm feedback."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from services.ingest.deps import CallerDep, ExplanationsDep, InspectGateDep, InspectionsDep, LimitsDep, ProductDep
from services.ingest.media import IMAGE_TYPES, ImageResponse, binary
from services.ingest.products import MULTIPART_FILES
from services.ingest.uploads import read_uploads
from services.schemas import DefectKindsOut, ExplanationOut, InspectionOut, InspectionPage, JobOut, SimilarOut

router = APIRouter(prefix="/v1/products/{name}", tags=["inspections"])

MULTIPART_FILE: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}},
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


class FeedbackIn(BaseModel):
    label: Literal["false_alarm"] | None = "false_alarm"  # null clears it
    add_to_golden: bool = False


@router.post("/inspect", openapi_extra=MULTIPART_FILE)
async def inspect(request: Request, caller: CallerDep, product: ProductDep, inspections: InspectionsDep, limits: LimitsDep, gate: InspectGateDep) -> InspectionOut:
    """Admitted (or refused with 503/429 and Retry-After) before the upload is read: a saturated server
    holds neither the bytes nor a thread of a request it cannot serve soon."""
    inspections.ready(product)  # no fingerprint: say so before reading the upload
    with gate.admit(caller.tenant):
        upload = (await read_uploads(request, "file", limits, single=True))[0]
        return InspectionOut.of(product, await run_in_threadpool(inspections.inspect, product, upload, caller.api_key))


@router.post("/batches", status_code=202, openapi_extra=MULTIPART_FILES)
async def batch(request: Request, caller: CallerDep, product: ProductDep, inspections: InspectionsDep, limits: LimitsDep) -> JobOut:
    """The images are stored before the job is queued, so an accepted batch survives a restart."""
    inspections.ready(product)  # no fingerprint: say so before reading the upload
    uploads = await read_uploads(request, "files", limits, allow_empty=True)
    return JobOut.of(await run_in_threadpool(inspections.queue, caller.tenant, product, "batch", uploads))


@router.post("/zeroshot", status_code=202, openapi_extra=MULTIPART_FILES)
async def zeroshot(request: Request, caller: CallerDep, product: ProductDep, inspections: InspectionsDep, limits: LimitsDep) -> JobOut:
    """No golden samples needed: the batch scores itself (results are inspections of version 0)."""
    uploads = await read_uploads(request, "files", limits, allow_empty=True)
    return JobOut.of(await run_in_threadpool(inspections.queue, caller.tenant, product, "zeroshot", uploads))


@router.get("/inspections")
def list_inspections(
    product: ProductDep,
    inspections: InspectionsDep,
    decision: Literal["OK", "ANOMALOUS"] | None = None,
    batch: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> InspectionPage:
    rows, next_cursor = inspections.page(product, decision, batch, limit, cursor)
    return InspectionPage(items=[InspectionOut.of(product, r) for r in rows], next_cursor=next_cursor)


@router.get("/inspections/{inspection_id}")
def get_inspection(inspection_id: str, product: ProductDep, inspections: InspectionsDep) -> InspectionOut:
    return InspectionOut.of(product, inspections.get(product, inspection_id))


@router.get("/inspections/{inspection_id}/image", status_code=200, response_class=ImageResponse, responses=binary("the image as uploaded", *IMAGE_TYPES))
def inspection_image(inspection_id: str, product: ProductDep, inspections: InspectionsDep) -> Response:
    return ImageResponse(inspections.image(product, inspection_id))


@router.get("/inspections/{inspection_id}/{kind}.png", status_code=200, response_class=ImageResponse, responses=binary("the heatmap or the overlay", "image/png"))
def inspection_picture(inspection_id: str, kind: Literal["heatmap", "overlay"], product: ProductDep, inspections: InspectionsDep) -> Response:
    return ImageResponse(inspections.picture(product, inspection_id, kind))


@router.post("/inspections/{inspection_id}/feedback")
def feedback(inspection_id: str, body: FeedbackIn, product: ProductDep, inspections: InspectionsDep) -> InspectionOut:
    """Mark a false alarm; optionally its image becomes a golden sample for the next build."""
    return InspectionOut.of(product, inspections.record_feedback(product, inspection_id, body.label, body.add_to_golden))


@router.get("/inspections/{inspection_id}/explain")
def explain(inspection_id: str, product: ProductDep, explanations: ExplanationsDep, k: Annotated[int, Query(ge=1, le=50)] = 5) -> ExplanationOut:
    """Per region, the k golden patches nearest to its peak (at most the server's explain_top_k)."""
    return ExplanationOut.of(product, inspection_id, explanations.explain(product, inspection_id, k))


@router.get("/defects/kinds", tags=["inspections"])
def defect_kinds(product: ProductDep, explanations: ExplanationsDep, newest: Annotated[int, Query(ge=2, le=5000)] = 2000) -> DefectKindsOut:
    """The product's recurring defects: its newest anomalous regions grouped by feature distance, largest group first."""
    return DefectKindsOut.of(*explanations.kinds(product, newest))


@router.get("/inspections/{inspection_id}/similar")
def similar(inspection_id: str, product: ProductDep, explanations: ExplanationsDep, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> SimilarOut:
    """Past inspections of this product with the most similar defects, nearest first; [] without history."""
    return SimilarOut.of(product, inspection_id, explanations.similar(product, inspection_id, limit))
