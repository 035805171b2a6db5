"""Crop an inpainting region out of an image and paste a generated crop back through an alpha mask.

Pure numpy/PIL, shared by every inpainter ("only masked" inpainting, as the WebUI does it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from .contracts import InpaintJob

Box = tuple[int, int, int, int]
"""x0, y0, x1, y1 in pixels (x1, y1 exclusive)."""

PASTE_MODES = ("RGB", "RGBA", "L")
"""8-bit image modes :func:`paste_back` blends."""


def job_mask(image: Image.Image, job: InpaintJob) -> np.ndarray:
    """The job's mask as a bool array, checked against the image's size (ValueError naming the job if not)."""
    mask = np.asarray(job.mask, dtype=bool)
    if mask.shape != (image.height, image.width):
        raise ValueError(f"job {job.index} ({job.rule}): mask shape {mask.shape} does not match the "
                         f"{image.width}x{image.height} image")
    return mask


def clamp_box(box: Box, width: int, height: int) -> Box:
    """``box`` clipped to a ``width`` x ``height`` image; raises ValueError if nothing of it is left."""
    x0, y0, x1, y1 = (int(v) for v in box)
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(width, x1), min(height, y1)
    if cx1 <= cx0 or cy1 <= cy0:
        raise ValueError(f"crop box {box} does not overlap the {width}x{height} image")
    return cx0, cy0, cx1, cy1


def model_size(width: int, height: int, multiple: int = 8, target_long_side: int = 512) -> tuple[int, int]:
    """(width, height) with the long side ``target_long_side`` and both sides multiples of ``multiple``."""
    if width <= 0 or height <= 0:
        raise ValueError(f"region size must be positive, got {width}x{height}")
    if target_long_side < multiple or target_long_side % multiple:
        raise ValueError(f"target_long_side {target_long_side} must be a positive multiple of {multiple}")
    scale = target_long_side / max(width, height)

    def snap(value: float) -> int:
        return max(multiple, int(round(value * scale / multiple)) * multiple)

    return snap(width), snap(height)


def crop_for_job(
    image: Image.Image, box: Box, multiple: int = 8, target_long_side: int = 512
) -> tuple[Image.Image, Box]:
    """Crop ``box`` (clamped to the image) and resize it to the model size.

    Returns the resized crop and the clamped box it came from (pass that box to :func:`paste_back`).
    """
    crop_box = clamp_box(box, *image.size)
    x0, y0, x1, y1 = crop_box
    size = model_size(x1 - x0, y1 - y0, multiple, target_long_side)
    crop = image.crop(crop_box)
    if crop.size != size:
        crop = crop.resize(size, Image.LANCZOS)
    return crop, crop_box


def crop_mask(mask: np.ndarray, crop_box: Box, size: tuple[int, int]) -> Image.Image:
    """The part of a boolean (H, W) mask inside ``crop_box`` as an 'L' image (255 = masked) of ``size``."""
    x0, y0, x1, y1 = crop_box
    region = np.asarray(mask, dtype=bool)[y0:y1, x0:x1]
    img = Image.fromarray(region.astype(np.uint8) * 255, mode="L")
    return img if img.size == size else img.resize(size, Image.NEAREST)


def paste_back(original: Image.Image, generated_crop: Image.Image, crop_box: Box, alpha: np.ndarray) -> Image.Image:
    """Blend ``generated_crop`` into ``original`` inside ``crop_box``: original * (1 - a) + generated * a.

    ``alpha`` is a float (H, W) array of the original's size with values in [0, 1]; the crop is resized to the
    box first. Pixels where alpha == 0, and every pixel outside the box, are copied unchanged from ``original``.
    """
    if original.mode not in PASTE_MODES:
        raise ValueError(f"cannot paste into a {original.mode} image; convert it to one of {PASTE_MODES}")
    width, height = original.size
    alpha = np.asarray(alpha)
    if alpha.shape != (height, width):
        raise ValueError(f"alpha has shape {alpha.shape}, expected {(height, width)} (the image's height, width)")
    if alpha.size and (not np.isfinite(alpha).all() or alpha.min() < 0.0 or alpha.max() > 1.0):
        raise ValueError("alpha values must be finite and within [0, 1]")
    x0, y0, x1, y1 = clamp_box(crop_box, width, height)
    if (x0, y0, x1, y1) != tuple(int(v) for v in crop_box):
        raise ValueError(f"crop box {crop_box} lies partly outside the {width}x{height} image")

    generated = generated_crop.convert(original.mode)
    if generated.size != (x1 - x0, y1 - y0):
        generated = generated.resize((x1 - x0, y1 - y0), Image.LANCZOS)

    result = np.array(original, copy=True)
    orig_region = result[y0:y1, x0:x1]
    gen_region = np.asarray(generated)
    a = alpha[y0:y1, x0:x1].astype(np.float32)
    a_b = a[..., None] if orig_region.ndim == 3 else a
    blended = orig_region.astype(np.float32) * (1.0 - a_b) + gen_region.astype(np.float32) * a_b
    blended = np.clip(np.rint(blended), 0, 255).astype(result.dtype)
    keep = np.broadcast_to(a_b == 0.0, orig_region.shape)
    result[y0:y1, x0:x1] = np.where(keep, orig_region, blended)
    return Image.fromarray(result, mode=original.mode)
