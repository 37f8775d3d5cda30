"""The `batch` job handler: score every stored image of a batch upload, resumable item by item."""

from __future__ import annotations

from services.common.catalog import Catalog
from services.common.errors import ApiError, not_found
from services.common.jobs import Progress
from services.common.objects import ObjectNotFound, ObjectStore
from services.scorer.scorer import Scorer


def batch_item_key(product_id: str, job_id: str, index: int) -> str:
    return f"products/{product_id}/batches/{job_id}/{index}"


class BatchRunner:
    """Items already scored (before a crash) are skipped: item i of job j is inspection 'j-i'."""

    def __init__(self, catalog: Catalog, objects: ObjectStore, scorer: Scorer) -> None:
        self.catalog = catalog
        self.objects = objects
        self.scorer = scorer

    def __call__(self, job: dict, progress: Progress) -> dict:
        product = self.catalog.product_by_id(job["product_id"])
        if product is None:
            raise not_found("the product was deleted")
        items = job["params"]["items"]
        done = self.catalog.batch_done(job["id"])
        failed = []
        for i, filename in enumerate(items):
            inspection_id = f"{job['id']}-{i}"
            if inspection_id not in done:
                try:
                    data = self.objects.get(batch_item_key(product["id"], job["id"], i))
                    self.scorer.inspect(product, data, filename, batch_id=job["id"], inspection_id=inspection_id)
                except ApiError as exc:
                    if exc.code in ("no_fingerprint", "fingerprint_unavailable"):
                        raise
                    failed.append({"filename": filename, "error": exc.message})
                except ObjectNotFound:
                    failed.append({"filename": filename, "error": "the uploaded image is missing from the store"})
            progress("inspecting", i + 1, len(items))
        rows = self.catalog.inspections(product["id"], None, job["id"], len(items) + 1, None)
        anomalous = sum(r["decision"] == "ANOMALOUS" for r in rows)
        self.objects.delete_prefix(f"products/{product['id']}/batches/{job['id']}")
        return {"count": len(rows), "ok": len(rows) - anomalous, "anomalous": anomalous, "failed": failed}
