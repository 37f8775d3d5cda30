"""Use cases on golden samples: add (all or nothing, from an upload or a false alarm), list, read, delete."""

from __future__ import annotations

import logging
from collections.abc import Callable

from goldenshot.images import ImageError, decode_near, image_sha256
from services.common.admission import DecodeBudget, header_pixels
from services.common.catalog import Catalog
from services.common.names import check_id, new_id
from services.common.objects import ObjectStore
from services.core.errors import Conflict, InvalidImage
from services.core.keys import golden_key
from services.core.models import Golden, Product
from services.core.tables import now_iso
from services.core.uploads import Upload

log = logging.getLogger(__name__)


def _size_only(height: int, width: int) -> tuple[int, int]:
    """decode_near's target when only the photo's size is kept."""
    return 64, 64


class GoldenSamples:
    def __init__(self, catalog: Catalog, objects: ObjectStore, max_pixels: int, max_golden: int, budget: DecodeBudget) -> None:
        self.catalog = catalog
        self.objects = objects
        self.max_pixels = max_pixels
        self.max_golden = max_golden
        self.budget = budget  # one decode at a time per request, within the process's decode budget

    def add(self, product: Product, uploads: list[Upload]) -> tuple[list[Golden], list[str]]:
        """(the samples added, file names of images the product already holds). Every file is decoded
        before anything is stored, and a failure while storing takes back what was written."""
        decoded = []
        for upload in uploads:
            try:
                with self.budget.hold(header_pixels(upload.data), product.tenant):
                    # decoded small (every pixel read, little kept): the catalog needs the upright size
                    height, width = decode_near(upload.data, upload.filename, self.max_pixels, _size_only).size
            except ImageError as exc:
                raise InvalidImage(f"{exc} (nothing was stored)") from None
            decoded.append((upload, image_sha256(upload.data), height, width))
        known = {g.sha256 for g in self.catalog.golden.list(product.id)}
        new: list[tuple[bytes, Golden]] = []
        duplicates = []
        for upload, sha, height, width in decoded:
            if sha in known:
                duplicates.append(upload.filename)
                continue
            known.add(sha)
            sample_id = new_id()
            sample = Golden(
                id=sample_id, product_id=product.id, sha256=sha, filename=upload.filename, width=width, height=height,
                object_key=golden_key(product.id, sample_id), created_at=now_iso(),
            )
            new.append((upload.data, sample))
        if len(known) > self.max_golden:  # early, before any byte is written; the catalog checks again atomically
            raise Conflict(f"a product holds at most {self.max_golden} golden samples (nothing was stored)", code="too_many_golden_samples")
        try:
            for data, sample in new:
                self.objects.put(sample.object_key, data)
            self.catalog.golden.add([sample for _, sample in new], self.max_golden)
        except Exception:  # disk full, store down: take back what was written, report the cause
            for _, sample in new:
                _quietly(self.objects.delete, sample.object_key)
            raise
        return [sample for _, sample in new], duplicates

    def list(self, product: Product) -> list[Golden]:
        """Oldest first."""
        return self.catalog.golden.list(product.id)

    def image(self, product: Product, sample_id: str) -> bytes:
        return self.objects.get(self.catalog.golden.get(product.id, check_id(sample_id, "golden sample id")).object_key)

    def delete(self, product: Product, sample_id: str) -> None:
        sample = self.catalog.golden.delete(product.id, check_id(sample_id, "golden sample id"))
        self.objects.delete(sample.object_key)


def _quietly(call: Callable[..., object], *args: object) -> None:
    """Best-effort cleanup that must not mask the error being reported."""
    try:
        call(*args)
    except Exception:
        log.warning("cleanup %s%s failed", getattr(call, "__name__", call), args)
