"""Routes: fingerprint builds and versions (list, activate = rollback), and job status."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from services.ingest.deps import CallerDep, FingerprintsDep, ProductDep, ProductsDep
from services.ingest.media import SAFETENSORS, binary
from services.schemas import JobList, JobOut, VersionList, VersionOut

router = APIRouter(tags=["fingerprints"])
VersionNumber = Annotated[int, Path(ge=0, le=2**31 - 1, description="fingerprint version")]


class BuildIn(BaseModel):
    threshold: float | None = Field(None, ge=0, allow_inf_nan=False, description="override the leave-one-out threshold")


@router.post("/v1/products/{name}/fingerprints", status_code=202)
def build_fingerprint(caller: CallerDep, product: ProductDep, fingerprints: FingerprintsDep, body: BuildIn | None = None) -> JobOut:
    """Queue a build; the new version becomes active when it is ready, inspections keep the old until then."""
    return JobOut.of(fingerprints.request_build(caller.tenant, product, body.threshold if body is not None else None))


@router.get("/v1/products/{name}/fingerprints")
def list_versions(product: ProductDep, fingerprints: FingerprintsDep) -> VersionList:
    return VersionList(items=[VersionOut.of(r, product.active_version) for r in fingerprints.versions(product)])


@router.get("/v1/products/{name}/fingerprints/{version}")
def get_version(version: VersionNumber, product: ProductDep, fingerprints: FingerprintsDep) -> VersionOut:
    return VersionOut.of(fingerprints.version(product, version), product.active_version)


@router.get("/v1/products/{name}/fingerprints/{version}/file", response_class=Response, responses=binary("the fingerprint (safetensors)", SAFETENSORS))
def download_version(version: VersionNumber, product: ProductDep, fingerprints: FingerprintsDep) -> Response:
    """The fingerprint artifact itself: usable offline with `goldenshot inspect --fingerprint`."""
    headers = {"Content-Disposition": f'attachment; filename="{product.name}-v{version}.safetensors"'}
    return Response(fingerprints.file(product, version), media_type=SAFETENSORS, headers=headers)


@router.post("/v1/products/{name}/fingerprints/{version}/activate")
def activate_version(version: VersionNumber, product: ProductDep, fingerprints: FingerprintsDep) -> VersionOut:
    """Roll back (or forward): the next inspection uses that version."""
    return VersionOut.of(fingerprints.activate(product, version), version)


@router.get("/v1/jobs/{job_id}", tags=["jobs"])
def get_job(job_id: str, caller: CallerDep, fingerprints: FingerprintsDep) -> JobOut:
    return JobOut.of(fingerprints.job(caller.tenant, job_id))


@router.get("/v1/jobs", tags=["jobs"])
def list_jobs(
    caller: CallerDep,
    products: ProductsDep,
    fingerprints: FingerprintsDep,
    product: str | None = None,
    state: Literal["queued", "running", "succeeded", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JobList:
    scope = products.get(caller.tenant, product) if product is not None else None
    return JobList(items=[JobOut.of(j) for j in fingerprints.jobs(caller.tenant, scope, state, limit)])
