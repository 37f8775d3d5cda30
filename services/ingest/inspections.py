"""Routes: inspect one image, batch jobs, stored results, their pictures, and false-alarm feedback."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from goldenshot.images import ImageError, decode_image, image_sha256
from services.common.errors import invalid_image
from services.common.jobs import job_view
from services.common.names import new_id
from services.ingest.deps import CallerDep, server_id
from services.ingest.media import image_response
from services.ingest.products import MULTIPART_FILES
from services.ingest.uploads import read_uploads
from services.ingest.views import inspection_view
from services.scorer.batch import batch_item_key
from services.scorer.pictures import picture

router = APIRouter(prefix="/v1/products/{name}", tags=["inspections"])

MULTIPART_FILE = {
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
async def inspect(name: str, request: Request, caller: CallerDep) -> dict:
    runtime = caller.runtime
    product = caller.product(name)
    runtime.scorer.inspector(product)  # no fingerprint: say so before reading the upload
    upload = (await read_uploads(request, "file", 1, runtime.engine.limits.max_bytes, single=True))[0]
    row = await run_in_threadpool(lambda: runtime.scorer.inspect(product, upload.data, upload.filename, credentials=caller.api_key))
    return inspection_view(product, row)


@router.post("/batches", status_code=202, openapi_extra=MULTIPART_FILES)
async def batch(name: str, request: Request, caller: CallerDep) -> dict:
    """The images are stored before the job is queued, so an accepted batch survives a restart."""
    caller.runtime.scorer.inspector(caller.product(name))  # no fingerprint: say so before reading the upload
    return await _queue_images(name, request, caller, "batch")


@router.post("/zeroshot", status_code=202, openapi_extra=MULTIPART_FILES)
async def zeroshot(name: str, request: Request, caller: CallerDep) -> dict:
    """No golden samples needed: the batch scores itself (results are inspections of version 0)."""
    return await _queue_images(name, request, caller, "zeroshot")


async def _queue_images(name: str, request: Request, caller: CallerDep, kind: str) -> dict:
    runtime = caller.runtime
    product = caller.product(name)
    uploads = await read_uploads(request, "files", runtime.service.max_files, runtime.engine.limits.max_bytes)
    job_id = new_id()

    def store() -> None:
        for i, upload in enumerate(uploads):
            runtime.objects.put(batch_item_key(product["id"], job_id, i), upload.data)

    await run_in_threadpool(store)
    return job_view(runtime.runner.submit(caller.tenant, product, kind, {"items": [u.filename for u in uploads]}, job_id))


@router.get("/inspections")
def list_inspections(
    name: str,
    caller: CallerDep,
    decision: Literal["OK", "ANOMALOUS"] | None = None,
    batch: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[int | None, Query(ge=0)] = None,
) -> dict:
    product = caller.product(name)
    limit = min(limit, caller.runtime.service.page_limit)
    batch_id = server_id(batch, "batch id") if batch is not None else None
    rows = caller.runtime.catalog.inspections(product["id"], decision, batch_id, limit + 1, cursor)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [inspection_view(product, r) for r in rows], "next_cursor": rows[-1]["seq"] if more else None}


def _inspection(caller: CallerDep, name: str, inspection_id: str) -> tuple[dict, dict]:
    product = caller.product(name)
    return product, caller.runtime.catalog.inspection(product["id"], server_id(inspection_id, "inspection id"))


@router.get("/inspections/{inspection_id}")
def get_inspection(name: str, inspection_id: str, caller: CallerDep) -> dict:
    product, row = _inspection(caller, name, inspection_id)
    return inspection_view(product, row)


@router.get("/inspections/{inspection_id}/image")
def inspection_image(name: str, inspection_id: str, caller: CallerDep) -> Response:
    _, row = _inspection(caller, name, inspection_id)
    return image_response(caller.runtime.objects.get(row["image_key"]))


@router.get("/inspections/{inspection_id}/{kind}.png")
def inspection_picture(name: str, inspection_id: str, kind: Literal["heatmap", "overlay"], caller: CallerDep) -> Response:
    _, row = _inspection(caller, name, inspection_id)
    runtime = caller.runtime
    return image_response(picture(runtime.objects, row, kind, runtime.engine.limits.max_pixels))


@router.post("/inspections/{inspection_id}/feedback")
def feedback(name: str, inspection_id: str, body: FeedbackIn, caller: CallerDep) -> dict:
    """Mark a false alarm; optionally its image becomes a golden sample for the next build."""
    runtime = caller.runtime
    product, row = _inspection(caller, name, inspection_id)
    runtime.catalog.set_feedback(row["id"], body.label)
    if body.add_to_golden:
        data = runtime.objects.get(row["image_key"])
        sha = image_sha256(data)
        if sha not in {g["sha256"] for g in runtime.catalog.golden(product["id"])}:
            try:
                image = decode_image(data, row["filename"], runtime.engine.limits.max_pixels)
            except ImageError as exc:
                raise invalid_image(str(exc)) from None
            sample_id = new_id()
            key = f"products/{product['id']}/golden/{sample_id}"
            runtime.objects.put(key, data)
            sample = {"id": sample_id, "product_id": product["id"], "sha256": sha, "filename": row["filename"], "width": image.shape[1], "height": image.shape[0], "object_key": key}
            runtime.catalog.add_golden([sample])
    return inspection_view(product, runtime.catalog.inspection(product["id"], row["id"]))
