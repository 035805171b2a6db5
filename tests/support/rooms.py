"""Generated room-like photos: flat-coloured objects on a textured background, saved as small JPEGs.

Each object class has its own colour, so the colour-reading test doubles in tests/support/doubles.py can find
them again: the tests then know exactly which classes and pixels an image holds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

PALETTE: dict[str, tuple[int, int, int]] = {
    "bed": (200, 30, 30),
    "lamp": (240, 220, 40),
    "window": (40, 90, 230),
    "table": (30, 180, 60),
    "painting": (200, 40, 200),
    "chair": (250, 140, 20),
    "curtain": (20, 200, 200),
    "plant": (120, 60, 10),
    "television": (10, 10, 10),
    "mirror": (250, 250, 250),
}


@dataclass(frozen=True)
class RoomObject:
    label: str
    box: tuple[int, int, int, int]


def room_image(
    seed: int, size: tuple[int, int] = (256, 352), n_objects: int = 4
) -> tuple[Image.Image, list[RoomObject]]:
    """A (width, height) room-like RGB image with ``n_objects`` non-overlapping coloured boxes."""
    rng = random.Random(seed)
    width, height = size
    noise = np.random.default_rng(seed).normal(128, 12, (height, width, 3))
    gradient = np.linspace(-30, 30, height)[:, None, None]
    image = Image.fromarray(np.clip(noise + gradient, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1))
    draw = ImageDraw.Draw(image)
    labels = rng.sample(sorted(PALETTE), n_objects)
    objects = []
    cols = 2
    cell_w, cell_h = width // cols, height // ((n_objects + cols - 1) // cols)
    for i, label in enumerate(labels):
        cx, cy = (i % cols) * cell_w, (i // cols) * cell_h
        w, h = rng.randint(cell_w // 2, cell_w - 8), rng.randint(cell_h // 2, cell_h - 8)
        x0, y0 = cx + rng.randint(2, cell_w - w - 2), cy + rng.randint(2, cell_h - h - 2)
        draw.rectangle((x0, y0, x0 + w - 1, y0 + h - 1), fill=PALETTE[label])
        objects.append(RoomObject(label, (x0, y0, x0 + w, y0 + h)))
    return image, objects


def write_rooms(folder: Path, count: int, nested: bool = True, quality: int = 80) -> list[Path]:
    """Write ``count`` room JPEGs into ``folder`` (half of them in a sub-folder when ``nested``)."""
    paths = []
    for i in range(count):
        sub = folder / "floor2" if nested and i % 2 else folder
        sub.mkdir(parents=True, exist_ok=True)
        image, _ = room_image(i)
        path = sub / f"room_{i:03d}.jpg"
        image.save(path, quality=quality)
        paths.append(path)
    return paths
