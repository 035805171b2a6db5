"""WebUIInpainter against the stand-in img2img: the processing it builds, and preservation end to end."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from modules import call_queue, processing, script_callbacks, shared
from PIL import Image

from alien_filters.core.pipeline import Interrupted
from alien_filters.core.settings import InpaintSettings
from alien_filters.webui import runtime
from alien_filters.webui.inpainter import WebUIInpainter
from tests.webui.helpers import make_job, noise_image, rect_mask


@pytest.fixture
def image() -> Image.Image:
    return noise_image(160, 128)


@pytest.fixture
def job():
    return make_job(rect_mask(160, 128, (40, 30, 100, 80)))


def test_processing_carries_the_job_and_the_users_sampler(image, job):
    shared.opts.add_option("alien_filters_sampler", shared.OptionInfo("DPM++ 2M"))
    shared.opts.set("alien_filters_sampler", "Euler a")
    p = WebUIInpainter().make_processing(image, job)
    assert p.image_mask.mode == "L" and p.image_mask.size == image.size
    assert np.array_equal(np.asarray(p.image_mask) > 0, job.mask)
    assert (p.inpaint_full_res, p.inpaint_full_res_padding, p.inpainting_fill) == (True, 16, 1)
    assert (p.mask_blur_x, p.mask_blur_y) == (3, 3)
    assert (p.denoising_strength, p.steps, p.cfg_scale, p.seed) == (0.9, 6, 5.5, 11)
    assert (p.prompt, p.negative_prompt) == ("an alien sofa", "blurry")
    assert (p.sampler_name, p.scheduler) == ("Euler a", "Automatic")
    assert p.width % 8 == 0 and p.height % 8 == 0
    assert abs(p.width / p.height - (job.box[2] - job.box[0]) / (job.box[3] - job.box[1])) < 0.1
    assert p.do_not_save_samples and p.do_not_save_grid and p.is_api and p.scripts is None
    assert p.override_settings["overlay_inpaint"] is True


def test_processing_size_near_the_crop_when_asked(image, job):
    p = WebUIInpainter(target_long_side=None).make_processing(image, job)
    x0, y0, x1, y1 = job.box
    assert abs(p.width - (x1 - x0)) <= 4 and abs(p.height - (y1 - y0)) <= 4


def test_pixels_outside_the_mask_never_change(image, job, data_path):
    result = WebUIInpainter().inpaint(image, job)
    before, after = np.asarray(image), np.asarray(result)
    changed = np.any(before != after, axis=2)
    assert result.size == image.size
    assert not changed[~job.mask].any()
    assert changed[job.mask].mean() > 0.9
    p = processing.calls[-1]
    assert p.closed, "p.close() must always run"
    assert not (data_path / "outputs").exists(), "the WebUI must save nothing"


def test_feathered_edge_blends_inside_the_mask(image, job):
    result = np.asarray(WebUIInpainter().inpaint(image, job)).astype(int)
    webui = np.asarray(_webui_result(image, job)).astype(int)  # same seed: the same WebUI output
    centre, edge = (55, 70), (30, 70)  # (y, x): deep inside, and on the mask's top edge
    assert np.array_equal(result[centre], webui[centre])
    assert not np.array_equal(result[edge], webui[edge])


def _webui_result(image, job):
    p = WebUIInpainter().make_processing(image, job)
    processed = processing.process_images(p)
    return processed.images[processed.index_of_first_image]


def test_empty_mask_is_a_copy_without_diffusion(image):
    job = make_job(rect_mask(160, 128, (40, 30, 100, 80)))
    empty = make_job(np.zeros((128, 160), dtype=bool), seed=1)
    object.__setattr__(empty, "box", job.box)
    assert np.array_equal(np.asarray(WebUIInpainter().inpaint(image, empty)), np.asarray(image))
    assert processing.calls == []


def test_wrong_mask_shape_names_the_job(image):
    bad = make_job(rect_mask(100, 100, (10, 10, 50, 50)))
    with pytest.raises(ValueError, match="job 0 \\(sofa\\): mask shape"):
        WebUIInpainter().inpaint(image, bad)


def test_runs_under_the_queue_lock_with_state_begun(image, job, webui_state):
    seen = {}

    def during_sampling(params):
        seen["lock_free"] = call_queue.queue_lock.acquire(blocking=False)
        seen["job"] = webui_state.job
        seen["text"] = webui_state.textinfo
        seen["steps"] = webui_state.sampling_steps

    script_callbacks.on_cfg_denoiser(during_sampling)
    webui_state.interrupted = True  # stale flag from an earlier job: begin() must clear it
    WebUIInpainter().inpaint(image, job)
    assert seen["lock_free"] is False
    assert seen["job"] == runtime.JOB_NAME and "sofa" in seen["text"]
    assert seen["steps"] == int(6 * 0.9)
    assert webui_state.job == "" and webui_state.job_count == 0
    assert call_queue.queue_lock.acquire(blocking=False)
    call_queue.queue_lock.release()


def test_inside_a_session_it_reuses_the_lock_and_keeps_our_counters(image, job, webui_state):
    done = threading.Event()

    def run():
        with runtime.session():
            webui_state.job_count, webui_state.job_no = 5, 2
            WebUIInpainter().inpaint(image, job)
            assert (webui_state.job_count, webui_state.job_no) == (5, 2)
        done.set()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(30)
    assert done.is_set(), "nested use deadlocked on the non re-entrant FIFO lock"


def test_interrupt_during_sampling_raises_interrupted(image, job, webui_state):
    script_callbacks.on_cfg_denoiser(lambda params: webui_state.interrupt())
    with pytest.raises(Interrupted, match="inpaint job 1 \\(sofa\\)"):
        WebUIInpainter().inpaint(image, job)
    assert len(processing.calls) == 1


def test_mask_blur_is_an_int_even_for_float_settings(image):
    settings = InpaintSettings(mask_feather=5, crop_padding=8)
    job = make_job(rect_mask(160, 128, (40, 30, 100, 80)), settings=settings)
    object.__setattr__(settings, "mask_feather", 5.0)  # past InpaintSettings' own check, as a plugin might
    p = WebUIInpainter().make_processing(image, job)
    assert (p.mask_blur_x, p.mask_blur_y) == (5, 5)
