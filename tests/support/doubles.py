"""Test doubles behind the real stage interfaces, reading the colours that tests/support/rooms.py paints.

They do real (if simple) work on the pixels they are given, so pipeline tests check genuine behaviour:
which classes are found, which pixels are masked, which pixels an inpaint may change.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from alien_filters.core.call_groups import ImageCall, InpaintCall, image_batches
from alien_filters.core.contracts import ClassMasks, Detection, InpaintJob, Tags
from tests.support.rooms import PALETTE

TOLERANCE = 40


def colour_mask(image: Image.Image, colour: tuple[int, int, int]) -> np.ndarray:
    pixels = np.asarray(image.convert("RGB")).astype(int)
    return (np.abs(pixels - np.array(colour)).max(axis=2) <= TOLERANCE)


@dataclass
class ResizeRestorer:
    name: str = "resize-double"
    calls: int = 0

    def restore(self, image: Image.Image, size: tuple[int, int]) -> Image.Image:
        self.calls += 1
        return image.resize(size, Image.BICUBIC)


@dataclass
class ColourTagger:
    """Finds each palette colour covering at least ``min_pixels`` and reports its bounding box."""

    name: str = "colour-tagger-double"
    min_pixels: int = 50
    calls: int = 0
    styles: dict[str, float] = field(default_factory=lambda: {"modern": 0.7, "classic": 0.2, "rustic": 0.1})

    def tag(self, image: Image.Image) -> Tags:
        self.calls += 1
        found = []
        for label, colour in PALETTE.items():
            mask = colour_mask(image, colour)
            if mask.sum() >= self.min_pixels:
                ys, xs = np.nonzero(mask)
                score = float(min(1.0, mask.sum() / (0.9 * (xs.ptp() + 1) * (ys.ptp() + 1))))
                box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
                found.append(Detection(label, score, box))
        return Tags(objects=found, styles=dict(self.styles))


@dataclass
class ColourSegmenter:
    """Inside each detection box, the pixels of the class's colour."""

    name: str = "colour-segmenter-double"
    calls: int = 0

    def segment(self, image: Image.Image, detections: Sequence[Detection]) -> ClassMasks:
        self.calls += 1
        out: ClassMasks = {}
        for det in detections:
            x0, y0, x1, y1 = (int(v) for v in det.box)
            inside = np.zeros((image.height, image.width), dtype=bool)
            inside[y0:y1, x0:x1] = True
            mask = colour_mask(image, PALETTE[det.label]) & inside
            out[det.label] = out.get(det.label, np.zeros_like(mask)) | mask
        return out


@dataclass
class PaintInpainter:
    """Paints the job's mask with a colour derived from its prompt and seed; nothing outside the mask."""

    name: str = "paint-inpainter-double"
    jobs: list[InpaintJob] = field(default_factory=list)

    def inpaint(self, image: Image.Image, job: InpaintJob) -> Image.Image:
        self.jobs.append(job)
        digest = hashlib.sha256(f"{job.prompt}|{job.seed}".encode()).digest()
        pixels = np.asarray(image.convert("RGB")).copy()
        pixels[job.mask] = np.frombuffer(digest[:3], dtype=np.uint8)
        return Image.fromarray(pixels)


@dataclass
class DescribingInpainter(PaintInpainter):
    """Paints like PaintInpainter and gives each job's infotext (its rule, then ``Steps: 1, Seed: 2``), None for
    ``silent_rule`` (as for a job that generated nothing)."""

    name: str = "describing-inpainter-double"
    silent_rule: str = ""

    def inpaint_with_infotext(self, image: Image.Image, job: InpaintJob) -> tuple[Image.Image, str | None]:
        return self.inpaint(image, job), None if job.rule == self.silent_rule else f"{job.rule}\nSteps: 1, Seed: 2"


@dataclass
class CallingPainter(PaintInpainter):
    """PaintInpainter that takes planned calls (core.call_groups.CallInpainter), painting each call's jobs in order.
    Keeps what it was handed: per image, its calls' job indices and the batch size (``handed``), and how many images
    came together each time (``groups``). It refuses a group holding a working image ``refuse_width`` wide."""

    name: str = "calling-painter-double"
    handed: list[tuple[list[list[int]], int]] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    refuse_width: int = 0

    def model_size(self) -> int:
        return 512

    def default_batch_size(self) -> int:
        return 3

    def inpaint_images(self, images: Sequence[Image.Image], calls: Sequence[Sequence[InpaintCall]], batch_size: int,
                       before_batch: Callable[[Sequence[ImageCall]], None],
                       ) -> list[tuple[Image.Image, dict[int, str | None]]]:
        if any(image.width == self.refuse_width for image in images):
            raise RuntimeError(f"cannot paint an image {self.refuse_width} px wide")
        self.groups.append(len(images))
        self.handed += [([[job.index for job in call.jobs] for call in own], batch_size) for own in calls]
        out = list(images)
        for batch in image_batches(calls, batch_size):
            before_batch(batch)
            for number, call in batch:
                for job in call.jobs:
                    out[number] = self.inpaint(out[number], job)
        return [(image, {job.index: f"{job.rule}\nSteps: 1" for call in own for job in call.jobs})
                for image, own in zip(out, calls, strict=True)]
