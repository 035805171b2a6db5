"""Small builders shared by the WebUI tests: jobs over generated images."""

from __future__ import annotations

import numpy as np
from PIL import Image

from alien_filters.core import masks
from alien_filters.core.contracts import InpaintJob
from alien_filters.core.settings import InpaintSettings


def noise_image(width: int = 160, height: int = 128, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))


def rect_mask(width: int, height: int, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    mask = np.zeros((height, width), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def make_job(mask: np.ndarray, settings: InpaintSettings | None = None, seed: int = 11, index: int = 0,
             prompt: str = "an alien sofa") -> InpaintJob:
    settings = settings or InpaintSettings(denoising_strength=0.9, steps=6, cfg_scale=5.5, mask_feather=3,
                                           crop_padding=16)
    box = masks.bounding_box(mask, settings.crop_padding)
    return InpaintJob(index=index, rule="sofa", classes=("sofa",), mask=mask, prompt=prompt,
                      negative_prompt="blurry", settings=settings, seed=seed, box=box)
