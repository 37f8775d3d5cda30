"""Use cases on golden samples: add (all or nothing, from an upload or a false alarm), list, read, delete."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from goldenshot.images import ImageError, decode_image, image_sha256
from services.common.catalog import Catalog
from services.common.names import check_id, new_id
from services.common.objects import ObjectStore
from services.core.errors import Conflict, InvalidImage
from services.core.keys import golden_key
from services.core.models import Product
from services.core.uploads import Upload

log = logging.getLogger(__name__)
Row = dict[str, Any]


class GoldenSamples:
    def __init__(self, catalog: Catalog, objects: ObjectStore, max_pixels: int, max_golden: int) -> None:
        self.catalog = catalog
        self.objects = objects
        self.max_pixels = max_pixels
        self.max_golden = max_golden

    def add(self, product: Product, uploads: list[Upload]) -> tuple[list[Row], list[str]]:
        """(the samples added, file names of images the product already holds). Every file is decoded
        before anything is stored, and a failure while storing takes back what was written."""
        decoded = []
        for upload in uploads:
            try:
                image = decode_image(upload.data, upload.filename, self.max_pixels)
            except ImageError as exc:
                raise InvalidImage(f"{exc} (nothing was stored)") from None
            decoded.append((upload, image_sha256(upload.data), image.shape[0], image.shape[1]))
        known = {g["sha256"] for g in self.catalog.golden(product.id)}
        new: list[tuple[bytes, Row]] = []
        duplicates = []
        for upload, sha, height, width in decoded:
            if sha in known:
                duplicates.append(upload.filename)
                continue
            known.add(sha)
            sample_id = new_id()
            row = {"id": sample_id, "product_id": product.id, "filename": upload.filename, "sha256": sha, "height": height, "width": width,
                   "object_key": golden_key(product.id, sample_id)}
            new.append((upload.data, row))
        if len(known) > self.max_golden:
            raise Conflict(f"a product holds at most {self.max_golden} golden samples (nothing was stored)", code="too_many_golden_samples")
        try:
            for data, row in new:
                self.objects.put(row["object_key"], data)
            self.catalog.add_golden([row for _, row in new])
        except Exception:  # disk full, store down: take back what was written, report the cause
            for _, row in new:
                _quietly(self.objects.delete, row["object_key"])
            raise
        by_id = {g["id"]: g for g in self.catalog.golden(product.id)}
        return [by_id[row["id"]] for _, row in new], duplicates

    def list(self, product: Product) -> list[Row]:
        return self.catalog.golden(product.id)

    def image(self, product: Product, sample_id: str) -> bytes:
        return self.objects.get(self.catalog.golden_sample(product.id, check_id(sample_id, "golden sample id"))["object_key"])

    def delete(self, product: Product, sample_id: str) -> None:
        row = self.catalog.delete_golden(product.id, check_id(sample_id, "golden sample id"))
        self.objects.delete(row["object_key"])


def _quietly(call: Callable[..., object], *args: object) -> None:
    """Best-effort cleanup that must not mask the error being reported."""
    try:
        call(*args)
    except Exception:
        log.warning("cleanup %s%s failed", getattr(call, "__name__", call), args)
