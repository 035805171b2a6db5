"""Cropping an inpainting region and pasting a generated crop back, with exact arrays."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from alien_filters.core.compositing import clamp_box, crop_for_job, crop_mask, model_size, paste_back


def _noise(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    shape = (height, width, channels) if channels > 1 else (height, width)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_clamp_box_clips_to_the_image() -> None:
    assert clamp_box((-10, -5, 50, 30), 40, 20) == (0, 0, 40, 20)
    assert clamp_box((3, 4, 10, 12), 40, 20) == (3, 4, 10, 12)


def test_clamp_box_outside_the_image_is_an_error() -> None:
    with pytest.raises(ValueError, match="does not overlap the 40x20 image"):
        clamp_box((40, 0, 60, 10), 40, 20)


@pytest.mark.parametrize("width,height", [(100, 50), (50, 100), (30, 7), (1, 1), (200, 1), (333, 517), (64, 64)])
def test_model_size_has_the_target_long_side_and_multiples_of_8(width: int, height: int) -> None:
    out_w, out_h = model_size(width, height, multiple=8, target_long_side=64)
    assert max(out_w, out_h) == 64
    assert out_w % 8 == 0 and out_h % 8 == 0 and min(out_w, out_h) >= 8
    assert (out_w >= out_h) == (width >= height)


def test_model_size_keeps_the_aspect_within_rounding() -> None:
    out_w, out_h = model_size(300, 200, target_long_side=512)
    assert out_w == 512 and abs(out_h - 512 * 200 / 300) <= 4


def test_crop_for_job_clamps_the_box_and_resizes_to_the_model_size() -> None:
    image = Image.fromarray(_noise(60, 100))
    crop, box = crop_for_job(image, (-10, -5, 50, 30), multiple=8, target_long_side=64)
    assert box == (0, 0, 50, 30)
    assert crop.size == (64, 40)
    assert np.array_equal(np.asarray(crop), np.asarray(image.crop(box).resize((64, 40), Image.LANCZOS)))


def test_crop_for_job_at_model_size_is_the_exact_region() -> None:
    pixels = _noise(60, 100)
    crop, box = crop_for_job(Image.fromarray(pixels), (10, 20, 74, 52), target_long_side=64)
    assert box == (10, 20, 74, 52)
    assert np.array_equal(np.asarray(crop), pixels[20:52, 10:74])


def test_crop_mask_cuts_and_scales_the_mask() -> None:
    mask = np.zeros((6, 8), dtype=bool)
    mask[1:3, 2:4] = True
    small = crop_mask(mask, (2, 1, 6, 5), (4, 4))
    expected = np.zeros((4, 4), dtype=np.uint8)
    expected[0:2, 0:2] = 255
    assert small.mode == "L" and np.array_equal(np.asarray(small), expected)
    big = crop_mask(mask, (2, 1, 6, 5), (8, 8))
    assert np.array_equal(np.asarray(big), np.kron(expected, np.ones((2, 2), dtype=np.uint8)))


def test_paste_back_blends_inside_the_box_only() -> None:
    original = Image.new("RGB", (8, 6), (100, 100, 100))
    generated = Image.new("RGB", (4, 3), (200, 0, 50))
    alpha = np.zeros((6, 8), dtype=np.float32)
    alpha[1, 2] = 1.0
    alpha[2, 3] = 0.5
    alpha[0, 0] = 1.0  # outside the box: ignored
    out = np.asarray(paste_back(original, generated, (2, 1, 6, 4), alpha))
    expected = np.full((6, 8, 3), 100, dtype=np.uint8)
    expected[1, 2] = (200, 0, 50)
    expected[2, 3] = (150, 50, 75)
    assert np.array_equal(out, expected)


def test_paste_back_keeps_alpha_zero_pixels_byte_identical() -> None:
    pixels = _noise(32, 40)
    generated = Image.fromarray(_noise(16, 16, seed=1))
    alpha = np.random.default_rng(2).random((32, 40)).astype(np.float32)
    alpha[alpha < 0.5] = 0.0
    out = np.asarray(paste_back(Image.fromarray(pixels), generated, (4, 4, 36, 28), alpha))
    keep = alpha == 0.0
    assert np.array_equal(out[keep], pixels[keep])
    changed = (out != pixels).any(axis=2)
    assert changed[4:28, 4:36].sum() > 0.3 * (~keep[4:28, 4:36]).sum()
    outside = np.ones((32, 40), dtype=bool)
    outside[4:28, 4:36] = False
    assert np.array_equal(out[outside], pixels[outside])


def test_paste_back_resizes_the_generated_crop_to_the_box() -> None:
    original = Image.new("RGB", (10, 10), (0, 0, 0))
    generated = Image.new("RGB", (64, 64), (10, 20, 30))
    alpha = np.ones((10, 10), dtype=np.float32)
    out = np.asarray(paste_back(original, generated, (0, 0, 5, 10), alpha))
    assert np.all(out[:, :5] == (10, 20, 30)) and np.all(out[:, 5:] == 0)


@pytest.mark.parametrize("mode,channels", [("L", 1), ("RGBA", 4)])
def test_paste_back_keeps_the_image_mode(mode: str, channels: int) -> None:
    pixels = _noise(6, 6, channels)
    alpha = np.zeros((6, 6), dtype=np.float32)
    alpha[2:4, 2:4] = 1.0
    generated = Image.new(mode, (6, 6), 7 if channels == 1 else (7, 7, 7, 7))
    out = paste_back(Image.fromarray(pixels, mode=mode), generated, (0, 0, 6, 6), alpha)
    arr = np.asarray(out)
    assert out.mode == mode
    assert np.all(arr[2:4, 2:4] == 7)
    keep = alpha == 0
    assert np.array_equal(arr[keep], pixels[keep])


def test_paste_back_rejects_bad_input() -> None:
    original = Image.new("RGB", (8, 6))
    generated = Image.new("RGB", (4, 4))
    with pytest.raises(ValueError, match=r"alpha has shape \(5, 8\), expected \(6, 8\)"):
        paste_back(original, generated, (0, 0, 4, 4), np.zeros((5, 8), np.float32))
    with pytest.raises(ValueError, match="within \\[0, 1\\]"):
        paste_back(original, generated, (0, 0, 4, 4), np.full((6, 8), 1.5, np.float32))
    with pytest.raises(ValueError, match="partly outside the 8x6 image"):
        paste_back(original, generated, (4, 2, 12, 6), np.zeros((6, 8), np.float32))
    with pytest.raises(ValueError, match="cannot paste into a P image"):
        paste_back(original.convert("P"), generated, (0, 0, 4, 4), np.zeros((6, 8), np.float32))
