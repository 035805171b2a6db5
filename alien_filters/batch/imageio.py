"""Image input: load a photo (or uploaded bytes) as an upright RGB image, or fail with a clear, named error.

Every mode Pillow reads (L, LA, P with transparency, RGBA, CMYK, 16-bit, 32-bit and float) comes out as 8-bit
RGB with alpha composited on white; the EXIF orientation is applied; animated GIF and WebP give their first
frame. The pixel count is checked from the header before any decoding. Originals are only ever opened for
reading and are closed before the image is returned.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import warnings
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..core.errors import AlienFiltersError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
"""File name endings (lower case) that batch input picks up from folders."""

DEFAULT_MAX_PIXELS = 40_000_000
"""40 megapixels: above any camera photo a hotel would post (a 24 MP camera gives 6000x4000), yet small enough
that the decoded RGB image (120 MB) and the pipeline's copies of it fit in memory. Larger claims are refused from
the header, before decoding, which also stops decompression bombs (Pillow's own limit is 89 MP)."""

_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "DIB", "TIFF", "GIF")
"""Decoders allowed to run: photo formats only (JPEG covers MPO), never EPS (it runs Ghostscript) or exotic ones."""

_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}

_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error, zlib.error)
"""What Pillow raises on damaged or truncated data."""

_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


class ImageLoadError(AlienFiltersError):
    """An input that cannot be used as an image; ``str()`` gives ``"<path>: <problem>"``."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(str(path), problem)
        self.path = str(path)
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def load_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open ``path`` as an upright 8-bit RGB image of at most ``max_pixels`` pixels.

    Raises :class:`ImageLoadError` (path as given, plus the problem) for a missing, unreadable, empty,
    damaged, oversized or non-image file, or a folder.
    """
    path = Path(path)
    _check_limit(max_pixels)
    try:
        if path.is_dir():
            raise ImageLoadError(path, "is a folder, not an image file")
        with open(path, "rb") as fp:
            if os.fstat(fp.fileno()).st_size == 0:
                raise ImageLoadError(path, "empty file (0 bytes)")
            return _decode(fp, str(path), max_pixels)
    except OSError as exc:
        raise ImageLoadError(path, _os_problem(exc)) from exc


def decode_image_bytes(data: bytes, name: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Same as :func:`load_image` for an uploaded file's bytes; ``name`` labels errors."""
    _check_limit(max_pixels)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageLoadError(name, f"expected the file's bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise ImageLoadError(name, "empty file (0 bytes)")
    return _decode(io.BytesIO(data), name, max_pixels)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks; unreadable files raise :class:`ImageLoadError`."""
    path = Path(path)
    digest = hashlib.sha256()
    try:
        if path.is_dir():
            raise ImageLoadError(path, "is a folder, not an image file")
        with open(path, "rb") as fp:
            for chunk in iter(lambda: fp.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise ImageLoadError(path, _os_problem(exc)) from exc
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _check_limit(max_pixels: int) -> None:
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels <= 0:
        raise ValueError(f"max_pixels must be a positive integer, got {max_pixels!r}")


def _os_problem(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, PermissionError):
        return "permission denied (the file cannot be read)"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not an image file"
    return f"cannot read the file ({exc.strerror or exc})"


def _decode(fp: BinaryIO, name: str, max_pixels: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(fp, formats=_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(name, f"too large to open safely, could be a decompression bomb ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(name, _not_an_image(fp)) from exc
    except _DECODE_ERRORS as exc:
        raise ImageLoadError(name, f"damaged or truncated image header ({exc})") from exc
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise ImageLoadError(
                name, f"too large: {width}x{height} is {width * height:,} pixels, over the limit of {max_pixels:,}"
            )
        try:
            image.load()
            upright = ImageOps.exif_transpose(image)
            return _to_rgb(upright)
        except _DECODE_ERRORS as exc:
            raise ImageLoadError(name, f"damaged or truncated image data ({exc})") from exc


def _not_an_image(fp: BinaryIO) -> str:
    fp.seek(0)
    head = fp.read(1024)
    for signature, kind in _SIGNATURES.items():
        if head.startswith(signature):
            return f"damaged image: it starts like a {kind} file but its header cannot be read"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "damaged image: it starts like a WEBP file but its header cannot be read"
    start = head.lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html")) or b"<html" in start[:256]:
        return "not an image (the file holds HTML, perhaps a saved web page or a failed download)"
    if _looks_like_text(head):
        return "not an image (the file holds text)"
    return "not an image (unknown or unsupported format)"


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    printable = sum(1 for byte in head if byte >= 32 or byte in (9, 10, 13))
    return printable >= 0.95 * len(head)


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB copy of ``image``; alpha (or a transparent colour) is composited on white."""
    if image.mode in _SIXTEEN_BIT or image.mode in ("I", "F"):
        return Image.fromarray(_to_uint8(np.asarray(image), image.mode), "L").convert("RGB")
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Scale a high-bit-depth grey image to 0..255.

    16-bit data (``I;16*``, and ``I`` holding values in 0..65535) divides by 257; float data in [0, 1] multiplies
    by 255; anything else is stretched linearly from its minimum to its maximum.
    """
    if mode == "F":
        data = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        if data.size and data.min() >= 0.0 and data.max() <= 1.0:
            return np.round(data * 255.0).astype(np.uint8)
    else:
        data = values.astype(np.int64)
        if not data.size or (data.min() >= 0 and data.max() <= 65535):
            return ((data + 128) // 257).astype(np.uint8)
    low, high = float(data.min()), float(data.max())
    if high <= low:
        return np.zeros(data.shape, dtype=np.uint8)
    return np.round((data - low) * (255.0 / (high - low))).astype(np.uint8)
