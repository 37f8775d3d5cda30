"""Switching a server to API keys without losing its products.

A server run without --require-api-key files every product under the default tenant. Once keys are
required, only a key of a product's tenant reaches it, so those products vanish from every key until
someone makes a key for "default" or gives the products an owner. `adopt` gives them one (the
`goldenshot keys adopt` command); `keyless_products` is what the server warns about at start.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.catalog import Catalog


@dataclass(frozen=True)
class Adoption:
    """What `adopt` did: the products moved to the new owner, and those left where they were."""

    tenant: str
    moved: list[str]
    left: list[str]  # the owner already has a product of that name


def adopt(catalog: Catalog, tenant: str, from_tenant: str) -> Adoption:
    """Give every product of `from_tenant` (with its jobs and its stored images' retention share) to
    `tenant`; images, versions and results follow, being filed by product id. Running it again moves nothing more."""
    moved, left = catalog.products.move_tenant(from_tenant, tenant)
    return Adoption(tenant, moved, left)


def keyless_products(catalog: Catalog) -> dict[str, int]:
    """Tenants that own products but no API key: products per such tenant (no key can see them)."""
    with_keys = catalog.keys.tenants()
    return {tenant: count for tenant, count in sorted(catalog.products.count_by_tenant().items()) if tenant not in with_keys}
