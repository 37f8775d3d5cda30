"""Routes: products, their golden samples, statistics and MES webhook."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, HttpUrl

from goldenshot.images import ImageError, decode_image, image_sha256
from services.builder.build import alias_name
from services.common.errors import ApiError, invalid_image, not_found
from services.common.jobs import job_view
from services.common.names import new_id
from services.ingest.deps import CallerDep, server_id, slug
from services.ingest.media import image_response
from services.ingest.uploads import read_uploads
from services.ingest.views import golden_view, product_view, webhook_view

router = APIRouter(prefix="/v1/products", tags=["products"])
log = logging.getLogger(__name__)

MULTIPART_FILES = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}}, "required": ["files"]}
            }
        },
    }
}


class ProductIn(BaseModel):
    name: str = Field(description="slug: 1-63 of a-z, 0-9, '-'")
    description: str = Field("", max_length=2000)


class WebhookIn(BaseModel):
    url: HttpUrl
    secret: str = Field("", max_length=200, description="HMAC-SHA256 key for X-Goldenshot-Signature")
    events: Literal["anomalous", "all"] = "anomalous"


def _building(caller: CallerDep, product: dict) -> dict | None:
    builds = [j for j in caller.runtime.catalog.open_jobs(product["id"]) if j["kind"] == "build"]
    return job_view(builds[-1]) if builds else None


@router.post("", status_code=201)
def create_product(body: ProductIn, caller: CallerDep) -> dict:
    name = slug(body.name, "product name")
    product = caller.runtime.catalog.create_product(new_id(), caller.tenant, name, body.description)
    return product_view(caller.runtime.catalog, product)


@router.get("")
def list_products(caller: CallerDep) -> dict:
    catalog = caller.runtime.catalog
    return {"items": [product_view(catalog, p, _building(caller, p)) for p in catalog.products(caller.tenant)]}


@router.get("/{name}")
def get_product(name: str, caller: CallerDep) -> dict:
    product = caller.product(name)
    return product_view(caller.runtime.catalog, product, _building(caller, product))


@router.delete("/{name}", status_code=204)
def delete_product(name: str, caller: CallerDep) -> Response:
    product = caller.product(name)
    runtime = caller.runtime
    runtime.catalog.delete_product(product["id"])  # invisible from here on; bytes follow
    runtime.scorer.forget(product["id"])
    runtime.objects.delete_prefix(f"products/{product['id']}")
    runtime.vectors.drop(alias_name(product["id"]))
    return Response(status_code=204)


@router.get("/{name}/stats")
def product_stats(name: str, caller: CallerDep) -> dict:
    product = caller.product(name)
    stats = caller.runtime.catalog.stats(product["id"])
    active = product["active_version"]
    threshold = caller.runtime.catalog.version(product["id"], active)["threshold"] if active is not None else None
    return {**stats, "threshold": threshold}


@router.post("/{name}/golden", status_code=201, openapi_extra=MULTIPART_FILES)
async def upload_golden(name: str, request: Request, caller: CallerDep) -> dict:
    """All or nothing: every file is decoded before anything is stored."""
    runtime = caller.runtime
    product = caller.product(name)
    limits = runtime.engine.limits
    uploads = await read_uploads(request, "files", runtime.service.max_files, limits.max_bytes)

    def validate() -> list[dict]:
        rows = []
        for upload in uploads:
            try:
                image = decode_image(upload.data, upload.filename, limits.max_pixels)
            except ImageError as exc:
                raise invalid_image(f"{exc} (nothing was stored)") from None
            rows.append({"filename": upload.filename, "sha256": image_sha256(upload.data), "height": image.shape[0], "width": image.shape[1]})
        return rows

    rows = await run_in_threadpool(validate)
    known = {g["sha256"] for g in runtime.catalog.golden(product["id"])}
    new, duplicates = [], []
    for upload, row in zip(uploads, rows):
        if row["sha256"] in known:
            duplicates.append(row["filename"])
            continue
        known.add(row["sha256"])
        sample_id = new_id()
        new.append((upload, {**row, "id": sample_id, "product_id": product["id"], "object_key": f"products/{product['id']}/golden/{sample_id}"}))
    if len(known) > runtime.service.max_golden:
        raise ApiError(409, "too_many_golden_samples", f"a product holds at most {runtime.service.max_golden} golden samples (nothing was stored)")

    def store() -> None:
        try:
            for upload, row in new:
                runtime.objects.put(row["object_key"], upload.data)
            runtime.catalog.add_golden([row for _, row in new])
        except Exception:  # disk full, store down: take back what was written, report the cause
            for _, row in new:
                _quietly(runtime.objects.delete, row["object_key"])
            raise

    await run_in_threadpool(store)
    by_id = {g["id"]: g for g in runtime.catalog.golden(product["id"])}
    return {"items": [golden_view(product, by_id[row["id"]]) for _, row in new], "duplicates": duplicates}


def _quietly(call: Callable[..., object], *args: object) -> None:
    """Best-effort cleanup that must not mask the error being reported."""
    try:
        call(*args)
    except Exception:
        log.warning("cleanup %s%s failed", getattr(call, "__name__", call), args)


@router.get("/{name}/golden")
def list_golden(name: str, caller: CallerDep) -> dict:
    product = caller.product(name)
    return {"items": [golden_view(product, g) for g in caller.runtime.catalog.golden(product["id"])]}


@router.get("/{name}/golden/{sample_id}/image")
def golden_image(name: str, sample_id: str, caller: CallerDep) -> Response:
    product = caller.product(name)
    row = caller.runtime.catalog.golden_sample(product["id"], server_id(sample_id, "golden sample id"))
    return image_response(caller.runtime.objects.get(row["object_key"]))


@router.delete("/{name}/golden/{sample_id}", status_code=204)
def delete_golden(name: str, sample_id: str, caller: CallerDep) -> Response:
    product = caller.product(name)
    row = caller.runtime.catalog.delete_golden(product["id"], server_id(sample_id, "golden sample id"))
    caller.runtime.objects.delete(row["object_key"])
    return Response(status_code=204)


@router.put("/{name}/webhook")
def set_webhook(name: str, body: WebhookIn, caller: CallerDep) -> dict:
    product = caller.product(name)
    if body.url.scheme not in ("http", "https"):
        raise ApiError(400, "bad_request", "webhook url must be http or https")
    caller.runtime.catalog.set_webhook(product["id"], str(body.url), body.secret, body.events)
    return webhook_view(caller.runtime.catalog.webhook(product["id"]))


@router.get("/{name}/webhook")
def get_webhook(name: str, caller: CallerDep) -> dict:
    product = caller.product(name)
    hook = caller.runtime.catalog.webhook(product["id"])
    if hook is None:
        raise not_found(f"product '{name}' has no webhook")
    return webhook_view(hook)


@router.delete("/{name}/webhook", status_code=204)
def delete_webhook(name: str, caller: CallerDep) -> Response:
    product = caller.product(name)
    if not caller.runtime.catalog.delete_webhook(product["id"]):
        raise not_found(f"product '{name}' has no webhook")
    return Response(status_code=204)
