"""Names that come from clients: validated before they reach a path, a key or a collection name."""

from __future__ import annotations

import re
import uuid

from services.core.errors import InvalidRequest

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_ID = re.compile(r"[0-9a-f]{32}(-\d{1,6})?")


class InvalidName(InvalidRequest):
    """A client-supplied name or id that is not allowed."""


def check_slug(name: str, what: str = "name") -> str:
    """ASCII slug only: no '..', '/', unicode look-alikes or control characters can get through."""
    if not isinstance(name, str) or not SLUG.fullmatch(name):
        shown = repr(name)[:80]
        raise InvalidName(f"{what} {shown} is not allowed: use 1-63 of a-z, 0-9 and '-', starting with a letter or digit")
    return name


def check_id(value: str, what: str = "id") -> str:
    """Ids the server made (uuid hex, optionally '-<n>' for batch items)."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidName(f"{what} {repr(value)[:80]} is not a valid id")
    return value


def new_id() -> str:
    """A random id: unguessable, so one tenant cannot enumerate another's objects."""
    return uuid.uuid4().hex


def display_name(filename: str | None) -> str:
    """A client's file name kept for display only (never used as a path): printable, short."""
    if not filename:
        return "upload"
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    clean = "".join(ch for ch in base if ch.isprintable())[:200]
    return clean or "upload"
