"""The stand-in itself: its img2img accepts exactly the WebUI's fields and treats the mask like the WebUI."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pytest
from modules import processing, script_callbacks, shared
from PIL import Image

FIELDS = json.loads((Path(__file__).parent / "data" / "webui-img2img-fields.json").read_text())


def constructor_fields(source: str) -> set[str]:
    classes = ("StableDiffusionProcessing", "StableDiffusionProcessingImg2Img")
    return {f["name"] for c in classes for f in FIELDS[source][c]["fields"] if f["constructor_kwarg"]}


def test_img2img_accepts_exactly_the_a1111_fields():
    params = set(inspect.signature(processing.StableDiffusionProcessingImg2Img).parameters)
    assert params == constructor_fields("a1111")


def test_img2img_rejects_unknown_and_init_false_fields():
    with pytest.raises(TypeError):
        processing.StableDiffusionProcessingImg2Img(inpaint_area="Only masked")
    with pytest.raises(TypeError):
        processing.StableDiffusionProcessingImg2Img(is_api=True)  # init=False in the WebUI


def test_float_mask_blur_is_ignored_like_the_webui():
    p = processing.StableDiffusionProcessingImg2Img(mask_blur=7.0)
    assert (p.mask_blur_x, p.mask_blur_y) == (4, 4)
    p = processing.StableDiffusionProcessingImg2Img(mask_blur=7)
    assert (p.mask_blur_x, p.mask_blur_y, p.mask_blur) == (7, 7, 7)


def test_mask_moves_to_image_mask():
    mask = Image.new("L", (8, 8), 255)
    p = processing.StableDiffusionProcessingImg2Img(mask=mask)
    assert p.mask is None and p.image_mask is mask


def _run(mask_array: np.ndarray, blur: int, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (*mask_array.shape, 3), dtype=np.uint8)
    p = processing.StableDiffusionProcessingImg2Img(
        init_images=[Image.fromarray(pixels)], mask=Image.fromarray(mask_array.astype(np.uint8) * 255),
        prompt="x", mask_blur=blur, inpaint_full_res=True, inpaint_full_res_padding=8, inpainting_fill=1,
        width=64, height=64, steps=4, seed=3, denoising_strength=1.0, do_not_save_samples=True,
        do_not_save_grid=True, **kwargs)
    processed = processing.process_images(p)
    return pixels, np.asarray(processed.images[processed.index_of_first_image])


def test_only_masked_keeps_far_pixels_and_blur_leaks_outside_the_mask():
    mask = np.zeros((96, 128), dtype=bool)
    mask[30:60, 40:90] = True
    original, result = _run(mask, blur=4)
    changed = np.any(original != result, axis=2)
    assert changed[mask].mean() > 0.95
    assert not changed[:, :20].any() and not changed[:10].any()
    ring = np.zeros_like(mask)
    ring[27:63, 37:93] = True
    ring &= ~mask
    assert changed[ring].any(), "the WebUI's blur repaints a little outside the mask; the stand-in must too"


def test_overlay_off_returns_the_processing_size_crop():
    mask = np.zeros((96, 128), dtype=bool)
    mask[30:60, 40:90] = True
    shared.opts.overlay_inpaint = False
    _, result = _run(mask, blur=0)
    assert result.shape[:2] == (64, 64)


def test_interrupt_stops_sampling_after_the_current_step(webui_state):
    steps_seen = []

    def press_interrupt(params):
        steps_seen.append(params.sampling_step)
        webui_state.interrupt()

    script_callbacks.on_cfg_denoiser(press_interrupt)
    mask = np.ones((64, 64), dtype=bool)
    original, full = _run(mask, blur=0)
    assert steps_seen == [0]
    script_callbacks.clear_callbacks()
    webui_state.interrupted = False
    _, uninterrupted = _run(mask, blur=0)
    assert np.abs(original.astype(int) - full.astype(int)).mean() < np.abs(
        original.astype(int) - uninterrupted.astype(int)).mean()


def test_a_stale_interrupt_flag_yields_no_image(webui_state):
    webui_state.interrupted = True
    p = processing.StableDiffusionProcessingImg2Img(init_images=[Image.new("RGB", (64, 64))], width=64, height=64)
    assert processing.process_images(p).images == []
