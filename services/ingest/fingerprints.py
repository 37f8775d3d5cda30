"""Routes: fingerprint builds and versions (list, activate = rollback), and job status."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from services.builder.build import alias_name
from services.common.errors import conflict
from services.common.jobs import job_view
from services.ingest.deps import CallerDep, server_id
from services.ingest.views import version_view

router = APIRouter(tags=["fingerprints"])


class BuildIn(BaseModel):
    threshold: float | None = Field(None, ge=0, allow_inf_nan=False, description="override the leave-one-out threshold")


@router.post("/v1/products/{name}/fingerprints", status_code=202)
def build_fingerprint(name: str, caller: CallerDep, body: BuildIn | None = None) -> dict:
    """Queue a build; the new version becomes active when it is ready, inspections keep the old until then."""
    runtime = caller.runtime
    product = caller.product(name)
    if not runtime.catalog.golden(product["id"]):
        raise conflict(f"product '{name}' has no golden samples: upload some first", code="no_golden_samples")
    version = runtime.catalog.allocate_version(product["id"])
    threshold = body.threshold if body is not None else None
    return job_view(runtime.runner.submit(caller.tenant, product, "build", {"version": version, "threshold": threshold}))


@router.get("/v1/products/{name}/fingerprints")
def list_versions(name: str, caller: CallerDep) -> dict:
    product = caller.product(name)
    rows = caller.runtime.catalog.versions(product["id"])
    return {"items": [version_view(r, product["active_version"]) for r in rows]}


@router.get("/v1/products/{name}/fingerprints/{version}")
def get_version(name: str, version: int, caller: CallerDep) -> dict:
    product = caller.product(name)
    return version_view(caller.runtime.catalog.version(product["id"], version), product["active_version"])


@router.get("/v1/products/{name}/fingerprints/{version}/file", response_class=Response)
def download_version(name: str, version: int, caller: CallerDep) -> Response:
    """The fingerprint artifact itself (safetensors): usable offline with `goldenshot inspect --fingerprint`."""
    product = caller.product(name)
    row = caller.runtime.catalog.version(product["id"], version)
    headers = {"Content-Disposition": f'attachment; filename="{product["name"]}-v{version}.safetensors"'}
    return Response(caller.runtime.objects.get(row["object_key"]), media_type="application/octet-stream", headers=headers)


@router.post("/v1/products/{name}/fingerprints/{version}/activate")
def activate_version(name: str, version: int, caller: CallerDep) -> dict:
    """Roll back (or forward): the alias and the catalog switch; the next inspection loads that bank."""
    runtime = caller.runtime
    product = caller.product(name)
    row = runtime.catalog.version(product["id"], version)
    runtime.vectors.point_alias(alias_name(product["id"]), row["collection"])
    runtime.catalog.activate(product["id"], version)
    return version_view(row, version)


@router.get("/v1/jobs/{job_id}", tags=["jobs"])
def get_job(job_id: str, caller: CallerDep) -> dict:
    return job_view(caller.runtime.catalog.job(server_id(job_id, "job id"), caller.tenant))


@router.get("/v1/jobs", tags=["jobs"])
def list_jobs(
    caller: CallerDep,
    product: str | None = None,
    state: Literal["queued", "running", "succeeded", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict:
    product_id = caller.product(product)["id"] if product is not None else None
    return {"items": [job_view(j) for j in caller.runtime.catalog.jobs(caller.tenant, product_id, state, limit)]}
