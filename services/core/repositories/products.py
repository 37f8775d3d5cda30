"""Products, and the two things that change a product row: reserving a version and activating one."""

from __future__ import annotations

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError

from services.core.errors import Conflict, NotFound
from services.core.models import Product
from services.core.repositories.history import record_activation
from services.core.tables import (
    OPEN_STATES, activations, deliveries, golden, ignore_masks, inspections, jobs, labels, now_iso, products, stored_images, version_origins, versions, webhooks,
)


class ProductRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, product_id: str, tenant: str, name: str, description: str, limit: int | None = None) -> Product:
        """Never more than `limit` products for the tenant: counted after the insert in the same transaction,
        which holds a per-tenant lock (an advisory lock on PostgreSQL; SQLite's write lock from the insert),
        so racing creates cannot pass the quota by their number."""
        try:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:tenant))"), {"tenant": f"products:{tenant}"})
                conn.execute(products.insert().values(id=product_id, tenant=tenant, name=name, description=description, created_at=now_iso(), next_version=1))
                held = conn.execute(select(func.count()).select_from(products).where(products.c.tenant == tenant)).scalar_one()
                if limit is not None and held > limit:
                    raise Conflict(f"tenant '{tenant}' holds its quota of {limit} products", code="quota_exceeded")
        except IntegrityError:
            raise Conflict(f"product '{name}' already exists") from None
        return self.get(tenant, name)

    def get(self, tenant: str, name: str) -> Product:
        """The tenant's product `name`; another tenant's product of that name is not found."""
        product = self._first(select(products).where(products.c.tenant == tenant, products.c.name == name))
        if product is None:
            raise NotFound(f"product '{name}' does not exist")
        return product

    def by_id(self, product_id: str) -> Product | None:
        """None once deleted: a job or an event may outlive its product."""
        return self._first(select(products).where(products.c.id == product_id))

    def list(self, tenant: str) -> list[Product]:
        """By name."""
        with self.engine.connect() as conn:
            return [Product.model_validate(r._mapping) for r in conn.execute(select(products).where(products.c.tenant == tenant).order_by(products.c.name))]

    def page(self, tenant: str, after: str | None, limit: int) -> list[Product]:
        """By name, those after `after`."""
        query = select(products).where(products.c.tenant == tenant)
        if after is not None:
            query = query.where(products.c.name > after)
        with self.engine.connect() as conn:
            return [Product.model_validate(r._mapping) for r in conn.execute(query.order_by(products.c.name).limit(limit))]

    def count(self, tenant: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(products).where(products.c.tenant == tenant)).scalar_one()

    def count_by_tenant(self) -> dict[str, int]:
        """Products per tenant, every tenant's (the start-up check for products no key can see)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(products.c.tenant, func.count()).group_by(products.c.tenant))
            return {tenant: count for tenant, count in rows}

    def move_tenant(self, from_tenant: str, to_tenant: str) -> tuple[list[str], list[str]]:
        """Give from_tenant's products (their jobs and stored images too: retention counts by tenant) to
        to_tenant, in one transaction.

        A name to_tenant already uses stays where it is (two products of one tenant cannot share a
        name); returns (moved, left) product names.
        """
        with self.engine.begin() as conn:
            taken = set(conn.execute(select(products.c.name).where(products.c.tenant == to_tenant)).scalars())
            rows = conn.execute(select(products.c.id, products.c.name).where(products.c.tenant == from_tenant).order_by(products.c.name)).all()
            moving = [(pid, name) for pid, name in rows if name not in taken]
            ids = [pid for pid, _ in moving]
            if ids:
                conn.execute(products.update().where(products.c.id.in_(ids)).values(tenant=to_tenant))
                for table in (jobs, stored_images):
                    conn.execute(table.update().where(table.c.product_id.in_(ids)).values(tenant=to_tenant))
        return [name for _, name in moving], sorted(name for _, name in rows if name in taken)

    def all(self) -> list[Product]:
        """Every tenant's, oldest first (a restart refilling the vector store)."""
        with self.engine.connect() as conn:
            return [Product.model_validate(r._mapping) for r in conn.execute(select(products).order_by(products.c.created_at))]

    def delete(self, product_id: str) -> None:
        """The product and everything recorded about it, in one transaction; its open jobs fail."""
        with self.engine.begin() as conn:
            for table in (golden, versions, inspections, stored_images, webhooks, deliveries, labels, version_origins, activations, ignore_masks):
                conn.execute(table.delete().where(table.c.product_id == product_id))
            conn.execute(jobs.update().where(jobs.c.product_id == product_id, jobs.c.state.in_(OPEN_STATES)).values(
                state="failed", error={"code": "not_found", "message": "the product was deleted"}, finished_at=now_iso()))
            conn.execute(products.delete().where(products.c.id == product_id))

    def allocate_version(self, product_id: str) -> int:
        """The next version number, reserved when a build is requested (a rerun rebuilds the same one)."""
        with self.engine.begin() as conn:
            version = conn.execute(select(products.c.next_version).where(products.c.id == product_id)).scalar_one()
            conn.execute(products.update().where(products.c.id == product_id).values(next_version=version + 1))
        return version

    def activate(self, product_id: str, version: int, actor: str) -> None:
        """Make a recorded version the one inspections use (NotFound for a version never built), and
        record who did it and which version it replaced."""
        with self.engine.begin() as conn:
            if conn.execute(select(versions.c.version).where(versions.c.product_id == product_id, versions.c.version == version)).first() is None:
                raise NotFound(f"fingerprint version {version} does not exist")
            record_activation(conn, product_id, version, actor)
            conn.execute(products.update().where(products.c.id == product_id).values(active_version=version))

    def _first(self, query: object) -> Product | None:
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else Product.model_validate(row._mapping)
