"""Routes: products, their golden samples, statistics and MES webhook."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, HttpUrl

from services.core.products import Overview
from services.ingest.deps import CallerDep, GoldenDep, LimitsDep, ProductDep, ProductsDep
from services.ingest.media import IMAGE_TYPES, ImageResponse, binary
from services.ingest.uploads import read_uploads
from services.schemas import DeliveryOut, DeliveryPage, GoldenList, GoldenOut, GoldenUploadOut, JobOut, ProductList, ProductOut, ReplayOut, StatsOut, VersionOut, WebhookOut

router = APIRouter(prefix="/v1/products", tags=["products"])

MULTIPART_FILES: dict[str, Any] = {
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


def product_out(view: Overview) -> ProductOut:
    product, active = view.product, view.product.active_version
    return ProductOut(
        name=product.name,
        description=product.description,
        created_at=product.created_at,
        golden_count=view.golden_count,
        inspection_count=view.inspection_count,
        active_version=active,
        fingerprint=VersionOut.of(view.fingerprint, active) if view.fingerprint is not None else None,
        building=JobOut.of(view.building) if view.building is not None else None,
    )


@router.post("", status_code=201)
def create_product(body: ProductIn, caller: CallerDep, products: ProductsDep) -> ProductOut:
    return product_out(products.overview(products.create(caller.tenant, body.name, body.description)))


@router.get("")
def list_products(
    caller: CallerDep,
    products: ProductsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: Annotated[str | None, Query(max_length=63, description="next_cursor of the previous page")] = None,
) -> ProductList:
    """By name, a page at a time."""
    views, next_cursor = products.overviews(caller.tenant, limit, cursor)
    return ProductList(items=[product_out(view) for view in views], next_cursor=next_cursor)


@router.get("/{name}")
def get_product(product: ProductDep, products: ProductsDep) -> ProductOut:
    return product_out(products.overview(product))


@router.delete("/{name}", status_code=204)
def delete_product(name: str, caller: CallerDep, products: ProductsDep) -> None:
    products.delete(caller.tenant, name)


@router.get("/{name}/stats")
def product_stats(name: str, caller: CallerDep, products: ProductsDep) -> StatsOut:
    stats = products.stats(caller.tenant, name)
    return StatsOut(**stats.counts, threshold=stats.threshold)


@router.post("/{name}/golden", status_code=201, openapi_extra=MULTIPART_FILES)
async def upload_golden(request: Request, product: ProductDep, golden: GoldenDep, limits: LimitsDep) -> GoldenUploadOut:
    """All or nothing: every file is decoded before anything is stored."""
    uploads = await read_uploads(request, "files", limits)
    added, duplicates = await run_in_threadpool(golden.add, product, uploads)
    return GoldenUploadOut(items=[GoldenOut.of(product, g) for g in added], duplicates=duplicates)


@router.get("/{name}/golden")
def list_golden(product: ProductDep, golden: GoldenDep) -> GoldenList:
    return GoldenList(items=[GoldenOut.of(product, g) for g in golden.list(product)])


@router.get("/{name}/golden/{sample_id}/image", status_code=200, response_class=ImageResponse, responses=binary("the image as uploaded", *IMAGE_TYPES))
def golden_image(sample_id: str, product: ProductDep, golden: GoldenDep) -> Response:
    return ImageResponse(golden.image(product, sample_id))


@router.delete("/{name}/golden/{sample_id}", status_code=204)
def delete_golden(sample_id: str, product: ProductDep, golden: GoldenDep) -> None:
    golden.delete(product, sample_id)


@router.put("/{name}/webhook")
def set_webhook(name: str, body: WebhookIn, caller: CallerDep, products: ProductsDep) -> WebhookOut:
    return WebhookOut.of(products.set_webhook(caller.tenant, name, str(body.url), body.secret, body.events))


@router.get("/{name}/webhook")
def get_webhook(name: str, caller: CallerDep, products: ProductsDep) -> WebhookOut:
    return WebhookOut.of(products.webhook(caller.tenant, name))


@router.get("/{name}/webhook/deliveries")
def webhook_deliveries(
    name: str,
    caller: CallerDep,
    products: ProductsDep,
    state: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page")] = None,
) -> DeliveryPage:
    """The product's webhook deliveries, newest first: what is still being retried, what went through,
    what was given up."""
    items, next_cursor = products.deliveries(caller.tenant, name, state, limit, cursor)
    return DeliveryPage(items=[DeliveryOut.of(d) for d in items], next_cursor=next_cursor)


@router.post("/{name}/webhook/deliveries/replay", status_code=202)
def replay_failed_deliveries(name: str, caller: CallerDep, products: ProductsDep) -> ReplayOut:
    """Every failed delivery sent again to the current webhook, in its original order."""
    return ReplayOut(queued=products.replay(caller.tenant, name, None))


@router.post("/{name}/webhook/deliveries/{inspection_id}/replay", status_code=202)
def replay_delivery(name: str, inspection_id: str, caller: CallerDep, products: ProductsDep) -> ReplayOut:
    """One inspection's delivery (delivered or failed) sent again, same delivery id: receivers drop repeats."""
    return ReplayOut(queued=products.replay(caller.tenant, name, inspection_id))


@router.delete("/{name}/webhook", status_code=204)
def delete_webhook(name: str, caller: CallerDep, products: ProductsDep) -> None:
    products.delete_webhook(caller.tenant, name)
