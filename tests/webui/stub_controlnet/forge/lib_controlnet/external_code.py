"""Forge's built-in ControlNet, lib_controlnet/external_code.py at dfdcbab: the ControlNetUnit dataclass with exactly
its field names and defaults (a dataclass refuses unknown fields, as the real one does)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ControlNetUnit:
    input_mode: Any = "simple"
    use_preview_as_input: bool = False
    batch_image_dir: str = ''
    batch_mask_dir: str = ''
    batch_input_gallery: list | None = None
    batch_mask_gallery: list | None = None
    generated_image: Any = None
    mask_image: Any = None
    mask_image_fg: Any = None
    hr_option: Any = "Both"
    enabled: bool = True
    module: str = "None"
    model: str = "None"
    weight: float = 1.0
    image: Any = None
    image_fg: Any = None
    resize_mode: Any = "Crop and Resize"
    processor_res: int = -1
    threshold_a: float = -1
    threshold_b: float = -1
    guidance_start: float = 0.0
    guidance_end: float = 1.0
    pixel_perfect: bool = False
    control_mode: Any = "Balanced"
    save_detected_map: bool = True
