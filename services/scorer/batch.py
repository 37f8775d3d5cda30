"""The `batch` job handler: score every stored image of a batch upload, resumable item by item."""

from __future__ import annotations

from services.common.catalog import Catalog
from services.common.jobs import Progress
from services.common.objects import ObjectNotFound, ObjectStore
from services.core.errors import DomainError, NotFound
from services.core.keys import batch_item_key, batch_prefix
from services.core.models import Job
from services.scorer.scorer import Scorer


class BatchRunner:
    """Items already scored (before a crash) are skipped: item i of job j is inspection 'j-i'."""

    def __init__(self, catalog: Catalog, objects: ObjectStore, scorer: Scorer) -> None:
        self.catalog = catalog
        self.objects = objects
        self.scorer = scorer

    def __call__(self, job: Job, progress: Progress) -> dict:
        product = self.catalog.products.by_id(job.product_id)
        if product is None:
            raise NotFound("the product was deleted")
        items = job.params["items"]
        done = self.catalog.inspections.batch_done(job.id)
        failed = []
        for i, filename in enumerate(items):
            inspection_id = f"{job.id}-{i}"
            if inspection_id not in done:
                try:
                    data = self.objects.get(batch_item_key(product.id, job.id, i))
                    self.scorer.inspect(product, data, filename, batch_id=job.id, inspection_id=inspection_id)
                except DomainError as exc:
                    if exc.code in ("no_fingerprint", "fingerprint_unavailable"):
                        raise
                    failed.append({"filename": filename, "error": exc.message})
                except ObjectNotFound:
                    failed.append({"filename": filename, "error": "the uploaded image is missing from the store"})
            progress("inspecting", i + 1, len(items))
        rows = self.catalog.inspections.page(product.id, None, job.id, len(items) + 1, None)
        anomalous = sum(r.decision == "ANOMALOUS" for r in rows)
        self.objects.delete_prefix(batch_prefix(product.id, job.id))
        return {"count": len(rows), "ok": len(rows) - anomalous, "anomalous": anomalous, "failed": failed}
