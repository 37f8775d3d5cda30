"""API keys: random tokens shown once, stored only as SHA-256, each bound to one tenant.

A tenant is a factory (or a customer); every product belongs to one, and every query is scoped to
the caller's tenant, so a key can neither see nor change another tenant's data. Keys are 256-bit
random, so a plain SHA-256 (no slow KDF) is enough to make a stolen database useless.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from services.common.catalog import Catalog
from services.core.errors import Unauthorized
from services.core.models import ApiKey

DEFAULT_TENANT = "default"
LOCAL_ACTOR = "local"
HEADER = "X-API-Key"


def new_key() -> str:
    """A fresh key: 'gs_' + 43 url-safe characters (256 bits)."""
    return "gs_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def tenant_for(catalog: Catalog, key: str | None, required: bool) -> str:
    """The caller's tenant: from its key, or the default tenant when keys are optional and none is sent."""
    known = key_for(catalog, key, required)
    return known.tenant if known is not None else DEFAULT_TENANT


def key_for(catalog: Catalog, key: str | None, required: bool) -> ApiKey | None:
    """The caller's stored key; None when keys are optional and none is sent."""
    if not key:
        if required:
            raise Unauthorized(f"missing {HEADER} header")
        return None
    digest = hash_key(key)
    known = catalog.keys.get(digest)
    if known is None or not hmac.compare_digest(known.key_hash, digest):
        raise Unauthorized("unknown API key")
    return known


def actor_of(known: ApiKey | None) -> str:
    """Who did something, for history and labels: "tenant/key label" ("tenant/key 1a2b3c4d" for a key
    without a label), or "local" on a server used without keys."""
    if known is None:
        return LOCAL_ACTOR
    return f"{known.tenant}/{known.label or 'key ' + known.key_hash[:8]}"
