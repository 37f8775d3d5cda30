"""Per-request context: the runtime and the caller's tenant, and product lookup scoped to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from services.common.auth import tenant_for
from services.common.errors import bad_request
from services.common.names import InvalidName, check_id, check_slug
from services.runtime import Runtime


@dataclass(frozen=True)
class Caller:
    runtime: Runtime
    tenant: str

    def product(self, name: str) -> dict:
        """The caller's product `name`; another tenant's product of that name is simply not found."""
        return self.runtime.catalog.product(self.tenant, slug(name, "product name"))


def slug(name: str, what: str) -> str:
    try:
        return check_slug(name, what)
    except InvalidName as exc:
        raise bad_request(str(exc)) from None


def server_id(value: str, what: str) -> str:
    try:
        return check_id(value, what)
    except InvalidName as exc:
        raise bad_request(str(exc)) from None


def get_caller(request: Request, x_api_key: Annotated[str | None, Header(description="API key of a tenant")] = None) -> Caller:
    runtime: Runtime = request.app.state.runtime
    return Caller(runtime, tenant_for(runtime.catalog, x_api_key, runtime.service.require_api_key))


CallerDep = Annotated[Caller, Depends(get_caller)]
