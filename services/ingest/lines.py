"""Route: the lines overview, every product of the caller's tenant on one screen (docs/line.md)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.core.errors import InvalidRequest
from services.core.lines import Lines
from services.ingest.deps import CallerDep, runtime_of
from services.schemas import LineList, LineOut

router = APIRouter(prefix="/v1/lines", tags=["sources"])


async def _lines(request: Request) -> Lines:
    return runtime_of(request).lines


@router.get("")
def lines(
    overview: Annotated[Lines, Depends(_lines)],
    caller: CallerDep,
    since: Annotated[str | None, Query(max_length=40, description="ISO 8601 start of the day to count (the console sends its local midnight); default: 24 h ago")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=63, description="next_cursor of the previous page")] = None,
) -> LineList:
    """Each product: its sources and their live state, its newest result, and how many parts were
    inspected and found anomalous since `since`."""
    items, next_cursor = overview.page(caller.tenant, _utc(since), limit, cursor)
    return LineList(items=[LineOut.of(line) for line in items], next_cursor=next_cursor)


def _utc(since: str | None) -> str:
    """`since` as the catalog stores times (UTC, ISO 8601), so string order is time order."""
    if since is None:
        return (datetime.now(timezone.utc) - timedelta(days=1)).isoformat(timespec="microseconds")
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise InvalidRequest(f"since {since[:40]!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise InvalidRequest("since needs a UTC offset (e.g. 2026-12-02T00:00:00+01:00)")
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")
