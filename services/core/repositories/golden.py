"""Golden samples of a product."""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from services.core.errors import Conflict, NotFound
from services.core.models import Golden
from services.core.tables import golden, products


class GoldenRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, samples: list[Golden], limit: int) -> None:
        """All or nothing, and never more than `limit` samples for the product: the count is taken after
        the insert in the same transaction (the product row locked on PostgreSQL; SQLite holds its write
        lock from the insert), so concurrent uploads or a false alarm added meanwhile cannot pass it."""
        if not samples:
            return
        product_id = samples[0].product_id
        try:
            with self.engine.begin() as conn:
                conn.execute(select(products.c.id).where(products.c.id == product_id).with_for_update())
                conn.execute(golden.insert(), [s.model_dump() for s in samples])
                held = conn.execute(select(func.count()).select_from(golden).where(golden.c.product_id == product_id)).scalar_one()
                if held > limit:
                    raise Conflict(f"a product holds at most {limit} golden samples (nothing was stored)", code="too_many_golden_samples")
        except IntegrityError:  # the same image stored by a concurrent upload
            raise Conflict("an image of this upload was added by another request meanwhile (nothing was stored); upload again", code="duplicate_golden_sample") from None

    def list(self, product_id: str) -> list[Golden]:
        """Oldest first."""
        query = select(golden).where(golden.c.product_id == product_id).order_by(golden.c.created_at, golden.c.id)
        with self.engine.connect() as conn:
            return [Golden.model_validate(r._mapping) for r in conn.execute(query)]

    def get(self, product_id: str, sample_id: str) -> Golden:
        with self.engine.connect() as conn:
            row = conn.execute(select(golden).where(golden.c.product_id == product_id, golden.c.id == sample_id)).first()
        if row is None:
            raise NotFound(f"golden sample '{sample_id}' does not exist")
        return Golden.model_validate(row._mapping)

    def delete(self, product_id: str, sample_id: str) -> Golden:
        """The sample removed from the catalog (its bytes are the caller's to delete)."""
        sample = self.get(product_id, sample_id)
        with self.engine.begin() as conn:
            conn.execute(golden.delete().where(golden.c.id == sample_id))
        return sample

    def counts(self, product_ids: list[str]) -> dict[str, int]:
        """Samples per product, in one query (a page of products)."""
        query = select(golden.c.product_id, func.count()).where(golden.c.product_id.in_(product_ids)).group_by(golden.c.product_id)
        with self.engine.connect() as conn:
            return dict(conn.execute(query).all())

    def count(self, product_id: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(golden).where(golden.c.product_id == product_id)).scalar_one()
