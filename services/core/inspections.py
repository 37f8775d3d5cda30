"""Use cases on inspections: inspect one image, queue a batch, read results and pictures, record feedback."""

from __future__ import annotations

import logging
from typing import Literal

from services.common.catalog import Catalog
from services.common.jobs import JobRunner
from services.common.names import check_id, new_id
from services.common.objects import ObjectStore
from services.core.errors import Gone
from services.core.defects import DefectLibrary
from services.core.golden import GoldenSamples
from services.core.keys import batch_item_key
from services.core.models import Inspection, Job, Product
from services.core.pictures import picture
from services.core.scoring import Scorer
from services.core.uploads import Upload

log = logging.getLogger(__name__)


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
        defects: DefectLibrary | None = None,
    ) -> None:
        self.defects = defects  # its labels follow the feedback
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

    def page(self, product: Product, decision: str | None, batch_id: str | None, limit: int, cursor: int | None) -> tuple[list[Inspection], int | None]:
        """Newest first: (items, the cursor of the next page or None on the last); at most page_limit items.
        A cursor is a position among the product's own inspections (the oldest is 1), not the catalog's
        global sequence, which would tell a tenant how many inspections every tenant makes."""
        limit = min(limit, self.page_limit)
        batch_id = check_id(batch_id, "batch id") if batch_id is not None else None
        before = None if cursor is None else self.catalog.inspections.seq_at(product.id, cursor)
        items = self.catalog.inspections.page(product.id, decision, batch_id, limit + 1, before)
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

    def record_feedback(self, product: Product, inspection_id: str, label: str | None, add_to_golden: bool) -> Inspection:
        """Mark (or clear) a false alarm; optionally its image becomes a golden sample for the next build."""
        inspection = self.get(product, inspection_id)
        self.catalog.inspections.set_feedback(inspection.id, label)
        if self.defects is not None:
            try:
                self.defects.label(inspection, label)
            except Exception as exc:  # the feedback is stored; the library's copy of the label is not essential
                log.warning("defect library label of %s not updated: %s", inspection.id, exc)
        if add_to_golden:
            self.golden.add(product, [Upload(inspection.filename, self.objects.get(inspection.image_key))])
        return self.get(product, inspection.id)
