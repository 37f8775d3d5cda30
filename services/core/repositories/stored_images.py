"""What inspections keep in the object store, and what the retention policy has removed."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from services.core.models import StoredImage
from services.core.tables import inspections, stored_images


class StoredImageRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def usage(self) -> dict[str, int]:
        """Bytes kept per tenant (removed ones not counted)."""
        query = select(stored_images.c.tenant, func.sum(stored_images.c.nbytes)).where(stored_images.c.removed_at.is_(None)).group_by(stored_images.c.tenant)
        with self.engine.connect() as conn:
            return {tenant: int(total) for tenant, total in conn.execute(query)}

    def oldest(self, limit: int, tenant: str | None = None, before: str | None = None) -> list[tuple[StoredImage, str]]:
        """Kept images oldest first, each with its inspection's image key, of one tenant and/or older than
        `before`; images of inspections marked as false alarms are evidence and are never offered."""
        query = (
            select(stored_images, inspections.c.image_key)
            .join(inspections, inspections.c.id == stored_images.c.inspection_id)
            .where(stored_images.c.removed_at.is_(None), inspections.c.feedback.is_(None))
        )
        if tenant is not None:
            query = query.where(stored_images.c.tenant == tenant)
        if before is not None:
            query = query.where(stored_images.c.created_at < before)
        query = query.order_by(stored_images.c.created_at, stored_images.c.inspection_id).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [(StoredImage.model_validate({k: v for k, v in r._mapping.items() if k != "image_key"}), r.image_key) for r in rows]

    def removed(self, inspection_ids: list[str], at: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(stored_images.update().where(stored_images.c.inspection_id.in_(inspection_ids)).values(removed_at=at))

    def removed_at(self, inspection_id: str) -> str | None:
        """When the inspection's image was removed; None while kept (or never recorded)."""
        with self.engine.connect() as conn:
            return conn.execute(select(stored_images.c.removed_at).where(stored_images.c.inspection_id == inspection_id)).scalar_one_or_none()
