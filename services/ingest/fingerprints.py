"""Routes: fingerprint builds and versions (list, tune a threshold, replay, activate = rollback, the
activation history), and job status."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from services.ingest.deps import CallerDep, FingerprintsDep, ProductDep, ProductsDep
from services.ingest.media import SAFETENSORS, binary
from services.schemas import ActivationList, ActivationOut, JobList, JobOut, VersionList, VersionOut

router = APIRouter(tags=["fingerprints"])
VersionNumber = Annotated[int, Path(ge=0, le=2**31 - 1, description="fingerprint version")]


class TuneIn(BaseModel):
    threshold: float = Field(gt=0, allow_inf_nan=False, description="the new decision threshold on image scores")
    confirm: bool = Field(False, description="required for a threshold above every score the product has had")
    reason: str = Field("", max_length=500, description='added to "threshold tuned from X to Y"')


class ReplayIn(BaseModel):
    last: int = Field(100, ge=1, description="how many of the newest stored inspections to score again (at most the server's replay_max)")


class BuildIn(BaseModel):
    threshold: float | None = Field(None, ge=0, allow_inf_nan=False, description="override the leave-one-out threshold")


@router.post("/v1/products/{name}/fingerprints", status_code=202)
def build_fingerprint(caller: CallerDep, product: ProductDep, fingerprints: FingerprintsDep, body: BuildIn | None = None) -> JobOut:
    """Queue a build; the new version becomes active when it is ready, inspections keep the old until then."""
    return JobOut.of(fingerprints.request_build(caller.tenant, product, body.threshold if body is not None else None, caller.actor))


@router.get("/v1/products/{name}/fingerprints")
def list_versions(product: ProductDep, fingerprints: FingerprintsDep) -> VersionList:
    origins = fingerprints.origins(product)
    return VersionList(items=[VersionOut.of(r, product.active_version, origins.get(r.version)) for r in fingerprints.versions(product)])


@router.get("/v1/products/{name}/activations")
def list_activations(product: ProductDep, fingerprints: FingerprintsDep, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> ActivationList:
    """Who activated which version, when, and from which: newest first (builds activate their version too)."""
    return ActivationList(items=[ActivationOut.of(a) for a in fingerprints.activations(product, limit)])


@router.get("/v1/products/{name}/fingerprints/{version}")
def get_version(version: VersionNumber, product: ProductDep, fingerprints: FingerprintsDep) -> VersionOut:
    return VersionOut.of(fingerprints.version(product, version), product.active_version, fingerprints.origins(product).get(version))


@router.get("/v1/products/{name}/fingerprints/{version}/file", response_class=Response, responses=binary("the fingerprint (safetensors)", SAFETENSORS))
def download_version(version: VersionNumber, product: ProductDep, fingerprints: FingerprintsDep) -> Response:
    """The fingerprint artifact itself: usable offline with `goldenshot inspect --fingerprint`."""
    headers = {"Content-Disposition": f'attachment; filename="{product.name}-v{version}.safetensors"'}
    return Response(fingerprints.file(product, version), media_type=SAFETENSORS, headers=headers)


@router.post("/v1/products/{name}/fingerprints/{version}/activate")
def activate_version(version: VersionNumber, caller: CallerDep, product: ProductDep, fingerprints: FingerprintsDep) -> VersionOut:
    """Roll back (or forward): the next inspection uses that version; recorded in the activation history."""
    return VersionOut.of(fingerprints.activate(product, version, caller.actor), version, fingerprints.origins(product).get(version))


@router.post("/v1/products/{name}/fingerprints/{version}/tune", status_code=201)
def tune_version(version: VersionNumber, body: TuneIn, caller: CallerDep, product: ProductDep, fingerprints: FingerprintsDep) -> VersionOut:
    """A new version with this version's bank and another threshold (no rebuild), not yet active: replay
    it, then activate it. 409 confirm_required for a threshold above every score seen, without confirm."""
    tuned = fingerprints.tune(product, version, body.threshold, body.confirm, caller.actor, body.reason)
    return VersionOut.of(tuned, product.active_version, fingerprints.origins(product).get(tuned.version))


@router.post("/v1/products/{name}/fingerprints/{version}/replay", status_code=202)
def replay_version(version: VersionNumber, caller: CallerDep, product: ProductDep, fingerprints: FingerprintsDep, body: ReplayIn | None = None) -> JobOut:
    """A job scoring the newest stored inspections with this version; its result says which decisions
    would change and what that does to labelled ones (fixes_false_alarms, introduces_misses, ...)."""
    return JobOut.of(fingerprints.request_replay(caller.tenant, product, version, body.last if body is not None else ReplayIn().last))


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
