"""A job's ControlNet unit inside the WebUI: sd-webui-controlnet's external code API (A1111) and Forge's built-in
ControlNet, through their stand-ins (tests/webui/stub_controlnet: the real unit fields, the real crop)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from modules import errors, processing, shared
from PIL import Image

from alien_filters.core.contracts import FinishJob
from alien_filters.core.control import ControlSpec, FinishSpec
from alien_filters.core.edges import canny_image
from alien_filters.webui import controlnet
from alien_filters.webui.inpainter import WebUIInpainter
from tests.webui.controlnet_stand_in import install_controlnet, uninstall_controlnet
from tests.webui.helpers import make_job, noise_image, rect_mask

CANNY = "control_v11p_sd15_canny"
FLAVOURS = {"a1111": (controlnet.A1111, "none"), "forge": (controlnet.FORGE, "None")}


@pytest.fixture(params=sorted(FLAVOURS))
def installed(request, tmp_path):
    cn = install_controlnet(request.param, tmp_path / "models" / "ControlNet", (CANNY,))
    try:
        yield cn
    finally:
        uninstall_controlnet(request.param)


@pytest.fixture
def image() -> Image.Image:
    return noise_image(160, 128, seed=3)


def control_job(image, spec=None, control_image=None):
    job = make_job(rect_mask(*image.size, (40, 30, 100, 80)))
    spec = spec or ControlSpec(kind="canny", weight=0.8, guidance_start=0.1, guidance_end=0.9)
    return replace(job, control=spec, control_image=control_image if control_image is not None else
                   canny_image(image, spec.canny_low, spec.canny_high))


def test_the_unit_runs_alone_on_the_crop_the_webui_inpaints(installed, image):
    """The unit reaches the real ControlNet script with the real fields, cropped exactly as the init image."""
    job = control_job(image, control_image=image)  # control == init image: the crops must agree pixel for pixel
    result, infotext = WebUIInpainter().inpaint_with_infotext(image, job)
    p = processing.calls[-1]
    assert len(installed.runs) == 1
    run = installed.runs[0]
    flavour, module = FLAVOURS[installed.flavour]
    unit = run["unit"]
    assert isinstance(unit, installed.external_code.ControlNetUnit)
    assert unit.model.startswith(CANNY + " [") and unit.module == module and unit.enabled
    assert (unit.weight, unit.guidance_start, unit.guidance_end) == (0.8, 0.1, 0.9)
    assert unit.save_detected_map is False
    assert np.array_equal(run["control"], np.asarray(p.crops[0])), "the control crop is the init image's crop"
    assert installed.other.touched == [], "no other extension's script touches our processing"
    assert [s.title() for s in p.scripts.alwayson_scripts] == ["ControlNet"]
    assert (installed.script.args_from, installed.script.args_to) == (2, 5), "the img2img tab's script is untouched"
    assert getattr(shared.sd_model, "control", None) is None, "the UNet is unhooked afterwards"
    assert "ControlNet 0: " in infotext
    changed = np.any(np.asarray(image) != np.asarray(result), axis=2)
    assert not changed[~job.mask].any(), "pixels outside the mask never change"


def test_the_guidance_shows_in_the_masked_pixels(installed, image):
    plain = make_job(rect_mask(*image.size, (40, 30, 100, 80)))
    without = np.asarray(WebUIInpainter().inpaint(image, plain), dtype=np.float32)
    white = Image.new("RGB", image.size, (255, 255, 255))
    job = control_job(image, ControlSpec(kind="canny", weight=2.0), control_image=white)
    guided = np.asarray(WebUIInpainter().inpaint(image, job), dtype=np.float32)
    inside = job.mask
    assert guided[inside].mean() > without[inside].mean() + 40, "pulled towards the white control image"
    assert np.array_equal(guided[~inside], without[~inside])


def test_model_names_resolve_by_stem_in_any_case_and_after_startup(installed):
    inpainter = WebUIInpainter()
    assert inpainter.control_unavailable(ControlSpec(kind="canny", model=CANNY.upper())) is None
    depth = ControlSpec(kind="depth")
    reason = inpainter.control_unavailable(depth)
    assert "control_v11f1p_sd15_depth" in reason and "not found" in reason and CANNY in reason
    installed.write_model("control_v11f1p_sd15_depth")  # put there while the WebUI runs
    assert inpainter.control_unavailable(depth) is None


def test_without_a_controlnet_the_reason_says_so(image):
    reason = WebUIInpainter().control_unavailable(ControlSpec(kind="canny"))
    assert reason == controlnet.NOT_INSTALLED and "sd-webui-controlnet" in reason
    result = WebUIInpainter().inpaint(image, make_job(rect_mask(*image.size, (40, 30, 100, 80))))
    assert result.size == image.size and processing.calls[-1].scripts is None


def test_a_unit_the_script_cannot_apply_fails_the_job_in_words(installed, image, capsys):
    job = control_job(image)
    inpainter = WebUIInpainter()
    assert inpainter.control_unavailable(job.control) is None
    if installed.flavour == "a1111":
        model = installed.external_code.get_models()[0]
        installed.external_code.cn_models[model] = None  # listed by name, its file gone: "model not found"
    else:
        from lib_controlnet import global_state
        global_state.controlnet_filename_dict.pop(global_state.get_all_controlnet_names()[1])  # listed, file gone
    with pytest.raises(controlnet.ControlNetFailed, match="could not apply ControlNet model"):
        inpainter.inpaint(image, job)
    assert any("Error running process" in m for m in errors.reported), "the WebUI reported it on the console"
    assert getattr(shared.sd_model, "control", None) is None


def test_an_all_dark_control_image_runs(installed, image):
    """Forge reads an all-dark unit image as 'take image_fg' (and fails without one)."""
    job = control_job(image, control_image=Image.new("RGB", image.size))
    WebUIInpainter().inpaint(image, job)
    assert len(installed.runs) == 1 and not installed.runs[0]["control"].any()


def test_the_finishing_pass_runs_the_whole_image_with_its_unit(installed, image):
    spec = ControlSpec(kind="canny", weight=1.0)
    job = FinishJob(prompt="green light", negative_prompt="", spec=FinishSpec(denoising_strength=0.2, steps=4,
                    control=spec), cfg_scale=5.0, seed=4, control=spec, control_image=canny_image(image, 100, 200))
    result, infotext = WebUIInpainter().finish(image, job)
    p = processing.calls[-1]
    assert result.size == image.size and (p.width, p.height) == (160, 128) and p.image_mask is None
    assert (p.denoising_strength, p.steps, p.seed) == (0.2, 4, 4)
    assert len(installed.runs) == 1 and installed.runs[0]["control"].shape == (128, 160, 3)
    assert installed.other.touched == [] and "ControlNet 0: " in infotext
