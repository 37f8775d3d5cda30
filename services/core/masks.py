"""Use cases on ignore masks: read and replace a product's regions not judged (goldenshot.masks).

The scorer reads the mask at every inspection (one indexed row), so a saved mask applies from the next
inspection on, on every path (REST, gRPC, batches, sources), in this process or a remote scorer.
Inspections already stored keep the map they were scored with.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from goldenshot.masks import Polygon, Rect
from services.common.catalog import Catalog
from services.core.errors import InvalidRequest
from services.core.models import IgnoreMask, Product

log = logging.getLogger(__name__)


class IgnoreMasks:
    def __init__(self, catalog: Catalog, max_shapes: int) -> None:
        self.catalog = catalog
        self.max_shapes = max_shapes

    def get(self, product: Product) -> IgnoreMask:
        return self.catalog.masks.get(product.id)

    def set(self, product: Product, shapes: Sequence[Rect | Polygon]) -> IgnoreMask:
        """Replace the mask whole; an empty list clears it. Too many shapes: refused, the old mask kept."""
        if len(shapes) > self.max_shapes:
            raise InvalidRequest(f"an ignore mask holds at most {self.max_shapes} shapes, got {len(shapes)} (the mask is unchanged)", code="too_many_shapes")
        mask = self.catalog.masks.set(IgnoreMask(product_id=product.id, shapes=list(shapes), updated_at=None))
        log.info("ignore mask set", extra={"product": product.name, "tenant": product.tenant, "shapes": len(mask.shapes)})
        return mask
