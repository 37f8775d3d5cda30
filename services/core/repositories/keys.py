"""API keys of tenants, stored only as SHA-256."""

from __future__ import annotations

from sqlalchemy import Engine, select

from services.core.models import ApiKey
from services.core.tables import api_keys, now_iso


class KeyRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, key_hash: str, tenant: str, label: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(api_keys.insert().values(key_hash=key_hash, tenant=tenant, label=label, created_at=now_iso()))

    def get(self, key_hash: str) -> ApiKey | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_hash == key_hash)).first()
        return None if row is None else ApiKey.model_validate(row._mapping)

    def list(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            return [ApiKey.model_validate(r._mapping) for r in conn.execute(select(api_keys).order_by(api_keys.c.tenant, api_keys.c.created_at))]

    def tenants(self) -> set[str]:
        """The tenants that have at least one key."""
        with self.engine.connect() as conn:
            return set(conn.execute(select(api_keys.c.tenant).distinct()).scalars())

    def revoke(self, tenant: str) -> int:
        """How many keys the tenant lost."""
        with self.engine.begin() as conn:
            return conn.execute(api_keys.delete().where(api_keys.c.tenant == tenant)).rowcount
