"""The lines overview: every product of a tenant on one screen, with its sources' state, its last
decision and how today went, for an engineer who looks after several lines at once."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.catalog import Catalog
from services.core.models import Inspection, Product
from services.core.sources import Sources, SourceView


@dataclass(frozen=True)
class Line:
    product: Product
    sources: list[SourceView]
    last: Inspection | None  # the newest inspection
    since: dict[str, int]  # decisions since the caller's start of day: {"OK": n, "ANOMALOUS": m}


class Lines:
    def __init__(self, catalog: Catalog, sources: Sources | None) -> None:
        self.catalog = catalog
        self.sources = sources  # None where nothing is scored (an ingest in front of scorers): no live status

    def page(self, tenant: str, since: str, limit: int, after: str | None) -> tuple[list[Line], str | None]:
        """A page of the tenant's products by name, after `after`, and the next page's cursor; four
        queries per page whatever its size."""
        page = self.catalog.products.page(tenant, after, limit + 1)
        more = len(page) > limit
        page = page[:limit]
        ids = [p.id for p in page]
        sources = self.sources.of(ids) if self.sources is not None else {}
        last, counts = self.catalog.inspections.latest(ids), self.catalog.inspections.since(ids, since)
        lines = [Line(p, sources.get(p.id, []), last.get(p.id), counts.get(p.id, {})) for p in page]
        return lines, page[-1].name if more else None
