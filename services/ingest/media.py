"""Binary answers: stored images, PNG maps and the fingerprint file, with their media type declared in
OpenAPI and sent from the bytes' signature, never from what the client once claimed."""

from __future__ import annotations

from typing import Any

from fastapi import Response

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/bmp", "image/tiff", "image/webp")
SAFETENSORS = "application/octet-stream"


def media_type(data: bytes) -> str:
    for magic, kind in _SIGNATURES:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def binary(description: str, *media_types: str) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route answering bytes: each media type with a binary string schema."""
    return {200: {"description": description, "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in media_types}}}


class ImageResponse(Response):
    """Stored bytes as an image; nosniff so a browser never runs a crafted upload as something else."""

    media_type = "image/png"  # the declared default; each answer names its own from the bytes

    def __init__(self, content: bytes) -> None:
        headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"}
        super().__init__(content=content, media_type=media_type(content), headers=headers)
