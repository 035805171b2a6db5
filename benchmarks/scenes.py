"""Generated hotel rooms with known objects: the benchmark's fixed images and their ground-truth instances.

Random-weight detectors find noise, so the benchmark feeds the downstream stages the objects it drew (several
instances per class, as in real rooms: two lamps, two nightstands, two pillows...). Images from ``--images DIR``
get the same layout scaled to their size.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from alien_filters.core.contracts import Detection

COLOURS: dict[str, tuple[int, int, int]] = {
    "window": (70, 120, 230), "curtain": (20, 170, 170), "painting": (190, 40, 190), "television": (15, 15, 15),
    "bed": (225, 225, 210), "pillow": (250, 200, 120), "nightstand": (120, 70, 30), "lamp": (245, 225, 60),
    "chair": (230, 120, 20), "table": (40, 160, 60),
}

LAYOUT: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
    ("window", (0.06, 0.08, 0.28, 0.50)),
    ("curtain", (0.00, 0.04, 0.06, 0.66)),
    ("curtain", (0.28, 0.04, 0.34, 0.66)),
    ("painting", (0.42, 0.10, 0.56, 0.28)),
    ("painting", (0.62, 0.10, 0.76, 0.28)),
    ("television", (0.80, 0.08, 0.97, 0.32)),
    ("bed", (0.40, 0.52, 0.84, 0.96)),
    ("pillow", (0.43, 0.47, 0.56, 0.58)),
    ("pillow", (0.66, 0.47, 0.79, 0.58)),
    ("nightstand", (0.30, 0.66, 0.38, 0.84)),
    ("nightstand", (0.86, 0.66, 0.95, 0.84)),
    ("lamp", (0.31, 0.42, 0.37, 0.65)),
    ("lamp", (0.87, 0.42, 0.94, 0.65)),
    ("chair", (0.04, 0.62, 0.20, 0.96)),
)
"""(class, relative box x0, y0, x1, y1): 14 instances of 9 classes."""


@dataclass(frozen=True)
class Scene:
    """A generated room image and the objects drawn in it (boxes in the image's pixels)."""

    image: Image.Image
    objects: tuple[Detection, ...]


def layout_objects(width: int, height: int, jitter: float = 0.0, seed: int = 0) -> tuple[Detection, ...]:
    """:data:`LAYOUT` scaled to ``width`` x ``height``, each box shifted by up to ``jitter`` of the image."""
    rng = random.Random(seed)
    objects = []
    for label, (x0, y0, x1, y1) in LAYOUT:
        dx, dy = rng.uniform(-jitter, jitter), rng.uniform(-jitter, jitter)
        box = (max(0.0, (x0 + dx) * width), max(0.0, (y0 + dy) * height),
               min(float(width), (x1 + dx) * width), min(float(height), (y1 + dy) * height))
        objects.append(Detection(label=label, score=1.0, box=box))
    return tuple(objects)


def room_scene(seed: int, size: tuple[int, int] = (352, 256)) -> Scene:
    """A (width, height) room: noisy wall and floor, every :data:`LAYOUT` object drawn in its class colour."""
    width, height = size
    rng = np.random.default_rng(seed)
    pixels = rng.normal(150, 14, (height, width, 3))
    pixels[int(height * 0.62):] -= 55  # the floor
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1))
    draw = ImageDraw.Draw(image)
    objects = layout_objects(width, height, jitter=0.02, seed=seed)
    for det in objects:
        x0, y0, x1, y1 = (int(round(v)) for v in det.box)
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=COLOURS[det.label])
    return Scene(image=image, objects=objects)


def write_scenes(folder: Path, count: int, size: tuple[int, int] = (352, 256)) -> dict[Path, tuple[Detection, ...]]:
    """Write ``count`` room PNGs into ``folder``; returns path -> objects (in the saved image's pixels)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for index in range(count):
        scene = room_scene(index, size)
        path = folder / f"room_{index:02d}.png"
        scene.image.save(path)
        written[path] = scene.objects
    return written


def scale_objects(objects: tuple[Detection, ...], source: tuple[int, int],
                  target: tuple[int, int]) -> list[Detection]:
    """``objects`` boxes moved from a ``source`` (W, H) image to a ``target`` (W, H) image."""
    sx, sy = target[0] / source[0], target[1] / source[1]
    return [Detection(d.label, d.score, (d.box[0] * sx, d.box[1] * sy, d.box[2] * sx, d.box[3] * sy))
            for d in objects]
