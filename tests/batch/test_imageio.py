"""Image input: every kind of good and bad file, generated in tmp_path."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alien_filters.batch.imageio import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    ImageLoadError,
    decode_image_bytes,
    load_image,
    sha256_bytes,
    sha256_file,
)

# builders


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims ``width`` x ``height`` RGB pixels (its data is nowhere near that)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def save(image: Image.Image, path: Path, **params) -> Path:
    image.save(path, **params)
    return path


def open_fds_to(path: Path) -> list[str]:
    """Descriptors of this process that point at ``path`` (Linux only)."""
    target = os.path.realpath(path)
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == target:
                found.append(fd)
        except OSError:
            continue
    return found


def load_untouched(path: Path, **kwargs) -> Image.Image:
    """load_image, asserting the original is byte-identical, not touched, and not left open."""
    readable = path.is_file() and os.access(path, os.R_OK)
    before = path.read_bytes() if readable else None
    stat = path.stat() if path.is_file() else None
    try:
        return load_image(path, **kwargs)
    finally:
        if before is not None:
            assert path.read_bytes() == before, "the original must stay byte-identical"
        if stat is not None:
            after = path.stat()
            assert (after.st_size, after.st_mtime_ns, after.st_mode) == (stat.st_size, stat.st_mtime_ns, stat.st_mode)
        if sys.platform.startswith("linux") and path.exists():
            assert open_fds_to(path) == [], "the original must be closed (not locked) after loading"


def load_error(path: Path, **kwargs) -> ImageLoadError:
    with pytest.raises(ImageLoadError) as info:
        load_untouched(path, **kwargs)
    error = info.value
    assert error.path == str(path)
    assert str(error) == f"{path}: {error.problem}"
    assert "Traceback" not in str(error)
    return error


# good inputs


def test_rgb_png_loads_pixel_exact(tmp_path):
    original = noise(16, 9)
    image = load_untouched(save(original, tmp_path / "room.png"))
    assert image.mode == "RGB" and image.size == (16, 9)
    np.testing.assert_array_equal(np.asarray(image), np.asarray(original))


def test_one_by_one_and_a_20000_by_20_strip(tmp_path):
    tiny = load_untouched(save(Image.new("RGB", (1, 1), (10, 20, 30)), tmp_path / "dot.png"))
    assert tiny.size == (1, 1) and tiny.getpixel((0, 0)) == (10, 20, 30)
    strip = load_untouched(save(Image.new("L", (20000, 20), 77), tmp_path / "strip.png"))
    assert strip.size == (20000, 20) and strip.mode == "RGB" and strip.getpixel((19999, 19)) == (77, 77, 77)


def test_unicode_names_with_spaces(tmp_path):
    path = save(Image.new("RGB", (4, 3), (1, 2, 3)), tmp_path / "chambre d'hôtel 房间 1.jpg", quality=95)
    assert load_untouched(path).size == (4, 3)


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    levels = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    path = save(Image.fromarray(levels), tmp_path / "deep.png")
    with Image.open(path) as raw:
        assert raw.mode.startswith("I"), "the file must really be 16-bit"
    image = load_untouched(path)
    assert image.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(image)[0, :, 0], [0, 1, 128, 255])


def test_32_bit_int_and_float_tiffs(tmp_path):
    ints = np.array([[0, 65535]], dtype=np.int32)
    assert load_untouched(save(Image.fromarray(ints, "I"), tmp_path / "int.tif")).getpixel((1, 0)) == (255,) * 3
    wide = np.array([[-1000, 0, 1000]], dtype=np.int32)
    got = np.asarray(load_untouched(save(Image.fromarray(wide, "I"), tmp_path / "wide.tif")))[0, :, 0]
    np.testing.assert_array_equal(got, [0, 128, 255])
    floats = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    got = np.asarray(load_untouched(save(Image.fromarray(floats, "F"), tmp_path / "float.tif")))[0, :, 0]
    np.testing.assert_array_equal(got, [0, 128, 255])


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = save(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), tmp_path / "print.jpg", quality=95)
    with Image.open(path) as raw:
        assert raw.mode == "CMYK"
    r, g, b = load_untouched(path).getpixel((4, 4))
    assert r > 240 and g < 15 and b < 15


def test_palette_with_transparency_is_composited_on_white(tmp_path):
    image = Image.new("P", (2, 1))
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putpixel((1, 0), 1)
    path = save(image, tmp_path / "icon.png", transparency=0)
    loaded = load_untouched(path)
    assert loaded.getpixel((0, 0)) == (255, 255, 255)
    assert loaded.getpixel((1, 0)) == (255, 0, 0)


def test_la_and_rgba_alpha_is_composited_on_white(tmp_path):
    la = Image.fromarray(np.array([[[0, 0], [0, 255], [0, 128]]], dtype=np.uint8), "LA")
    got = load_untouched(save(la, tmp_path / "la.png"))
    assert [got.getpixel((x, 0)) for x in range(3)] == [(255, 255, 255), (0, 0, 0), (127, 127, 127)]
    rgba = Image.new("RGBA", (1, 1), (0, 0, 255, 128))
    assert load_untouched(save(rgba, tmp_path / "rgba.webp", lossless=True)).getpixel((0, 0)) == (127, 127, 255)


def test_exif_orientation_is_applied(tmp_path):
    stored = Image.new("RGB", (64, 32), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 16, 16))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = save(stored, tmp_path / "phone.jpg", quality=95, exif=exif.tobytes())
    image = load_untouched(path)
    assert image.size == (32, 64)
    r, g, b = image.getpixel((24, 8))  # the stored top-left corner is now the top-right one
    assert r > 200 and b < 60
    r, g, b = image.getpixel((8, 8))
    assert b > 200 and r < 60


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_animated_images_give_their_first_frame(tmp_path, suffix):
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    path = save(frames[0], tmp_path / f"anim{suffix}", save_all=True, append_images=frames[1:], duration=100)
    with Image.open(path) as raw:
        assert raw.n_frames == 3
    image = load_untouched(path)
    assert image.mode == "RGB"
    r, g, b = image.getpixel((4, 4))
    assert r > 240 and g < 15 and b < 15


def test_extensions_cover_the_batch_formats():
    assert IMAGE_EXTENSIONS == (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
    assert all(ext == ext.lower() for ext in IMAGE_EXTENSIONS)


# bad inputs


def test_truncated_jpeg_and_png(tmp_path):
    for name in ("cut.jpg", "cut.png"):
        path = save(noise(64, 64), tmp_path / name)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        assert "truncated" in load_error(path).problem


def test_png_cut_inside_or_garbled_after_its_signature(tmp_path):
    path = tmp_path / "stub.png"
    path.write_bytes(png_claiming(10, 10)[:20])
    assert "truncated image header" in load_error(path).problem
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x07" * 40)
    assert load_error(path).problem == "damaged image: it starts like a PNG file but its header cannot be read"


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert load_error(path).problem == "empty file (0 bytes)"


def test_text_named_png(tmp_path):
    path = tmp_path / "room 1.png"
    path.write_text("These are my holiday notes.\nRoom 12 had a view of the lake.\n", encoding="utf-8")
    error = load_error(path)
    assert str(error) == f"{path}: not an image (the file holds text)"


def test_html_named_jpg(tmp_path):
    path = tmp_path / "download.jpg"
    path.write_text("<!DOCTYPE html>\n<html><body>403 Forbidden</body></html>\n", encoding="utf-8")
    assert "the file holds HTML" in load_error(path).problem


def test_unsupported_format_is_refused_even_if_pillow_reads_it(tmp_path):
    path = tmp_path / "icon.png"
    Image.new("RGB", (16, 16), "red").save(path, format="ICO")
    assert load_error(path).problem == "not an image (unknown or unsupported format)"


def test_decompression_bomb_header_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming(100_000, 100_000))
    assert path.stat().st_size < 200
    problem = load_error(path).problem
    assert "too large" in problem and "decompression bomb" in problem


def test_pillow_bomb_warning_becomes_an_error(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(png_claiming(10_000, 10_000))  # over Pillow's 89 MP warning, under its error limit
    problem = load_error(path, max_pixels=150_000_000).problem
    assert "decompression bomb" in problem


def test_pixel_limit_is_checked_from_the_header(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(png_claiming(8000, 8000))  # 64 MP: under Pillow's limit, over ours; its data is 64 bytes
    error = load_error(path)
    assert error.problem == f"too large: 8000x8000 is 64,000,000 pixels, over the limit of {DEFAULT_MAX_PIXELS:,}"
    small = save(noise(20, 20), tmp_path / "small.png")
    assert "400 pixels, over the limit of 100" in load_error(small, max_pixels=100).problem
    assert load_untouched(small, max_pixels=400).size == (20, 20)


def test_unreadable_file(tmp_path):
    path = save(noise(4, 4), tmp_path / "secret.png")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root (or with CAP_DAC_OVERRIDE): a mode-000 file is still readable")
        assert load_error(path).problem == "permission denied (the file cannot be read)"
    finally:
        path.chmod(0o644)


def test_folder_named_like_an_image(tmp_path):
    path = tmp_path / "x.jpg"
    path.mkdir()
    assert load_error(path).problem == "is a folder, not an image file"


def test_missing_file(tmp_path):
    assert load_error(tmp_path / "gone.jpg").problem == "file not found"


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_symlink_loop(tmp_path):
    loop = tmp_path / "loop.jpg"
    os.symlink(loop, loop)
    assert load_error(loop).problem.startswith("cannot read the file (")


def test_max_pixels_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="max_pixels"):
        load_image(tmp_path / "any.png", max_pixels=0)


# bytes, hashes, the error type


def test_decode_image_bytes_follows_the_same_rules():
    buffer = io.BytesIO()
    Image.new("LA", (3, 2), (0, 0)).save(buffer, format="PNG")
    image = decode_image_bytes(buffer.getvalue(), "upload.png")
    assert image.mode == "RGB" and image.size == (3, 2) and image.getpixel((0, 0)) == (255, 255, 255)
    with pytest.raises(ImageLoadError, match=r"^upload\.jpg: empty file"):
        decode_image_bytes(b"", "upload.jpg")
    with pytest.raises(ImageLoadError, match=r"^notes\.png: not an image \(the file holds text\)$"):
        decode_image_bytes(b"just some words", "notes.png")
    with pytest.raises(ImageLoadError, match="decompression bomb"):
        decode_image_bytes(png_claiming(100_000, 100_000), "bomb.png")
    with pytest.raises(ImageLoadError, match="expected the file's bytes, got str"):
        decode_image_bytes("not bytes", "x.png")


def test_sha256_file_streams_and_matches_hashlib(tmp_path):
    data = os.urandom(3 * (1 << 20) + 123)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_file(path) == expected == sha256_bytes(data)
    with pytest.raises(ImageLoadError, match="file not found"):
        sha256_file(tmp_path / "nothing.jpg")
    with pytest.raises(ImageLoadError, match="is a folder"):
        sha256_file(tmp_path)


def test_image_load_error_pickles_for_worker_processes():
    error = pickle.loads(pickle.dumps(ImageLoadError("a/room 1.jpg", "not an image (the file holds text)")))
    assert isinstance(error, ImageLoadError)
    assert (error.path, error.problem) == ("a/room 1.jpg", "not an image (the file holds text)")
    assert str(error) == "a/room 1.jpg: not an image (the file holds text)"
