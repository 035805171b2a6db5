"""The naive ways, run in the same process on the same images: SAM automatic masks, one full-image inpaint per
instance, and every model loaded again for each image."""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from alien_filters import masks as mask_ops
from alien_filters.segment import SamSegmenter

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


@dataclass(frozen=True)
class NaiveInpaint:
    """One image's per-instance full-image inpainting: seconds, calls and pixels per call."""

    seconds: float
    calls: int
    pixels_per_call: int


def naive_inpaint(pipe: Any, record: ImageRecord) -> NaiveInpaint:
    """Inpaint the whole working image once per object instance, with the settings and prompt of the job that
    covered its class (classes without a job are skipped, as they were in the real run)."""
    working = record.working
    if working is None:
        raise ValueError("the image has no recorded working image (did the tag stage run?)")
    width, height = working.size
    by_class = {cls: job for job in record.jobs for cls in job.classes}
    seconds, calls = 0.0, 0
    for det in scale_objects(record.objects, record.original_size, working.size):
        job = by_class.get(det.label)
        if job is None or det.label not in record.masks:
            continue
        x0, y0, x1, y1 = (int(round(v)) for v in det.box)
        instance = np.zeros((height, width), dtype=bool)
        instance[y0:y1, x0:x1] = True
        mask = mask_ops.grow(record.masks[det.label] & instance, job.settings.mask_grow)
        if not mask.any():
            continue
        settings = job.settings
        start = time.perf_counter()
        with torch.inference_mode():
            pipe(prompt=job.prompt, negative_prompt=job.negative_prompt or None, image=working,
                 mask_image=Image.fromarray(mask.astype(np.uint8) * 255, "L"), height=height, width=width,
                 strength=float(settings.denoising_strength), num_inference_steps=int(settings.steps),
                 guidance_scale=float(settings.cfg_scale), generator=torch.Generator("cpu").manual_seed(job.seed),
                 output_type="pil")
        seconds += time.perf_counter() - start
        calls += 1
    return NaiveInpaint(seconds, calls, width * height)


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
