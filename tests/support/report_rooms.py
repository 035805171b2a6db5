"""Rooms whose object classes are chosen by the test, for exact dataset-report assertions.

Objects are rectangles or ellipses in the colours of tests/support/rooms.py's PALETTE, so ColourTagger finds exactly
the classes asked for, with scores that vary from image to image (an ellipse fills less of its box).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from tests.support.rooms import PALETTE


def chosen_room(classes: Sequence[str], seed: int, size: tuple[int, int] = (160, 224)) -> Image.Image:
    """A room-like image holding one object of each of ``classes`` (in PALETTE), laid out in a grid."""
    rng = random.Random(seed)
    width, height = size
    noise = np.random.default_rng(seed).normal(128, 10, (height, width, 3))
    image = Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1))
    draw = ImageDraw.Draw(image)
    cols = 2
    rows = (len(classes) + cols - 1) // cols
    cell_w, cell_h = width // cols, height // rows
    for i, label in enumerate(classes):
        cx, cy = (i % cols) * cell_w, (i // cols) * cell_h
        w, h = rng.randint(cell_w * 2 // 3, cell_w - 8), rng.randint(cell_h * 2 // 3, cell_h - 8)
        x0, y0 = cx + rng.randint(2, cell_w - w - 2), cy + rng.randint(2, cell_h - h - 2)
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x0 + w - 1, y0 + h - 1), fill=PALETTE[label])
    return image


def write_group(folder: Path, prefix: str, classes: Sequence[str], count: int, seed: int) -> list[Path]:
    """``count`` PNG rooms named ``<prefix>_<i>.png`` holding exactly ``classes``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"{prefix}_{i}.png"
        chosen_room(classes, seed + i).save(path)
        paths.append(path)
    return paths


def write_bad_files(folder: Path) -> dict[str, Path]:
    """A truncated JPEG, text named .png and an empty .jpg: files a report must name and go past."""
    folder.mkdir(parents=True, exist_ok=True)
    truncated = folder / "truncated.jpg"
    chosen_room(["bed"], 99).save(truncated, quality=90)
    truncated.write_bytes(truncated.read_bytes()[:300])
    text = folder / "notes.png"
    text.write_text("not an image\n", encoding="utf-8")
    empty = folder / "empty.jpg"
    empty.write_bytes(b"")
    return {"truncated": truncated, "text": text, "empty": empty}
