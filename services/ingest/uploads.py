"""Reading image uploads: multipart parts (or one raw image body) with bounded counts and sizes."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.requests import Request

from services.common.errors import ApiError, bad_request
from services.common.names import display_name

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def too_large(what: str, limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"{what} is larger than the limit of {limit} bytes")


async def read_uploads(request: Request, field: str, max_files: int, max_bytes: int, single: bool = False) -> list[Upload]:
    """The files of a multipart request's `field` parts; a raw image/* body counts as one file."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("image/") or content_type == "application/octet-stream":
        data = await request.body()
        if len(data) > max_bytes:
            raise too_large("the image", max_bytes)
        uploads = [Upload(display_name(request.headers.get("x-filename")), data)]
    elif content_type.startswith("multipart/form-data"):
        async with request.form(max_files=max_files, max_fields=max_files + 16) as form:
            parts = form.getlist(field)
            if any(not isinstance(p, UploadFile) for p in parts):
                raise bad_request(f"form field '{field}' must hold files, not text")
            uploads = [Upload(display_name(p.filename), await _read(p, max_bytes)) for p in parts]
    else:
        raise ApiError(415, "unsupported_media_type", f"send multipart/form-data with '{field}' parts (or one image/* body), not {content_type or 'no content type'}")
    if not uploads:
        raise bad_request(f"no files: send one or more multipart parts named '{field}'")
    if single and len(uploads) != 1:
        raise bad_request(f"send exactly one '{field}' part, not {len(uploads)}")
    empty = [u.filename for u in uploads if not u.data]
    if empty:
        raise bad_request(f"empty file: {empty[0]}")
    return uploads


async def _read(part: UploadFile, max_bytes: int) -> bytes:
    chunks, size = [], 0
    while chunk := await part.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise too_large(f"file {display_name(part.filename)}", max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)
