"""Fingerprint versions of a product."""

from __future__ import annotations

from sqlalchemy import Engine, select

from services.core.errors import NotFound
from services.core.models import Version, VersionOrigin
from services.core.repositories.history import record_activation
from services.core.tables import products, version_origins, versions


class VersionRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, version: Version, activate: bool, actor: str, origin: VersionOrigin | None = None) -> None:
        """Record a built version (replacing a half-recorded earlier try of the same one) and, in the same
        transaction, make it the one inspections use (recorded as `actor`'s activation) and note where a
        derived version came from."""
        with self.engine.begin() as conn:
            if conn.execute(select(products.c.id).where(products.c.id == version.product_id)).first() is None:
                raise NotFound("the product was deleted during the build")
            conn.execute(versions.delete().where(versions.c.product_id == version.product_id, versions.c.version == version.version))
            conn.execute(versions.insert().values(**version.model_dump()))
            if origin is not None:
                conn.execute(version_origins.insert().values(**origin.model_dump()))
            if activate:
                record_activation(conn, version.product_id, version.version, actor)
                conn.execute(products.update().where(products.c.id == version.product_id).values(active_version=version.version))

    def list(self, product_id: str) -> list[Version]:
        """Newest first."""
        query = select(versions).where(versions.c.product_id == product_id).order_by(versions.c.version.desc())
        with self.engine.connect() as conn:
            return [Version.model_validate(r._mapping) for r in conn.execute(query)]

    def active(self, product_ids: list[str]) -> dict[str, Version]:
        """The active version of each product that has one, in one query (a page of products)."""
        on = (products.c.id == versions.c.product_id) & (products.c.active_version == versions.c.version)
        query = select(versions).join(products, on).where(products.c.id.in_(product_ids))
        with self.engine.connect() as conn:
            return {r.product_id: Version.model_validate(r._mapping) for r in conn.execute(query)}

    def get(self, product_id: str, version: int) -> Version:
        with self.engine.connect() as conn:
            row = conn.execute(select(versions).where(versions.c.product_id == product_id, versions.c.version == version)).first()
        if row is None:
            raise NotFound(f"fingerprint version {version} does not exist")
        return Version.model_validate(row._mapping)
