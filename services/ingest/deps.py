"""What a route is given: the caller (tenant, API key), the product it names, and the use cases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from services.common.admission import Gate
from services.common.auth import DEFAULT_TENANT, actor_of, key_for
from services.core.explanations import Explanations
from services.core.fingerprints import Fingerprints
from services.core.golden import GoldenSamples
from services.core.inspections import Inspections
from services.core.labels import Labels
from services.core.models import Product
from services.core.products import Products
from services.ingest.uploads import UploadLimits
from services.runtime import Runtime


@dataclass(frozen=True)
class Caller:
    tenant: str
    api_key: str | None  # forwarded to a remote scorer, which checks it again
    actor: str  # who, in labels and the version history: "tenant/key label", or "local" without keys


def runtime_of(request: Request) -> Runtime:
    """The app's runtime: the composition root every route's use cases come from."""
    return request.app.state.runtime


def get_caller(request: Request, x_api_key: Annotated[str | None, Header(description="API key of a tenant")] = None) -> Caller:
    runtime = runtime_of(request)
    known = key_for(runtime.catalog, x_api_key, runtime.service.require_api_key)
    return Caller(known.tenant if known is not None else DEFAULT_TENANT, x_api_key, actor_of(known))


# The use cases and limits are attributes of the runtime: async, so FastAPI hands them over in the event
# loop instead of a worker thread per dependency (thread hops cost milliseconds on a busy CPU).
async def _products(request: Request) -> Products:
    return runtime_of(request).products


async def _golden(request: Request) -> GoldenSamples:
    return runtime_of(request).golden


async def _fingerprints(request: Request) -> Fingerprints:
    return runtime_of(request).fingerprints


async def _inspections(request: Request) -> Inspections:
    return runtime_of(request).inspections


async def _labels(request: Request) -> Labels:
    return runtime_of(request).labels


async def _explanations(request: Request) -> Explanations:
    return runtime_of(request).explanations


async def _limits(request: Request) -> UploadLimits:
    runtime = runtime_of(request)
    return UploadLimits(runtime.service.max_files, runtime.engine.limits.max_bytes)


async def _inspect_gate(request: Request) -> Gate:
    return runtime_of(request).inspect_gate


CallerDep = Annotated[Caller, Depends(get_caller)]
InspectGateDep = Annotated[Gate, Depends(_inspect_gate)]
LimitsDep = Annotated[UploadLimits, Depends(_limits)]
ProductsDep = Annotated[Products, Depends(_products)]
GoldenDep = Annotated[GoldenSamples, Depends(_golden)]
FingerprintsDep = Annotated[Fingerprints, Depends(_fingerprints)]
InspectionsDep = Annotated[Inspections, Depends(_inspections)]
ExplanationsDep = Annotated[Explanations, Depends(_explanations)]
LabelsDep = Annotated[Labels, Depends(_labels)]


async def get_product(name: str, caller: CallerDep, products: ProductsDep) -> Product:
    """The caller's product named in the path; another tenant's product of that name is not found.
    One indexed SQL row, read in the event loop: a worker thread for it costs more than the query."""
    return products.get(caller.tenant, name)


ProductDep = Annotated[Product, Depends(get_product)]
