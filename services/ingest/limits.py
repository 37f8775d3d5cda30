"""Route: the limits the server enforces, so a client states the same numbers it will be held to."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

router = APIRouter(prefix="/v1", tags=["system"])


class LimitsOut(BaseModel):
    """The enforced limits (from the server's settings); an upload beyond them is refused, nothing stored."""

    max_golden: int = Field(description="golden samples a product holds at most")
    max_files: int = Field(description="files in one upload at most")
    max_file_bytes: int = Field(description="bytes of one image at most")
    max_request_bytes: int = Field(description="bytes of one request at most")


@router.get("/limits")
async def limits(request: Request) -> LimitsOut:
    runtime = request.app.state.runtime
    service = runtime.service
    return LimitsOut(max_golden=service.max_golden, max_files=service.max_files, max_file_bytes=runtime.engine.limits.max_bytes, max_request_bytes=service.max_request_bytes)
