"""Use cases on products: create, look up within a tenant, describe, delete, statistics, MES webhook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.catalog import Catalog
from services.common.egress import EgressPolicy
from services.common.names import check_id, check_slug, new_id
from services.common.objects import ObjectStore
from services.common.vectors import VectorStore
from services.core.errors import Conflict, InvalidRequest, NotFound
from services.core.keys import alias_name, product_prefix
from services.core.models import Delivery, DeliveryState, Job, Product, Version, Webhook
from services.core.scoring import Scorer

@dataclass(frozen=True)
class Overview:
    """A product with what a screen shows next to it."""

    product: Product
    golden_count: int
    inspection_count: int
    fingerprint: Version | None  # the active version
    building: Job | None  # the newest open build job


@dataclass(frozen=True)
class Stats:
    counts: dict[str, Any]  # total, ok, anomalous, false_alarms, by_day
    threshold: float | None  # the active version's


class Products:
    def __init__(self, catalog: Catalog, objects: ObjectStore, vectors: VectorStore, scorer: Scorer, egress: EgressPolicy, max_products: int) -> None:
        self.max_products = max_products  # per tenant
        self.catalog = catalog
        self.objects = objects
        self.vectors = vectors
        self.scorer = scorer
        self.egress = egress  # which webhook targets are refused (checked again at each delivery)

    def get(self, tenant: str, name: str) -> Product:
        """The tenant's product `name`; another tenant's product of that name is simply not found."""
        return self.catalog.products.get(tenant, check_slug(name, "product name"))

    def create(self, tenant: str, name: str, description: str) -> Product:
        """Within the tenant's quota of products (checked in the insert's transaction)."""
        return self.catalog.products.create(new_id(), tenant, check_slug(name, "product name"), description, self.max_products)

    def overview(self, product: Product) -> Overview:
        active = product.active_version
        builds = [j for j in self.catalog.jobs.open(product.id) if j.kind == "build"]
        return Overview(
            product,
            self.catalog.golden.count(product.id),
            self.catalog.inspections.count(product.id),
            self.catalog.versions.get(product.id, active) if active is not None else None,
            builds[-1] if builds else None,
        )

    def overviews(self, tenant: str, limit: int, after: str | None) -> tuple[list[Overview], str | None]:
        """A page of the tenant's products by name, after the name `after`, and the next page's cursor:
        five queries per page whatever its size (one per product used to be four)."""
        page = self.catalog.products.page(tenant, after, limit + 1)
        more = len(page) > limit
        page = page[:limit]
        ids = [p.id for p in page]
        golden, inspected = self.catalog.golden.counts(ids), self.catalog.inspections.counts(ids)
        active, building = self.catalog.versions.active(ids), self.catalog.jobs.open_builds(ids)
        views = [Overview(p, golden.get(p.id, 0), inspected.get(p.id, 0), active.get(p.id), building.get(p.id)) for p in page]
        return views, page[-1].name if more else None

    def delete(self, tenant: str, name: str) -> None:
        """The catalog first, so the product is invisible at once; its bytes and vectors follow."""
        product = self.get(tenant, name)
        self.catalog.products.delete(product.id)
        self.scorer.forget(product.id)
        self.objects.delete_prefix(product_prefix(product.id))
        self.vectors.drop(alias_name(product.id))

    def stats(self, tenant: str, name: str) -> Stats:
        product = self.get(tenant, name)
        active = product.active_version
        threshold = self.catalog.versions.get(product.id, active).threshold if active is not None else None
        return Stats(self.catalog.inspections.stats(product.id), threshold)

    def set_webhook(self, tenant: str, name: str, url: str, secret: str, events: str) -> Webhook:
        if not url.startswith(("http://", "https://")):
            raise InvalidRequest("webhook url must be http or https")
        self.egress.check_url(url)
        return self.catalog.webhooks.set(self.get(tenant, name).id, url, secret, events)

    def webhook(self, tenant: str, name: str) -> Webhook:
        hook = self.catalog.webhooks.get(self.get(tenant, name).id)
        if hook is None:
            raise NotFound(f"product '{name}' has no webhook")
        return hook

    def deliveries(self, tenant: str, name: str, state: DeliveryState | None, limit: int, cursor: str | None) -> tuple[list[Delivery], str | None]:
        """A page of the product's webhook deliveries, newest first, and the next page's cursor (the last
        one's inspection id)."""
        product = self.get(tenant, name)
        after = check_id(cursor, "cursor") if cursor is not None else None
        items = self.catalog.deliveries.page(product.id, state, limit + 1, after)
        more = len(items) > limit
        items = items[:limit]
        return items, items[-1].inspection_id if more else None

    def replay(self, tenant: str, name: str, inspection_id: str | None) -> int:
        """Send again one inspection's delivery (delivered or failed) or, with None, every failed one, to
        the product's current webhook; how many were queued."""
        product = self.get(tenant, name)
        if self.catalog.webhooks.get(product.id) is None:
            raise Conflict(f"product '{name}' has no webhook to send to; set one first", code="no_webhook")
        if inspection_id is None:
            return self.catalog.deliveries.replay(product.id)
        if not self.catalog.deliveries.replay(product.id, check_id(inspection_id, "inspection id")):
            raise NotFound(f"inspection '{inspection_id}' has no webhook delivery")
        return 1

    def delete_webhook(self, tenant: str, name: str) -> None:
        if not self.catalog.webhooks.delete(self.get(tenant, name).id):
            raise NotFound(f"product '{name}' has no webhook")
