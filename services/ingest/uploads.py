"""Reading image uploads: multipart parts (or one raw image body) with bounded counts and sizes.

What goes wrong here is the request's shape, not the domain, so it is answered with HTTP statuses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from services.common.names import display_name
from services.core.uploads import Upload

_CHUNK = 1 << 20


@dataclass(frozen=True)
class UploadLimits:
    max_files: int
    max_bytes: int  # per file


def too_large(what: str, limit: int) -> HTTPException:
    return HTTPException(413, f"{what} is larger than the limit of {limit} bytes")


async def read_uploads(request: Request, field: str, limits: UploadLimits, single: bool = False, allow_empty: bool = False) -> list[Upload]:
    """The files of a multipart request's `field` parts; a raw image/* body counts as one file.

    allow_empty: a batch reports an empty file per item, like any unreadable one; elsewhere it is refused.
    """
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("image/") or content_type == "application/octet-stream":
        data = await _limited(request.stream(), limits.max_bytes, "the image")
        uploads = [Upload(display_name(request.headers.get("x-filename")), data)]
    elif content_type.startswith("multipart/form-data"):
        async with request.form(max_files=limits.max_files, max_fields=limits.max_files + 16) as form:
            parts = form.getlist(field)
            if any(not isinstance(p, UploadFile) for p in parts):
                raise HTTPException(400, f"form field '{field}' must hold files, not text")
            uploads = [Upload(display_name(p.filename), await _read(p, limits.max_bytes)) for p in parts]
    else:
        raise HTTPException(415, f"send multipart/form-data with '{field}' parts (or one image/* body), not {content_type or 'no content type'}")
    if not uploads:
        raise HTTPException(400, f"no files: send one or more multipart parts named '{field}'")
    if single and len(uploads) != 1:
        raise HTTPException(400, f"send exactly one '{field}' part, not {len(uploads)}")
    empty = [u.filename for u in uploads if not u.data]
    if empty and not allow_empty:
        raise HTTPException(400, f"empty file: {empty[0]}")
    return uploads


async def _read(part: UploadFile, max_bytes: int) -> bytes:
    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await part.read(_CHUNK):
            yield chunk

    return await _limited(chunks(), max_bytes, f"file {display_name(part.filename)}")


async def _limited(chunks: AsyncIterator[bytes], max_bytes: int, what: str) -> bytes:
    """The chunks joined, refused (413) as soon as they pass the limit: a body is never read whole first."""
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise too_large(what, max_bytes)
        parts.append(chunk)
    return b"".join(parts)
