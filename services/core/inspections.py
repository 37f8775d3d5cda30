"""Use cases on inspections: inspect one image, queue a batch, read results and pictures, export them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Literal

from services.common.catalog import Catalog
from services.common.jobs import JobRunner
from services.common.names import check_id, new_id
from services.common.objects import ObjectStore
from services.core.errors import Gone, InvalidRequest
from services.core.golden import GoldenSamples
from services.core.keys import batch_item_key
from services.core.models import Inspection, Job, Product
from services.core.pictures import picture
from services.core.scoring import Scorer
from services.core.uploads import Upload

EXPORT_CHUNK = 500  # inspections read per query while an export streams


class Inspections:
    def __init__(
        self,
        catalog: Catalog,
        objects: ObjectStore,
        scorer: Scorer,
        runner: JobRunner,
        golden: GoldenSamples,
        max_pixels: int,
        page_limit: int,
    ) -> None:
        self.catalog = catalog
        self.objects = objects
        self.scorer = scorer
        self.runner = runner
        self.golden = golden
        self.max_pixels = max_pixels
        self.page_limit = page_limit

    def ready(self, product: Product) -> None:
        """Conflict `no_fingerprint` (or Unavailable) now, before an upload is read for nothing."""
        self.scorer.ready(product)

    def inspect(self, product: Product, upload: Upload, credentials: str | None) -> Inspection:
        return self.scorer.inspect(product, upload.data, upload.filename, credentials=credentials)

    def queue(self, tenant: str, product: Product, kind: Literal["batch", "zeroshot"], uploads: list[Upload]) -> Job:
        """Store the images, then queue the job, so an accepted batch survives a restart."""
        job_id = new_id()
        for i, upload in enumerate(uploads):
            self.objects.put(batch_item_key(product.id, job_id, i), upload.data)
        return self.runner.submit(tenant, product, kind, {"items": [u.filename for u in uploads]}, job_id)

    def page(
        self, product: Product, decision: str | None, batch_id: str | None, limit: int, cursor: int | None, label: str | None = None
    ) -> tuple[list[Inspection], int | None]:
        """Newest first: (items, the cursor of the next page or None on the last); at most page_limit items.
        A cursor is a position among the product's own inspections (the oldest is 1), not the catalog's
        global sequence, which would tell a tenant how many inspections every tenant makes."""
        limit = min(limit, self.page_limit)
        batch_id = check_id(batch_id, "batch id") if batch_id is not None else None
        before = None if cursor is None else self.catalog.inspections.seq_at(product.id, cursor)
        items = self.catalog.inspections.page(product.id, decision, batch_id, limit + 1, before, label)
        more = len(items) > limit
        items = items[:limit]
        return items, self.catalog.inspections.position(product.id, items[-1].seq) if more else None

    def get(self, product: Product, inspection_id: str) -> Inspection:
        return self.catalog.inspections.get(product.id, check_id(inspection_id, "inspection id"))

    def image(self, product: Product, inspection_id: str) -> bytes:
        return self.objects.get(self._kept(product, inspection_id).image_key)

    def picture(self, product: Product, inspection_id: str, kind: Literal["heatmap", "overlay"]) -> bytes:
        return picture(self.objects, self._kept(product, inspection_id), kind, self.max_pixels, self.golden.budget, product.tenant)

    def _kept(self, product: Product, inspection_id: str) -> Inspection:
        """The inspection, if its image is still kept (services.core.retention)."""
        inspection = self.get(product, inspection_id)
        removed = self.catalog.stored.removed_at(inspection.id)
        if removed is not None:
            raise Gone(f"the image of inspection {inspection.id} was removed by the retention policy at {removed}; its result is kept", code="image_removed")
        return inspection

    def export(self, product: Product, since: str | None, until: str | None, decision: str | None, label: str | None) -> Iterator[list[Inspection]]:
        """Oldest first, a chunk at a time, so an export of a year of results streams in bounded memory."""
        start = instant(since, "since") if since is not None else None
        end = instant(until, "until") if until is not None else None
        if start is not None and end is not None and start >= end:
            raise InvalidRequest("'since' must be before 'until'")
        return self.catalog.inspections.between(product.id, start, end, decision, label, EXPORT_CHUNK)


def instant(value: str, what: str) -> str:
    """An ISO 8601 date or time as the catalog writes times (UTC, microseconds), so string order is time
    order; a time without a zone is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{what} {value[:40]!r} is not an ISO 8601 date or time (2026-12-01 or 2026-12-01T08:00:00Z)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).isoformat(timespec="microseconds")
