"""The `zeroshot` job handler: a batch with no golden samples scores itself (goldenshot.zeroshot).

The images were stored before the job was queued. Unreadable ones are reported and left out; the
rest are read lazily, one at a time, as the library asks for them, and every result is stored like
an inspection of version 0 (no fingerprint), as item i of job j: inspection 'j-i'.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from goldenshot.features import FeatureExtractor
from goldenshot.images import ImageError, decode_image
from goldenshot.settings import Settings
from goldenshot.zeroshot import ZeroShotError, score_batch
from services.common.catalog import Catalog
from services.common.jobs import Progress
from services.common.objects import ObjectNotFound, ObjectStore
from services.core.errors import NotFound, Unprocessable
from services.core.keys import batch_item_key, batch_prefix
from services.core.models import Job
from services.scorer.scorer import Scorer


class StoredImages(Sequence[np.ndarray]):
    """Images in the object store, decoded when indexed."""

    def __init__(self, objects: ObjectStore, keys: list[str], names: list[str], max_pixels: int) -> None:
        self.objects, self.keys, self.names, self.max_pixels = objects, keys, names, max_pixels

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]  # no slices
        return decode_image(self.objects.get(self.keys[index]), self.names[index], self.max_pixels)


class ZeroShotRunner:
    """Score a stored batch against itself and store one inspection per readable image."""

    def __init__(self, catalog: Catalog, objects: ObjectStore, scorer: Scorer, extractor: FeatureExtractor, settings: Settings) -> None:
        self.catalog = catalog
        self.objects = objects
        self.scorer = scorer
        self.extractor = extractor
        self.settings = settings

    def __call__(self, job: Job, progress: Progress) -> dict:
        product = self.catalog.products.by_id(job.product_id)
        if product is None:
            raise NotFound("the product was deleted")
        names = job.params["items"]
        keys = [batch_item_key(product.id, job.id, i) for i in range(len(names))]
        readable, failed = [], []
        for i, (key, name) in enumerate(zip(keys, names)):
            try:
                decode_image(self.objects.get(key), name, self.settings.limits.max_pixels)
                readable.append(i)
            except ImageError as exc:
                failed.append({"filename": name, "error": str(exc)})
            except ObjectNotFound:
                failed.append({"filename": name, "error": "the uploaded image is missing from the store"})
            progress("reading", i + 1, len(names))
        images = StoredImages(self.objects, [keys[i] for i in readable], [names[i] for i in readable], self.settings.limits.max_pixels)
        try:
            batch = score_batch(images, self.extractor, self.settings, progress)
        except ZeroShotError as exc:
            raise Unprocessable(str(exc), code="bad_batch") from exc
        for j, i in enumerate(readable):
            result = batch.inspection(j, self.settings.maps)
            self.scorer.store(product, 0, self.objects.get(keys[i]), names[i], result, batch_id=job.id, inspection_id=f"{job.id}-{i}")
            progress("storing", j + 1, len(readable))
        anomalous = sum(s > batch.threshold for s in batch.scores)
        self.objects.delete_prefix(batch_prefix(product.id, job.id))
        return {
            "count": len(readable),
            "ok": len(readable) - anomalous,
            "anomalous": anomalous,
            "failed": failed,
            "threshold": batch.threshold,
            "pixel_threshold": batch.pixel_threshold,
        }
