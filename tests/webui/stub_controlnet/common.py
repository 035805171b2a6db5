"""What both ControlNet stand-ins share: the "Only masked" crop of a unit's image (the real
try_crop_image_with_a1111_mask of sd-webui-controlnet 56cec5b and Forge dfdcbab: prepare_mask, get_crop_region,
expand_crop_region, resize to the mask's size, crop, Resize and Fill to the processing size) and the hook a unit puts
on the stand-in "UNet".

The stand-in sampler (modules/processing.py) calls ``shared.sd_model.control.apply(crop)`` on each generated crop; the
hook pulls the crop towards the control image by the unit's weight, so a test sees the guidance in the pixels.
"""

from __future__ import annotations

import numpy as np
from modules import images, masking, processing, shared
from PIL import Image

CROP_AND_RESIZE, RESIZE_AND_FILL = 1, 2  # ResizeMode.INNER_FIT.int_value(), ResizeMode.OUTER_FIT.int_value()

runs: list[dict] = []
"""One entry per unit a ControlNet stand-in applied: flavour, the unit, the control crop (tests read them)."""


def prepare_mask(mask: Image.Image, p) -> Image.Image:
    mask = mask.convert("L")
    if p.mask_blur_x > 0:
        mask = processing._gaussian_blur(mask, p.mask_blur_x, axis=1)
    if p.mask_blur_y > 0:
        mask = processing._gaussian_blur(mask, p.mask_blur_y, axis=0)
    return mask


def control_for(p, image: np.ndarray, crop: bool = True) -> np.ndarray:
    """The unit's image as the "UNet" gets it: cropped as the WebUI crops the init image for "Only masked"
    inpainting, then (detectmap_proc, Crop and Resize) at the processing size."""
    image = crop_with_a1111_mask(p, image) if crop else image
    if image.shape[:2] == (p.height, p.width):
        return image
    channels = [images.resize_image(CROP_AND_RESIZE, Image.fromarray(image[:, :, i]), p.width, p.height)
                for i in range(image.shape[2])]
    return np.stack([np.asarray(c) for c in channels], axis=2)


def crop_with_a1111_mask(p, image: np.ndarray) -> np.ndarray:
    """The unit's image cropped as the WebUI crops the init image for "Only masked" inpainting."""
    if not (isinstance(p, processing.StableDiffusionProcessingImg2Img) and p.inpaint_full_res
            and p.image_mask is not None):
        return image
    mask = prepare_mask(p.image_mask, p)
    crop_region = masking.get_crop_region(np.array(mask), p.inpaint_full_res_padding)
    crop_region = masking.expand_crop_region(crop_region, p.width, p.height, mask.width, mask.height)
    channels = [Image.fromarray(image[:, :, i]) for i in range(image.shape[2])]
    channels = [images.resize_image(CROP_AND_RESIZE, c, mask.width, mask.height) for c in channels]
    channels = [images.resize_image(RESIZE_AND_FILL, c.crop(crop_region), p.width, p.height) for c in channels]
    return np.stack([np.asarray(c) for c in channels], axis=2)


class Hook:
    """The unit's control on the stand-in model: ``apply`` pulls a generated crop towards it by the weight."""

    def __init__(self, control: np.ndarray, weight: float) -> None:
        self.control, self.weight = control.astype(np.float32), weight

    def hook(self) -> None:
        shared.sd_model.control = self

    def restore(self) -> None:
        shared.sd_model.control = None

    def apply(self, crop: np.ndarray) -> np.ndarray:
        if crop.shape != self.control.shape:
            raise RuntimeError(f"control {self.control.shape} does not fit the crop {crop.shape}")
        alpha = min(1.0, 0.5 * self.weight)
        return crop * (1 - alpha) + self.control * alpha
