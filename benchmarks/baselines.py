"""The naive ways, run in the same process on the same images: SAM automatic masks, one full-image inpaint per
instance, and every model loaded again for each image."""

from __future__ import annotations

import functools
import gc
import itertools
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from alien_filters.core import masks as mask_ops
from alien_filters.core.contracts import InpaintJob
from alien_filters.stages.segment import SamSegmenter

from .recording import ImageRecord
from .scenes import scale_objects


def amg_seconds(segmenter: SamSegmenter, working: Image.Image, points_per_side: int) -> tuple[float, int]:
    """Seconds for SAM automatic masks labelled by CLIP (the segmenter's no-detection path) on ``working``,
    with a ``points_per_side`` grid; and the number of classes it returned."""
    saved = segmenter.amg_points_per_side
    segmenter.amg_points_per_side = points_per_side
    try:
        start = time.perf_counter()
        found = segmenter.segment(working, [])
        return time.perf_counter() - start, len(found)
    finally:
        segmenter.amg_points_per_side = saved


def boxes_seconds(segmenter: SamSegmenter, working: Image.Image, record: ImageRecord) -> float:
    """Seconds for the segmenter's own path (one embedding, every box in one call) on ``working``."""
    detections = scale_objects(record.objects, record.original_size, working.size)
    start = time.perf_counter()
    segmenter.segment(working, detections)
    return time.perf_counter() - start


@dataclass(frozen=True)
class InpaintComparison:
    """One image inpainted both ways: seconds and calls of each, pixels per naive call."""

    cropped_seconds: float
    cropped_calls: int
    naive_seconds: float
    naive_calls: int
    pixels_per_call: int


def compare_inpainting(inpainter: Any, pipe: Any, record: ImageRecord) -> InpaintComparison:
    """The pipeline's one cropped inpaint per job against one whole-image inpaint per object instance (with the
    prompt and settings of the job that covered its class; classes without a job are skipped, as in the run).

    The calls of both ways alternate, so both see the same load from other processes over the same minutes.
    """
    working = record.working
    if working is None:
        raise ValueError("the image has no recorded working image (did the tag stage run?)")
    cropped = [functools.partial(inpainter.inpaint, working, job) for job in record.jobs]
    naive = [functools.partial(_whole_image_inpaint, pipe, working, mask, job) for _, mask, job in instances(record)]
    seconds = {"cropped": 0.0, "naive": 0.0}
    for pair in itertools.zip_longest(cropped, naive):
        for way, call in zip(("cropped", "naive"), pair, strict=True):
            if call is not None:
                start = time.perf_counter()
                call()
                seconds[way] += time.perf_counter() - start
    return InpaintComparison(seconds["cropped"], len(cropped), seconds["naive"], len(naive),
                             working.width * working.height)


def instances(record: ImageRecord) -> list[tuple[int, np.ndarray, InpaintJob]]:
    """(number of the detection, its grown instance mask, the job of its class) for every object whose class got a
    job and whose mask is not empty; the number counts every detection, so it names the object whatever is left out."""
    width, height = record.working.size  # type: ignore[union-attr]
    by_class = {cls: job for job in record.jobs for cls in job.classes}
    out = []
    for number, det in enumerate(scale_objects(record.objects, record.original_size, (width, height))):
        job = by_class.get(det.label)
        if job is None or det.label not in record.masks:
            continue
        x0, y0, x1, y1 = (int(round(v)) for v in det.box)
        instance = np.zeros((height, width), dtype=bool)
        instance[y0:y1, x0:x1] = True
        mask = mask_ops.grow(record.masks[det.label] & instance, job.settings.mask_grow)
        if mask.any():
            out.append((number, mask, job))
    return out


def _whole_image_inpaint(pipe: Any, working: Image.Image, mask: np.ndarray, job: InpaintJob) -> Image.Image:
    settings = job.settings
    with torch.inference_mode():
        return pipe(prompt=job.prompt, negative_prompt=job.negative_prompt or None, image=working,
                    mask_image=Image.fromarray(mask.astype(np.uint8) * 255, "L"), height=working.height,
                    width=working.width, strength=float(settings.denoising_strength),
                    num_inference_steps=int(settings.steps), guidance_scale=float(settings.cfg_scale),
                    generator=torch.Generator("cpu").manual_seed(job.seed), output_type="pil").images[0]


def per_image_load_seconds(load_everything: Callable[[], object], images: int) -> list[float]:
    """Seconds to build and load every model afresh, once per image (what loading per image costs)."""
    out = []
    for _ in range(images):
        start = time.perf_counter()
        stages = load_everything()
        out.append(time.perf_counter() - start)
        del stages
        gc.collect()
    return out
