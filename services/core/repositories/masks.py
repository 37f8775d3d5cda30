"""Ignore masks: one per product, replaced whole (the console saves every shape at once)."""

from __future__ import annotations

from sqlalchemy import Engine, select

from services.core.models import IgnoreMask
from services.core.tables import ignore_masks, now_iso


class IgnoreMaskRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, product_id: str) -> IgnoreMask:
        """The product's mask; no shapes when none was ever set."""
        with self.engine.connect() as conn:
            row = conn.execute(select(ignore_masks).where(ignore_masks.c.product_id == product_id)).first()
        if row is None:
            return IgnoreMask(product_id=product_id, shapes=[], updated_at=None)
        return IgnoreMask.model_validate(row._mapping)

    def set(self, mask: IgnoreMask) -> IgnoreMask:
        """Replace the product's mask (an empty one clears it) in one transaction."""
        stored = mask.model_copy(update={"updated_at": now_iso()})
        with self.engine.begin() as conn:
            conn.execute(ignore_masks.delete().where(ignore_masks.c.product_id == mask.product_id))
            conn.execute(ignore_masks.insert().values(**stored.model_dump(mode="json")))
        return stored
