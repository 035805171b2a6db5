"""Structure guidance in the stand-alone inpainter: a random-weight ControlNet of the tiny checkpoint's shape and a
random-weight DPT, saved as users' folders and found through the model manager, run through the real diffusers
ControlNet inpainting pipeline over the already loaded checkpoint."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from alien_filters.core.call_groups import InpaintCall, own_call
from alien_filters.core.contracts import FinishJob, InpaintJob
from alien_filters.core.control import ControlSpec, FinishSpec
from alien_filters.core.edges import canny_image
from alien_filters.core.guidance import attach_control
from alien_filters.core.settings import InpaintSettings
from alien_filters.models.manager import ModelManager
from alien_filters.stages.batched_inpaint import paste_call, region_masks, run_batch
from alien_filters.stages.control_images import DEPTH_MODEL, ModelControlImager
from alien_filters.stages.controlnet import ControlNets
from alien_filters.stages.inpaint_diffusers import LOAD_NAME, DiffusersInpainter
from alien_filters.stages.regional_control import masked_residuals, unit_weights
from tests.support.builders_control import write_tiny_controlnet, write_tiny_dpt
from tests.support.builders_diffusion import write_tiny_inpaint_checkpoint
from tests.support.torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.filterwarnings("ignore")
CANNY = ControlSpec("canny", weight=1.0)
SETTINGS = InpaintSettings(denoising_strength=1.0, steps=2, cfg_scale=7.0, mask_feather=3)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder as the registry fills it: the canny ControlNet (fp16 variant file) and the DPT folder."""
    root = tmp_path_factory.mktemp("models")
    write_tiny_controlnet(root / "diffusers/lllyasviel/control_v11p_sd15_canny", fp16_variant=True)
    write_tiny_dpt(root / "transformers/Intel/dpt-hybrid-midas")
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_inpaint_checkpoint(tmp_path_factory.mktemp("sd"))


@pytest.fixture()
def manager(models: Path) -> ModelManager:
    return ModelManager(models, {}, allow_download=False)


@pytest.fixture()
def inpainter(checkpoint: Path, manager: ModelManager) -> DiffusersInpainter:
    return DiffusersInpainter(checkpoint, on_load=manager.record_load,
                              controlnets=ControlNets(manager.ensure, on_load=manager.record_load))


@pytest.fixture(scope="module")
def room() -> Image.Image:
    rng = np.random.default_rng(3)
    pixels = rng.integers(60, 120, (96, 128, 3), dtype=np.uint8)
    pixels[20:80, 30:60] = (200, 40, 40)  # a bed with edges for canny
    return Image.fromarray(pixels)


def _job(control: ControlSpec | None, control_image: Image.Image | None) -> InpaintJob:
    mask = np.zeros((96, 128), dtype=bool)
    mask[30:70, 40:100] = True
    return InpaintJob(index=0, rule="bed", classes=("bed",), mask=mask, prompt="an alien bed", negative_prompt="",
                      settings=SETTINGS, seed=1, box=(24, 14, 116, 86), control=control, control_image=control_image)


def test_a_unit_runs_the_controlnet_on_the_jobs_crop_and_only_the_mask_changes(inpainter, manager, room):
    seen: list[tuple[int, ...]] = []
    control_image = canny_image(room, 100, 200)
    job = _job(CANNY, control_image)
    controlnet = inpainter.controlnets.model(CANNY, torch.float32)
    handle = controlnet.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(tuple(kwargs["controlnet_cond"].shape)), with_kwargs=True)
    guided, infotext = inpainter.inpaint_with_infotext(room, job)
    handle.remove()
    plain = inpainter.inpaint(room, _job(None, None))
    black = inpainter.inpaint(room, _job(CANNY, Image.new("RGB", room.size)))
    a, g = np.asarray(room), np.asarray(guided)
    assert np.array_equal(a[~job.mask], g[~job.mask])  # pixels outside the mask exact
    assert (a[job.mask] != g[job.mask]).any()
    assert seen and seen[0][1:] == (3, 48, 64)  # the crop's model size (92x72 box, long side 64: the tiny model's)
    assert not np.array_equal(g, np.asarray(plain))  # the ControlNet changed the result...
    assert not np.array_equal(g, np.asarray(black))  # ...and so does the control image it was given
    assert 'ControlNet 0: "Module: canny, Model: control_v11p_sd15_canny, Weight: 1' in infotext
    assert manager.load_count == {LOAD_NAME: 1, "control_v11p_sd15_canny": 1}
    assert inpainter.controlnets.pipeline(inpainter.pipeline, CANNY).unet is inpainter.pipeline.unet  # shared


def test_a_unit_alone_in_a_call_equals_its_own_call(inpainter, room):
    job = _job(CANNY, canny_image(room, 100, 200))
    own = own_call(job, room.size, inpainter.model_size())
    [generated] = run_batch(inpainter.pipeline, [room], [own], "cpu", controlnets=inpainter.controlnets)
    alone = inpainter.inpaint(room, job)
    assert np.abs(np.asarray(paste_call(room, generated, own), dtype=np.int16)
                  - np.asarray(alone, dtype=np.int16)).max() <= 2


def test_a_regional_call_runs_its_unit_outside_the_masks_of_the_jobs_without_it(inpainter, room):
    guided = _job(CANNY, canny_image(room, 100, 200))
    plain_mask = np.zeros((96, 128), dtype=bool)
    plain_mask[10:28, 10:120] = True
    plain = InpaintJob(index=1, rule="painting", classes=("painting",), mask=plain_mask, prompt="a green painting",
                       negative_prompt="", settings=SETTINGS, seed=2, box=(4, 4, 124, 90))
    call = InpaintCall((guided, plain), (4, 4, 124, 90), (64, 48))
    weights = unit_weights(call, region_masks(call))
    assert weights.shape == (6, 8) and weights[0].mean() < 0.6 and weights[-1].min() == 1.0  # painting on top
    conds: list[tuple[int, ...]] = []
    controlnet = inpainter.controlnets.model(CANNY, torch.float32)
    handle = controlnet.register_forward_pre_hook(
        lambda module, args, kwargs: conds.append(tuple(kwargs["controlnet_cond"].shape)), with_kwargs=True)
    try:
        [(result, infotexts)] = inpainter.inpaint_images([room], [[call]], 1, lambda batch: None)
    finally:
        handle.remove()
    assert conds and conds[0][1:] == (3, 48, 64)  # the ControlNet ran on the whole call's crop
    assert not controlnet._forward_hooks  # the residual mask is taken off again
    outside = ~(guided.mask | plain.mask)
    assert np.array_equal(np.asarray(result)[outside], np.asarray(room)[outside])
    assert "ControlNet 0" in infotexts[0] and "ControlNet 0" not in infotexts[1]


def test_residuals_are_weighted_per_pixel_at_each_resolution():
    class Residuals(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
            return (torch.ones(2, 3, 4, 4), torch.ones(2, 3, 2, 2)), torch.ones(2, 3, 1, 1)

    module = Residuals()
    weights = torch.ones(4, 4)
    weights[:, :2] = 0.0  # the left half belongs to a job without the unit
    with masked_residuals(module, weights):
        (full, half), mid = module(torch.zeros(1))
    assert torch.equal(full[..., :2], torch.zeros(2, 3, 4, 2)) and torch.equal(full[..., 2:], torch.ones(2, 3, 4, 2))
    assert torch.equal(half[..., 0], torch.zeros(2, 3, 2)) and torch.equal(half[..., 1], torch.ones(2, 3, 2))
    assert torch.allclose(mid, torch.full((2, 3, 1, 1), 0.5))
    assert torch.equal(module(torch.zeros(1))[1], torch.ones(2, 3, 1, 1))  # the hook is gone after the block


def test_missing_model_is_a_reason_not_a_failure_and_the_job_runs_without(inpainter, room):
    depth = ControlSpec("depth")
    reason = inpainter.control_unavailable(depth)
    assert "control_v11f1p_sd15_depth" in reason and "downloads are switched off" in reason
    assert "neither a registry model" in inpainter.control_unavailable(ControlSpec("canny", model="my_canny"))
    imager = ModelControlImager(inpainter.controlnets.locate)
    run = attach_control(room, [_job(depth, None), _job(CANNY, None)], inpainter, imager)
    assert run.jobs[0].control is None and run.records[0]["applied"] is False
    assert run.jobs[1].control_image is not None and run.records[1]["applied"] is True
    assert run.notes == [reason]


def test_a_users_own_controlnet_folder_by_path(tmp_path, checkpoint, room):
    folder = write_tiny_controlnet(tmp_path / "my-canny", seed=4)
    inpainter = DiffusersInpainter(checkpoint, controlnets=ControlNets(lambda name: (_ for _ in ()).throw(KeyError)))
    spec = ControlSpec("canny", model=str(folder))
    assert inpainter.control_unavailable(spec) is None
    out = inpainter.inpaint(room, _job(spec, canny_image(room, 100, 200)))
    assert out.size == room.size


def test_depth_images_come_from_the_dpt_folder(manager, room):
    imager = ModelControlImager(manager.ensure, on_load=manager.record_load)
    assert imager.unavailable(ControlSpec("depth")) is None
    depth = np.asarray(imager.control_image(room, ControlSpec("depth")))
    assert depth.shape == (96, 128, 3) and depth.min() == 0 and depth.max() == 255
    assert (depth[..., 0] == depth[..., 1]).all()
    imager.control_image(room, ControlSpec("depth"))
    assert manager.load_count[DEPTH_MODEL] == 1  # loaded once, kept
    imager.release()
    missing = ModelControlImager(ModelManager(manager.models_dir / "nothing", {}, allow_download=False).ensure)
    assert "dpt_hybrid_midas" in missing.unavailable(ControlSpec("depth"))


def test_finishing_pass_repaints_the_whole_image_with_the_same_components(inpainter, manager, room):
    spec = FinishSpec(denoising_strength=0.5, steps=2, control=CANNY)
    job = FinishJob(prompt="green light", negative_prompt="", spec=spec, cfg_scale=5.0, seed=2, control=CANNY,
                    control_image=canny_image(room, 100, 200))
    out, infotext = inpainter.finish(room, job)
    changed = np.any(np.asarray(out) != np.asarray(room), axis=2)
    assert out.size == room.size and changed.mean() > 0.5  # everywhere, not only inside some mask
    assert "Alien Filters pass: finish" in infotext and "Denoising strength: 0.5" in infotext
    assert "Inpaint area" not in infotext
    assert manager.load_count[LOAD_NAME] == 1  # the finish reuses the loaded checkpoint
    plain, _ = inpainter.finish(room, FinishJob("green light", "", FinishSpec(0.5, 2), 5.0, 2))
    assert not np.array_equal(np.asarray(plain), np.asarray(out))


def test_the_factory_wires_guidance_through_a_whole_image(models, checkpoint, tmp_path):
    """The stand-alone stages as the command line builds them (models folder, downloads off), with the tag and
    segment stages replaced by colour doubles: canny and depth units per rule, the depth ControlNet missing."""
    from alien_filters.core.pipeline import Pipeline, PipelineOptions
    from alien_filters.core.run_options import StageChoices
    from alien_filters.stages.factory import build_stages, make_manager
    from alien_filters.themes.parsing import parse_theme
    from tests.support.doubles import ColourSegmenter, ColourTagger
    from tests.support.rooms import room_image

    manager = make_manager(models, allow_download=False)
    options = PipelineOptions(restore=False, tag=False, segment=False)
    stages = build_stages(StageChoices(), options, checkpoint=checkpoint, device="cpu", manager=manager)
    stages.tagger, stages.segmenter = ColourTagger(), ColourSegmenter()
    theme = parse_theme("""\
name: guided
defaults: {steps: 2, denoising_strength: 1.0}
rules:
  - {classes: [bed, window, table, lamp, chair], prompt: alien furniture, control: {kind: canny}}
  - {classes: [curtain, plant, painting, mirror, television], prompt: alien decor, control: {kind: depth}}
""")
    image, _ = room_image(25, n_objects=6)

    def run() -> tuple[Any, dict[str, Any]]:
        result = Pipeline(stages, theme, PipelineOptions(restore=False, segment=True)).run(image, "sha", seed=1)
        return result, {job.rule: rec for job, rec in zip(result.plan.jobs, result.control.records, strict=True)}

    result, records = run()
    assert records["bed+window+table+lamp+chair"]["applied"] is True
    depth = records["curtain+plant+painting+mirror+television"]
    assert depth["applied"] is False and "control_v11f1p_sd15_depth" in depth["reason"]  # not in the folder
    assert result.control.imager == "canny+dpt"
    union = np.logical_or.reduce([job.mask for job in result.plan.jobs])
    changed = np.any(np.asarray(result.final) != np.asarray(result.working), axis=2)
    assert changed.any() and not (changed & ~union).any()
    assert manager.load_count == {LOAD_NAME: 1, "control_v11p_sd15_canny": 1}

    shutil.copytree(models, tmp_path / "models")  # now with the depth ControlNet too: DPT -> depth image -> unit
    write_tiny_controlnet(tmp_path / "models/diffusers/lllyasviel/control_v11f1p_sd15_depth", seed=5)
    manager = make_manager(tmp_path / "models", allow_download=False)
    stages = build_stages(StageChoices(), options, checkpoint=checkpoint, device="cpu", manager=manager)
    stages.tagger, stages.segmenter = ColourTagger(), ColourSegmenter()
    result, records = run()
    assert all(rec["applied"] for rec in records.values())
    assert manager.load_count == {LOAD_NAME: 1, "control_v11p_sd15_canny": 1, "control_v11f1p_sd15_depth": 1,
                                  DEPTH_MODEL: 1}
