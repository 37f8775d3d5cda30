"""Decoding untrusted image bytes and files into one predictable array format.

Uploads and dataset folders hold whatever a camera, a phone or an attacker produced: 16-bit
grayscale, CMYK, palettes, rotated-by-EXIF JPEGs, truncated files, decompression bombs. Every
other module gets an HxWx3 uint8 RGB array or an ImageError whose single-line message names the
file and the cause, so a bad image is reported, never a traceback or a machine out of memory.

Decisions:
- Alpha is dropped (the colour channels are kept as stored), as cv2.imread(IMREAD_COLOR) does,
  so a file gives the same pixels whichever tool the line used to make the golden samples.
- 16-bit and 32-bit integer or float grayscale is stretched from the image's own min..max to
  0..255: a 12-bit sensor stored in 16 bits must not come out black, nor 0..65535 clipped white.
- Only the formats of IMAGE_SUFFIXES (plus GIF, which browsers produce) are parsed: Pillow's
  other plugins (EPS runs Ghostscript) are attack surface we do not need.
- One pixel limit: the smaller of max_pixels and Pillow's global Image.MAX_IMAGE_PIXELS (never
  changed), checked from the header before any pixel is decoded; every refusal quotes that limit,
  whichever of the two it is and whatever Pillow's own message says.
- With a `target` (the size the caller will resize to), a large photo is decoded near it: JPEG
  through libjpeg's DCT scaling (Image.draft), other formats box-reduced right after decoding, so a
  24 MP photo never becomes a 24 MP RGB array. It stays at least twice the target on each side, so
  the caller's area filter still does the final anti-aliasing, and images under twice the target
  decode exactly as without one.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})

_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP", "GIF")  # JPEG also yields MPO (multi-picture) files
_HIGH_DEPTH_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_WARNINGS_LOCK = threading.Lock()
_BOMB_RE = re.compile(r"\((\d+) pixels\) exceeds limit")
_ORIENTATION = 0x0112  # EXIF tag; values 5-8 turn the stored image by 90 degrees
# (stored height, stored width) -> the size the caller will resize the upright image to
Target = Callable[[int, int], tuple[int, int]]


class ImageError(ValueError):
    """An image that cannot be used; the message is '<name>: <cause>' on one line."""

    def __init__(self, name: str, cause: str) -> None:
        self.name = _one_line(name)
        self.cause = _one_line(cause)
        super().__init__(f"{self.name}: {self.cause}")

    def __reduce__(self) -> tuple[type[ImageError], tuple[str, str]]:
        return ImageError, (self.name, self.cause)  # picklable across worker processes


def image_sha256(data: bytes) -> str:
    """Hex SHA-256 of the raw bytes: identifies a golden sample or upload independently of its name."""
    return hashlib.sha256(data).hexdigest()


def read_image(path: Path, max_pixels: int = 64_000_000, max_bytes: int = 64 * 2**20) -> np.ndarray:
    """Read and decode an image file."""
    return decode_image(read_bytes(path, max_bytes), os.fspath(path), max_pixels)


class ImageFiles(Sequence[np.ndarray]):
    """Image files decoded when indexed: a batch of hundreds of photos is never all in memory."""

    def __init__(self, paths: Sequence[Path], max_pixels: int = 64_000_000, max_bytes: int = 64 * 2**20) -> None:
        self.paths = list(paths)
        self.max_pixels = max_pixels
        self.max_bytes = max_bytes

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]  # no slices
        return read_image(self.paths[index], self.max_pixels, self.max_bytes)


def read_bytes(path: Path, max_bytes: int = 64 * 2**20) -> bytes:
    """A file's bytes, for decoding and hashing from one read; the size is checked with stat first."""
    name = os.fspath(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ImageError(name, "file not found") from None
    except OSError as exc:
        raise ImageError(name, f"cannot read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
        raise ImageError(name, "not a regular file")
    if info.st_size == 0:
        raise ImageError(name, "empty file")
    if info.st_size > max_bytes:
        raise ImageError(name, f"file too large ({info.st_size} bytes > limit {max_bytes})")
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)  # the file may have grown since stat
    except OSError as exc:
        raise ImageError(name, f"cannot read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise ImageError(name, f"file too large (> limit {max_bytes} bytes)")
    return data


class Decoded(NamedTuple):
    """An image decoded near a target size, and the (height, width) of the photo itself (upright)."""

    image: np.ndarray
    size: tuple[int, int]


def decode_image(data: bytes, name: str = "upload", max_pixels: int = 64_000_000) -> np.ndarray:
    """Decode image bytes to an HxWx3 uint8 RGB C-contiguous array (first frame, EXIF-upright), full size."""
    return decode_near(data, name, max_pixels).image


def decode_near(data: bytes, name: str = "upload", max_pixels: int = 64_000_000, target: Target | None = None) -> Decoded:
    """Decode image bytes like decode_image, but no larger than needed for `target` (see the module docstring).

    target: the photo's upright (height, width) -> the size the caller will resize it to; None: full size.
    """
    if not data:
        raise ImageError(name, "empty file")
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS)
    try:
        # warnings filters are process-global: the lock keeps concurrent decodes (server threads)
        # from restoring each other's filters; Pillow's bomb check runs in open(), so only it is held.
        # Its warning is left to our own check below, which quotes the one limit.
        with _WARNINGS_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=_FORMATS)
        with opened as im:
            pixels = im.width * im.height
            if pixels > limit:  # from the header alone, before any pixel is allocated
                raise ImageError(name, f"image too large ({pixels} pixels > limit {limit})")
            orientation = im.getexif().get(_ORIENTATION, 1)
            turned = orientation in (5, 6, 7, 8)
            size = (im.width, im.height) if turned else (im.height, im.width)
            factor = _reduction(size, target)
            if factor > 1 and im.format == "JPEG":
                im.draft("RGB", (im.width // factor, im.height // factor))  # DCT scaling: 1/2, 1/4 or 1/8
            im.load()  # the first frame: Image.open leaves animations and multi-page TIFFs there
            upright = ImageOps.exif_transpose(im) if orientation in range(2, 9) else im  # it copies even when upright
            rgb = _to_rgb(_reduced(upright, factor, size))
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(name, "not an image (cannot identify image file)") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(name, _bomb_cause(str(exc), limit)) from None
    except Exception as exc:  # noqa: BLE001 - hostile bytes make parsers raise anything; all mean "unusable"
        raise ImageError(name, _decode_cause(exc)) from None
    return Decoded(np.ascontiguousarray(rgb), size)


def decoded_size(size: tuple[int, int], target: Target | None) -> tuple[int, int]:
    """At most the (height, width) decode_near gives a photo of upright `size`, known before decoding:
    what a caller reserves for many photos at once (a build holds all its golden samples). JPEG's draft
    scales by powers of two only, so a decode may stop above size / factor, never above size / 2^n."""
    factor = _reduction(size, target)
    scale = 1 << (factor.bit_length() - 1)  # the largest power of two <= factor
    return -(-size[0] // scale), -(-size[1] // scale)


def _reduction(size: tuple[int, int], target: Target | None) -> int:
    """Whole factor the photo can shrink by and stay >= 2x the target on each side (1: none)."""
    if target is None:
        return 1
    height, width = (max(1, side) for side in target(*size))  # a tiny photo's target can round to 0
    return max(1, min(size[0] // (2 * height), size[1] // (2 * width)))


def _reduced(im: Image.Image, factor: int, size: tuple[int, int]) -> Image.Image:
    """Box-reduce what decoding left above size / factor: all of it for non-JPEG, the rest of JPEG's
    power-of-two draft. High-depth modes stay as decoded (Pillow cannot reduce them)."""
    if factor == 1:
        return im
    rest = min(im.height // (size[0] // factor), im.width // (size[1] // factor))
    if rest > 1 and im.mode in ("L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "P"):
        im = (im.convert("RGB") if im.mode == "P" else im).reduce(rest)
    return im


def _to_rgb(im: Image.Image) -> np.ndarray:
    """Any Pillow mode -> HxWx3 uint8 RGB (see the module docstring for alpha and bit depth)."""
    if im.mode in _HIGH_DEPTH_MODES:
        gray = _stretch_to_uint8(np.asarray(im))
        return np.repeat(gray[:, :, None], 3, axis=2)
    return np.asarray(im.convert("RGB"))  # drops alpha (LA, PA, RGBA); CMYK, P, 1 and L expand


def _stretch_to_uint8(values: np.ndarray) -> np.ndarray:
    """Map the finite range of a high-depth image linearly to 0..255; a flat image becomes 0."""
    values = values.astype(np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, np.uint8)
    lo, hi = values[finite].min(), values[finite].max()
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    out = np.where(finite, (values - lo) * scale, 0.0)
    return np.rint(out).astype(np.uint8)


def _bomb_cause(message: str, limit: int) -> str:
    match = _BOMB_RE.search(message)
    return f"image too large ({match[1] if match else 'too many'} pixels > limit {limit})"


def _decode_cause(exc: Exception) -> str:
    message = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError) or "truncated" in message.lower():
        return "truncated image"
    return f"cannot decode ({message})"


def _one_line(text: str) -> str:
    """Collapse whitespace and control characters: names come from uploads and may hold newlines."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())
