"""Planning: tags + class masks + theme -> an ordered list of inpaint jobs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .inpaint_settings import InpaintSettings


@dataclass(frozen=True)
class InpaintJob:
    """One inpaint call: a rule's exclusive mask with its prompts, settings and seed."""

    index: int
    rule: str
    classes: tuple[str, ...]
    mask: np.ndarray
    """Boolean (H, W) mask of the working image, already grown and made exclusive; feathering is the
    inpainter's job (``settings.mask_feather``), always inside this mask."""
    prompt: str
    negative_prompt: str
    settings: InpaintSettings
    seed: int
    box: tuple[int, int, int, int]
    """Crop region x0, y0, x1, y1 (exclusive) around the mask, padded by ``settings.crop_padding``."""
