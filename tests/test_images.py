"""goldenshot.images on synthetic files of every mode and every kind of broken or hostile input."""

from __future__ import annotations

import io
import pickle
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from goldenshot.images import IMAGE_SUFFIXES, ImageError, decode_image, decode_near, decoded_size, image_sha256, read_image

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (30, 40, 3), dtype=np.uint8)


def encode(im: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def check_rgb(out: np.ndarray, shape: tuple[int, int]) -> None:
    assert out.shape == (*shape, 3)
    assert out.dtype == np.uint8
    assert out.flags.c_contiguous


def png_with_size(width: int, height: int) -> bytes:
    """A valid 8x8 PNG whose IHDR is patched (with a correct CRC) to claim width x height."""
    data = encode(Image.new("L", (8, 8)), "PNG")
    assert data[12:16] == b"IHDR"
    body = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
    return data[:12] + body + struct.pack(">I", zlib.crc32(body)) + data[33:]


def test_suffixes() -> None:
    assert IMAGE_SUFFIXES == {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF"])
def test_rgb_lossless_roundtrip(fmt: str) -> None:
    out = decode_image(encode(Image.fromarray(RGB), fmt))
    check_rgb(out, (30, 40))
    np.testing.assert_array_equal(out, RGB)


def test_webp_and_jpeg_decode() -> None:
    for fmt in ("WEBP", "JPEG"):
        check_rgb(decode_image(encode(Image.fromarray(RGB), fmt)), (30, 40))


def test_grayscale_replicated_to_three_channels() -> None:
    gray = RGB[:, :, 0]
    out = decode_image(encode(Image.fromarray(gray), "PNG"))
    check_rgb(out, (30, 40))
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], gray)


def test_one_bit() -> None:
    bits = np.zeros((30, 40), bool)
    bits[5:10, 5:20] = True
    out = decode_image(encode(Image.fromarray(bits), "PNG"))
    check_rgb(out, (30, 40))
    np.testing.assert_array_equal(out[:, :, 0], np.where(bits, 255, 0))


def test_palette() -> None:
    im = Image.fromarray(RGB).quantize(16)
    expected = np.asarray(im.convert("RGB"))
    out = decode_image(encode(im, "PNG"))
    check_rgb(out, (30, 40))
    np.testing.assert_array_equal(out, expected)


def test_palette_with_transparency_keeps_colours() -> None:
    im = Image.new("P", (10, 6), 1)
    im.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
    out = decode_image(encode(im, "PNG", transparency=1))
    assert out[0, 0].tolist() == [200, 100, 50]


def test_rgba_alpha_dropped() -> None:
    rgba = np.dstack([RGB, np.zeros((30, 40), np.uint8)])  # fully transparent
    out = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    check_rgb(out, (30, 40))
    np.testing.assert_array_equal(out, RGB)


def test_la_and_pa() -> None:
    la = Image.fromarray(np.dstack([RGB[:, :, 0], np.full((30, 40), 7, np.uint8)]), "LA")
    out = decode_image(encode(la, "PNG"))
    np.testing.assert_array_equal(out[:, :, 1], RGB[:, :, 0])
    pa = Image.fromarray(RGB).quantize(8).convert("PA")
    check_rgb(decode_image(encode(pa, "TIFF")), (30, 40))


def test_cmyk_jpeg() -> None:
    im = Image.new("CMYK", (40, 30), (0, 255, 255, 0))  # pure red in CMYK
    data = encode(im, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    out = decode_image(data)
    check_rgb(out, (30, 40))
    r, g, b = out[15, 20].astype(int)
    assert r > 200 and g < 60 and b < 60


@pytest.mark.parametrize("dtype", ["<u2", ">u2"])
def test_16bit_full_range_maps_to_8bit(dtype: str) -> None:
    values = np.linspace(0, 65535, 30 * 40).reshape(30, 40).astype(dtype)
    im = Image.fromarray(values)
    assert im.mode in ("I;16", "I;16B")
    data = encode(im, "PNG" if dtype == "<u2" else "TIFF")
    out = decode_image(data)
    check_rgb(out, (30, 40))
    expected = np.rint(values.astype(float) / 65535 * 255).astype(np.uint8)
    np.testing.assert_array_equal(out[:, :, 0], expected)
    assert out.min() == 0 and out.max() == 255


def test_16bit_narrow_range_stretched_not_clipped() -> None:
    # A 12-bit sensor in a 16-bit PNG: 1000..4000 must become 0..255, not all 255 (clipped).
    values = np.linspace(1000, 4000, 30 * 40).reshape(30, 40).astype(np.uint16)
    out = decode_image(encode(Image.fromarray(values), "PNG"))
    assert out.min() == 0 and out.max() == 255
    assert np.all(np.diff(out[:, :, 0].ravel().astype(int)) >= 0)  # monotone


def test_32bit_int_and_float() -> None:
    ints = Image.fromarray(np.arange(30 * 40, dtype=np.int32).reshape(30, 40) * 1000)
    assert ints.mode == "I"
    out = decode_image(encode(ints, "TIFF"))
    assert out[0, 0, 0] == 0 and out[-1, -1, 0] == 255
    floats = np.linspace(-1.0, 3.0, 30 * 40, dtype=np.float32).reshape(30, 40)
    out = decode_image(encode(Image.fromarray(floats), "TIFF"))
    check_rgb(out, (30, 40))
    assert out[0, 0, 0] == 0 and out[-1, -1, 0] == 255


def test_flat_16bit_is_black_not_error() -> None:
    out = decode_image(encode(Image.fromarray(np.full((4, 5), 40000, np.uint16)), "PNG"))
    assert out.shape == (4, 5, 3) and not out.any()


def test_exif_orientation_applied() -> None:
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    im.paste((0, 0, 255), (0, 0, 10, 20))  # blue on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    out = decode_image(encode(im, "JPEG", exif=exif.tobytes(), quality=95))
    check_rgb(out, (40, 20))
    assert out[2, 10, 2] > 200  # left became top


def test_animated_gif_first_frame() -> None:
    frames = [Image.new("RGB", (10, 6), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(data)).n_frames == 3
    out = decode_image(data)
    check_rgb(out, (6, 10))
    assert out[3, 3].tolist() == [255, 0, 0]


def test_multipage_tiff_first_page() -> None:
    pages = [Image.new("RGB", (10, 6), (0, 0, 255)), Image.new("RGB", (20, 20), (0, 255, 0))]
    out = decode_image(encode(pages[0], "TIFF", save_all=True, append_images=pages[1:]))
    check_rgb(out, (6, 10))
    assert out[0, 0].tolist() == [0, 0, 255]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "TIFF", "GIF"])
@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated(fmt: str, keep: float) -> None:
    data = encode(Image.fromarray(RNG.integers(0, 256, (120, 120, 3), dtype=np.uint8)), fmt)
    with pytest.raises(ImageError, match=rf"^cut\.{fmt.lower()}: truncated image$"):
        decode_image(data[: int(len(data) * keep)], f"cut.{fmt.lower()}")


def test_truncated_webp_rejected() -> None:
    data = encode(Image.fromarray(RGB), "WEBP")
    with pytest.raises(ImageError, match=r"^cut\.webp: "):
        decode_image(data[: len(data) // 2], "cut.webp")


def test_header_claims_huge_size_rejected_without_allocating() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ImageError, match=r"^bomb\.png: image too large \(10000000000 pixels > limit 64000000\)$"):
            decode_image(png_with_size(100_000, 100_000), "bomb.png")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20


def test_own_pixel_limit_checked_before_decoding() -> None:
    # 9000x8000 is under Pillow's own limit, over ours; the pixel data is not even present.
    with pytest.raises(ImageError, match=r"image too large \(72000000 pixels > limit 64000000\)"):
        decode_image(png_with_size(9000, 8000), "big.png")
    with pytest.raises(ImageError, match=r"image too large \(1200 pixels > limit 1000\)"):
        decode_image(encode(Image.fromarray(RGB), "PNG"), max_pixels=1000)


def test_pillow_warning_level_is_an_error() -> None:
    # Between Pillow's MAX_IMAGE_PIXELS and twice it Pillow only warns: still refused, quoting the one
    # limit in force (the smaller of the configured one and Pillow's).
    with pytest.raises(ImageError, match=r"image too large \(90000000 pixels > limit 89478485\)"):
        decode_image(png_with_size(10_000, 9_000), "big.png", max_pixels=10**9)
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # the global is left alone


def test_one_bit_huge_image_refused() -> None:
    data = encode(Image.new("1", (12_000, 6_000)), "PNG")  # ~10 kB of zlib, 72M pixels
    assert len(data) < 100_000
    with pytest.raises(ImageError, match="image too large"):
        decode_image(data, "flat.png")


@pytest.mark.parametrize(
    "data", [b"\x00" * 100, np.random.default_rng(1).bytes(2000), b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n"]
)
def test_not_an_image(data: bytes) -> None:
    with pytest.raises(ImageError, match=r"^exp1\.jpg: not an image \(cannot identify image file\)$"):
        decode_image(data, "exp1.jpg")


def test_empty_bytes() -> None:
    with pytest.raises(ImageError, match=r"^upload: empty file$"):
        decode_image(b"")


def test_message_is_one_line() -> None:
    with pytest.raises(ImageError) as info:
        decode_image(b"garbage", "evil\nname\r.png")
    assert "\n" not in str(info.value) and "\r" not in str(info.value)
    assert isinstance(info.value, ValueError)
    assert str(pickle.loads(pickle.dumps(info.value))) == str(info.value)


def test_read_image(tmp_path: Path) -> None:
    path = tmp_path / "ok.png"
    path.write_bytes(encode(Image.fromarray(RGB), "PNG"))
    np.testing.assert_array_equal(read_image(path), RGB)


def test_read_image_missing_names_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.png"
    with pytest.raises(ImageError, match=rf"^{path}: file not found$"):
        read_image(path)


def test_read_image_empty_and_directory(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.png: empty file$"):
        read_image(tmp_path / "empty.png")
    with pytest.raises(ImageError, match="not a regular file"):
        read_image(tmp_path)


def test_read_image_too_many_bytes_checked_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(encode(Image.fromarray(RGB), "PNG"))

    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("file opened despite its size")

    monkeypatch.setattr("builtins.open", no_open)
    with pytest.raises(ImageError, match=r"big\.png: file too large \(\d+ bytes > limit 100\)$"):
        read_image(path, max_bytes=100)


def test_sha256() -> None:
    assert image_sha256(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def _photo(width: int, height: int, fmt: str, **kwargs: object) -> tuple[np.ndarray, bytes]:
    """A smooth synthetic photo (gradients, so reduced decodes stay close to the full one) and its bytes."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height)], axis=2).astype(np.uint8)
    return rgb, encode(Image.fromarray(rgb), fmt, **kwargs)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_large_image_decodes_near_the_target_with_its_own_size(fmt: str) -> None:
    rgb, data = _photo(4000, 3000, fmt)
    image, size = decode_near(data, "big", target=lambda h, w: (256, 256))
    assert size == (3000, 4000)
    assert 512 <= image.shape[0] <= 3000 // 4 and 512 <= image.shape[1] <= 4000 // 4  # >= 2x the target, <= 1/4
    check_rgb(image, image.shape[:2])
    # the same picture, only smaller: compared at the decoded size
    expected = np.asarray(Image.fromarray(rgb).resize(image.shape[1::-1], Image.Resampling.BOX), dtype=np.int16)
    assert np.abs(image.astype(np.int16) - expected).mean() < 3


def test_image_under_twice_the_target_decodes_exactly_as_without_one() -> None:
    _, data = _photo(640, 640, "JPEG")
    image, size = decode_near(data, "pcb.jpg", target=lambda h, w: (384, 384))
    assert size == (640, 640) and np.array_equal(image, decode_image(data, "pcb.jpg"))


def test_reduced_decode_keeps_exif_orientation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    _, data = _photo(4000, 2000, "JPEG", exif=exif.tobytes())  # stored landscape, shown portrait
    image, size = decode_near(data, "turned.jpg", target=lambda h, w: (256, 256))
    assert size == (4000, 2000) and image.shape[:2] == (2000, 1000)  # upright, at JPEG's 1/2 (1/4 would be < 2x 256)


def test_a_target_that_rounds_to_zero_decodes_a_tiny_image_whole() -> None:
    # a 1-pixel upload's display target halves to 0 x 0 (services.core.pictures): no division by zero
    buf = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 10, 10)).save(buf, "PNG")
    decoded = decode_near(buf.getvalue(), "one-pixel.png", target=lambda h, w: (h // 2, w // 2))
    assert decoded.image.shape == (1, 1, 3) and decoded.size == (1, 1)
    assert decoded.image[0, 0].tolist() == [200, 10, 10]


@pytest.mark.parametrize(("fmt", "width", "height", "target"), [("JPEG", 4000, 3000, (256, 256)), ("PNG", 4000, 3000, (384, 512)), ("JPEG", 640, 640, (384, 384)), ("PNG", 3000, 900, (200, 700))])
def test_decoded_size_is_known_before_decoding(fmt: str, width: int, height: int, target: tuple[int, int]) -> None:
    # a build reserves its golden samples' memory from decoded_size before decoding any of them
    _, data = _photo(width, height, fmt)
    image, size = decode_near(data, "photo", target=lambda h, w: target)
    bound = decoded_size(size, lambda h, w: target)
    assert image.shape[0] <= bound[0] and image.shape[1] <= bound[1]
    assert bound[0] * bound[1] <= 4 * image.shape[0] * image.shape[1]  # a bound, not a full-size reservation
