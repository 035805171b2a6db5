"""A corpus of bad (and awkward but valid) inputs, generated into a folder: what users feed the batch from the wild.

Each :class:`Case` says what the batch must do with the file: ``done`` (converted and processed) or ``failed``
with a message holding ``words``. Objects are painted in the colours of tests/support/rooms.py so the stage doubles
find them, which lets tests check that the right frame or orientation was used.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from tests.support.rooms import PALETTE, room_image

UNICODE_FOLDER = "étage 2"
UNICODE_NAME = "chambre d'hôtel №1 北京.jpg"


@dataclass(frozen=True)
class Case:
    """One corpus file: where it lies (relative), what it is, and what the batch must make of it."""

    rel: str
    what: str
    expect: str
    """'done' or 'failed'."""
    words: tuple[str, ...] = ()
    """Lower-case words a failure message must contain."""
    label: str | None = None
    """For 'done' cases: a class the doubles must find (proves the right pixels were used)."""
    make: Callable[[], bytes] = field(default=lambda: b"", compare=False, repr=False)
    """The file's bytes."""


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG of ~80 bytes whose header claims ``width`` x ``height`` RGB pixels: a decompression bomb's shape."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + png_chunk(b"IEND", b""))


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def flat(colour: str, size: tuple[int, int] = (80, 64)) -> Image.Image:
    """A frame filled with one palette colour (the doubles tag it as that class)."""
    return Image.new("RGB", size, PALETTE[colour])


def half_and_half(size: tuple[int, int] = (96, 64)) -> Image.Image:
    """Left half bed-red, right half window-blue."""
    image = flat("window", size)
    image.paste(PALETTE["bed"], (0, 0, size[0] // 2, size[1]))
    return image


def exif_rotated() -> bytes:
    """A JPEG stored 96x64 (bed left, window right) whose EXIF orientation 6 says: turn it upright to 64x96."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encoded(half_and_half(), "JPEG", quality=95, exif=exif.tobytes())


def animated(fmt: str) -> bytes:
    """Two frames: the first bed-red, the second window-blue (only the first may be used)."""
    frames = [flat("bed"), flat("window")]
    params = {"lossless": True} if fmt == "WEBP" else {}
    return encoded(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **params)


def sixteen_bit() -> bytes:
    values = np.full((64, 80), 40000, dtype=np.uint16)
    values[:, :8] = 100
    return encoded(Image.fromarray(values, "I;16"), "PNG")


def palette_transparent() -> bytes:
    image = flat("table").convert("P", palette=Image.ADAPTIVE, colors=4)
    image.info["transparency"] = 255  # an index no pixel uses: the colours stay, the file carries a tRNS chunk
    return encoded(image, "PNG", transparency=255)


def la_image() -> bytes:
    grey = Image.new("L", (80, 64), 10)  # black enough for the doubles' 'television' colour
    return encoded(Image.merge("LA", (grey, Image.new("L", grey.size, 255))), "PNG")


def _room_bytes(fmt: str) -> Callable[[], bytes]:
    def make() -> bytes:
        room, _ = room_image(1, size=(96, 128))
        return encoded(room, fmt, **({"quality": 85} if fmt == "JPEG" else {}))

    return make


def _cut(make: Callable[[], bytes]) -> Callable[[], bytes]:
    return lambda: make()[: len(make()) // 2]


CASES: list[Case] = [
    Case("good/room.jpg", "an ordinary photo", "done", make=_room_bytes("JPEG")),
    Case("good/room_png.png", "an ordinary PNG", "done", make=_room_bytes("PNG")),
    Case("truncated.jpg", "JPEG cut in half", "failed", ("truncated",), make=_cut(_room_bytes("JPEG"))),
    Case("truncated.png", "PNG cut in half", "failed", ("truncated",), make=_cut(_room_bytes("PNG"))),
    Case("zero.png", "zero-byte file", "failed", ("empty", "0 bytes"), make=lambda: b""),
    Case("text.png", "text file named .png", "failed", ("not an image", "text"),
         make=lambda: b"Guest list for room 217\nCheck-out at 11.\n" * 4),
    Case("page.jpg", "HTML page named .jpg", "failed", ("not an image", "html"),
         make=lambda: b"<!DOCTYPE html><html><body>404 Not Found</body></html>\n"),
    Case("bomb.png", "decompression bomb: 80-byte PNG claiming 100000x100000", "failed",
         ("too large", "decompression bomb"), make=lambda: png_claiming(100_000, 100_000)),
    Case("one_pixel.png", "1x1 image", "done", label="bed", make=lambda: encoded(flat("bed", (1, 1)), "PNG")),
    Case("sixteen_bit.png", "16-bit greyscale PNG", "done", make=sixteen_bit),
    Case("cmyk.jpg", "CMYK JPEG", "done", label="table",
         make=lambda: encoded(flat("table").convert("CMYK"), "JPEG", quality=95)),
    Case("palette_transparent.png", "palette image with transparency", "done", label="table",
         make=palette_transparent),
    Case("la.png", "greyscale with alpha (LA)", "done", label="television", make=la_image),
    Case("exif_rotated.jpg", "EXIF orientation 6 (stored sideways)", "done", label="bed", make=exif_rotated),
    Case("animated_gif.gif", "animated GIF (first frame bed, second window)", "done", label="bed",
         make=lambda: animated("GIF")),
    Case("animated_webp.webp", "animated WebP (first frame bed, second window)", "done", label="bed",
         make=lambda: animated("WEBP")),
    Case("strip.png", "20000x20 strip", "done", label="bed", make=lambda: encoded(flat("bed", (20000, 20)), "PNG")),
    Case(f"{UNICODE_FOLDER}/{UNICODE_NAME}", "unicode name with spaces, in a unicode folder", "done",
         make=_room_bytes("JPEG")),
]
LOOP_LINK = "good/loop"
"""A folder symlink pointing at its parent: a symlink loop inside the input folder."""


def write_corpus(folder: Path) -> list[Case]:
    """Write every corpus file under ``folder`` (created), plus the symlink loop; returns :data:`CASES`."""
    for case in CASES:
        path = folder / case.rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.make())
    (folder / LOOP_LINK).symlink_to("..", target_is_directory=True)
    return CASES


def write_broken_links(folder: Path) -> list[Case]:
    """A file symlink pointing at itself and one pointing nowhere (both named like images)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "selfloop.jpg").symlink_to("selfloop.jpg")
    (folder / "dangling.jpg").symlink_to("gone/nowhere.jpg")
    return [Case("selfloop.jpg", "file symlink pointing at itself", "failed", ("symbolic links",)),
            Case("dangling.jpg", "symlink to a missing file", "failed", ("not found",))]


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file (a symlink records its target instead): originals' fingerprint."""
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[rel] = "link -> " + os.readlink(path)
        elif path.is_file():
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@dataclass(frozen=True)
class ThemeCase:
    """A broken theme file: its name, bytes, and the line, field and words its error must carry."""

    file: str
    kind: str
    data: bytes
    line: int | None
    field: str | None
    words: tuple[str, ...]


_RULES = "rules:\n  - classes: [bed]\n    prompt: a four-poster bed\n"

THEME_CASES: list[ThemeCase] = [
    ThemeCase("syntax.yaml", "YAML syntax error", b"name: x\ndescription: a: b\n" + _RULES.encode(), 2, None,
              ("yaml syntax error",)),
    ThemeCase("latin1.yaml", "not UTF-8", b"name: caf\xe9\n" + _RULES.encode(), None, None, ("not utf-8",)),
    ThemeCase("empty.yaml", "empty file", b"", None, None, ("empty",)),
    ThemeCase("list.yaml", "not a mapping", b"- name: x\n", 1, None, ("must be a mapping",)),
    ThemeCase("unknown_key.yaml", "unknown key", b"name: x\ncolour: red\n" + _RULES.encode(), 2, "colour",
              ("unknown key",)),
    ThemeCase("duplicate_key.yaml", "duplicate key", b"name: x\nname: y\n" + _RULES.encode(), 2, "name",
              ("duplicate key",)),
    ThemeCase("wrong_type.yaml", "wrong type", ("name: x\n" + _RULES + "    priority: high\n").encode(), 5,
              "rules[0].priority", ("must be an integer",)),
    ThemeCase("out_of_range.yaml", "out of range",
              ("name: x\ndefaults:\n  denoising_strength: 1.5\n" + _RULES).encode(), 3,
              "defaults.denoising_strength", ("between 0 and 1",)),
    ThemeCase("missing_rules.yaml", "missing field", b"name: x\ndescription: no rules\n", 1, "rules",
              ("required field is missing",)),
    ThemeCase("no_rules.yaml", "empty list", b"name: x\nrules: []\n", 2, "rules", ("at least one rule",)),
    ThemeCase("bad_name.yaml", "bad name", ("name: Alien Theme\n" + _RULES).encode(), 1, "name",
              ("lowercase",)),
    ThemeCase("duplicate_rule.yaml", "two rules with one name",
              ("name: x\n" + _RULES + "  - classes: [bed]\n    prompt: q\n").encode(), 5, "rules[1].name",
              ("already used",)),
]

UNKNOWN_CLASSES_THEME = """name: strange
description: names classes no detector knows
rules:
  - name: gizmo
    classes: [flux capacitor]
    prompt: a glowing flux capacitor
  - name: bed
    classes: [bed]
    prompt: a four-poster bed
"""
"""Valid, but its first rule names a class that is not in the vocabulary (a warning, never a match)."""


def write_theme_corpus(folder: Path) -> list[ThemeCase]:
    """Write every broken theme of :data:`THEME_CASES` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for case in THEME_CASES:
        (folder / case.file).write_bytes(case.data)
    return THEME_CASES


def checked_manifests(out: Path) -> dict[Path, list[Path]]:
    """Every image manifest under ``out`` (batch report, stage cache and a writer's temporaries left out) -> the
    outputs it names.

    Asserts that each manifest is valid JSON and that every output it names exists."""
    from alien_filters.batch.atomic import TMP_PREFIX
    from alien_filters.batch.output_names import CACHE_DIR_NAME, REPORT_NAME

    found: dict[Path, list[Path]] = {}
    for manifest_path in out.rglob("*.json"):
        if manifest_path.name == REPORT_NAME or manifest_path.name.startswith(TMP_PREFIX) \
                or CACHE_DIR_NAME in manifest_path.relative_to(out).parts:
            continue
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        outputs = [manifest_path.parent / rel for rel in manifest["outputs"].values()]
        for path in outputs:
            assert path.is_file(), f"{manifest_path} names a missing output {path.name}"
        found[manifest_path] = outputs
    return found
