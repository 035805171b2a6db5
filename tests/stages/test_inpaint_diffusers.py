"""The stand-alone diffusers inpainter on random-weight SD inpainting checkpoints written as users have them."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alien_filters.core.contracts import Inpainter, InpaintJob, Releasable
from alien_filters.core.pipeline import Interrupted
from alien_filters.core.settings import InpaintSettings
from alien_filters.stages.inpaint_diffusers import DiffusersInpainter, InpaintCheckpointError
from tests.support.builders_diffusion import single_file_config_dir, write_tiny_inpaint_checkpoint
from tests.support.torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.filterwarnings("ignore")

SETTINGS = InpaintSettings(denoising_strength=1.0, steps=2, cfg_scale=7.0, mask_feather=3)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_inpaint_checkpoint(tmp_path_factory.mktemp("sd"))


@pytest.fixture(scope="module")
def inpainter(checkpoint: Path) -> DiffusersInpainter:
    return DiffusersInpainter(checkpoint)


@pytest.fixture(scope="module")
def room() -> Image.Image:
    return Image.fromarray(np.random.default_rng(7).integers(0, 256, (96, 128, 3), dtype=np.uint8))


def _job(mask: np.ndarray, box: tuple[int, int, int, int], seed: int = 1, **settings: object) -> InpaintJob:
    return InpaintJob(index=0, rule="bed", classes=("bed",), mask=mask, prompt="an alien bed",
                      negative_prompt="blurry", settings=SETTINGS.merged(settings), seed=seed, box=box)


def _rect_mask(shape: tuple[int, int], y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


@pytest.fixture(scope="module")
def centre_job() -> InpaintJob:
    return _job(_rect_mask((96, 128), 30, 70, 40, 100), (24, 14, 116, 86))


def _assert_only_mask_changed(before: Image.Image, after: Image.Image, mask: np.ndarray) -> None:
    a, b = np.asarray(before), np.asarray(after)
    assert after.size == before.size and after.mode == before.mode
    assert np.array_equal(a[~mask], b[~mask])
    assert (a[mask] != b[mask]).any(axis=-1).mean() > 0.5


def test_it_implements_the_stage_protocols(inpainter: DiffusersInpainter) -> None:
    assert isinstance(inpainter, Inpainter) and isinstance(inpainter, Releasable)
    assert inpainter.name == "diffusers:tiny-sd-inpainting"


def test_only_pixels_inside_the_mask_change(inpainter, room, centre_job) -> None:
    out = inpainter.inpaint(room, centre_job)
    _assert_only_mask_changed(room, out, centre_job.mask)
    assert inpainter.model_size() == 64


def test_each_job_comes_with_the_webuis_infotext(inpainter, room, centre_job) -> None:
    out, infotext = inpainter.inpaint_with_infotext(room, centre_job)
    _assert_only_mask_changed(room, out, centre_job.mask)
    assert infotext == (  # a diffusers folder: the WebUI gives no hash for it, so none is written
        "an alien bed\nNegative prompt: blurry\nSteps: 2, Sampler: DPM++ 2M, Schedule type: Uniform, CFG scale: 7.0, "
        "Seed: 1, Size: 64x48, Model: tiny-sd-inpainting, Denoising strength: 1.0, Mask blur: 3, "
        "Inpaint area: Only masked, Masked area padding: 32, Alien Filters scheduler: DPMSolverMultistepScheduler")
    empty = _job(np.zeros((96, 128), dtype=bool), centre_job.box)
    copy, none = inpainter.inpaint_with_infotext(room, empty)
    assert none is None and np.array_equal(np.asarray(copy), np.asarray(room))


def test_a_single_file_has_the_webuis_model_hash_and_name(tmp_path: Path) -> None:
    path = tmp_path / "sd-v1-5-inpainting.ckpt"
    path.write_bytes(b"not loaded: only hashed" * 1000)
    inpainter = DiffusersInpainter(path, scheduler="dpm++2m_karras")
    assert inpainter.model_hash() == hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    assert inpainter.model_name == "sd-v1-5-inpainting"
    text = inpainter.infotext(_job(np.ones((8, 8), dtype=bool), (0, 0, 8, 8)), (512, 512))
    assert "Sampler: DPM++ 2M, Schedule type: Karras," in text and f"Model hash: {inpainter.model_hash()}," in text


def test_the_feather_blends_the_mask_edge(inpainter, room, centre_job) -> None:
    hard = np.asarray(inpainter.inpaint(room, _job(centre_job.mask, centre_job.box, mask_feather=0)), np.int16)
    soft = np.asarray(inpainter.inpaint(room, centre_job), np.int16)
    orig = np.asarray(room, np.int16)
    # the mask's edge row sits at alpha 1/4 with a 3 px feather; the interior is fully generated in both
    edge, inner = (30, slice(50, 90)), (50, slice(50, 90))
    assert np.array_equal(soft[inner], hard[inner])
    assert np.abs(soft[edge] - orig[edge]).mean() < 0.5 * np.abs(hard[edge] - orig[edge]).mean()


def test_same_seed_same_output_different_seed_different(inpainter, checkpoint, room, centre_job) -> None:
    first = np.asarray(inpainter.inpaint(room, centre_job))
    again = np.asarray(DiffusersInpainter(checkpoint).inpaint(room, centre_job))
    other = np.asarray(inpainter.inpaint(room, _job(centre_job.mask, centre_job.box, seed=2)))
    assert np.array_equal(first, again)
    assert not np.array_equal(first[centre_job.mask], other[centre_job.mask])


def test_a_mask_touching_the_border_with_a_box_past_the_edges(inpainter, room) -> None:
    mask = _rect_mask((96, 128), 0, 40, 88, 128)
    out = inpainter.inpaint(room, _job(mask, (56, -32, 160, 72)))
    _assert_only_mask_changed(room, out, mask)


def test_a_whole_image_mask_and_an_empty_mask(inpainter, room) -> None:
    full = np.ones((96, 128), dtype=bool)
    out = inpainter.inpaint(room, _job(full, (0, 0, 128, 96)))
    assert out.size == room.size and (np.asarray(out) != np.asarray(room)).any(axis=-1).mean() > 0.5
    empty = inpainter.inpaint(room, _job(np.zeros((96, 128), dtype=bool), (0, 0, 128, 96)))
    assert np.array_equal(np.asarray(empty), np.asarray(room))


def test_bad_jobs_are_clear_errors(inpainter, room) -> None:
    with pytest.raises(ValueError, match="mask shape \\(10, 10\\) does not match the 128x96 image"):
        inpainter.inpaint(room, _job(np.ones((10, 10), dtype=bool), (0, 0, 10, 10)))
    with pytest.raises(ValueError, match="mask extends outside its box"):
        inpainter.inpaint(room, _job(_rect_mask((96, 128), 0, 50, 0, 50), (10, 10, 40, 40)))


def test_release_frees_the_pipeline_and_reloads_identically(checkpoint, room, centre_job) -> None:
    loads: list[str] = []
    inpainter = DiffusersInpainter(checkpoint, scheduler="euler_a", on_load=loads.append)
    assert loads == [], "nothing is read before the first job"
    first = np.asarray(inpainter.inpaint(room, centre_job))
    inpainter.inpaint(room, centre_job)
    assert loads == ["sd_inpainting"], "kept across jobs"
    inpainter.release()
    assert inpainter._pipe is None
    assert np.array_equal(np.asarray(inpainter.inpaint(room, centre_job)), first)
    assert loads == ["sd_inpainting"] * 2, "read again after release"


@pytest.mark.parametrize("scheduler,class_name", [("ddim", "DDIMScheduler"), ("euler", "EulerDiscreteScheduler"),
                                                  ("pndm", "PNDMScheduler"),
                                                  ("dpm++2m_karras", "DPMSolverMultistepScheduler")])
def test_every_scheduler_choice_runs(checkpoint, room, centre_job, scheduler: str, class_name: str) -> None:
    inpainter = DiffusersInpainter(checkpoint, scheduler=scheduler)
    _assert_only_mask_changed(room, inpainter.inpaint(room, centre_job), centre_job.mask)
    assert type(inpainter.pipeline.scheduler).__name__ == class_name


def test_an_unknown_scheduler_is_refused(checkpoint) -> None:
    with pytest.raises(ValueError, match="unknown scheduler 'k_lms'"):
        DiffusersInpainter(checkpoint, scheduler="k_lms")


def test_interrupt_stops_between_steps(checkpoint, room, centre_job) -> None:
    checks: list[int] = []

    def interrupted() -> bool:
        checks.append(1)
        return len(checks) >= 3  # before the job, after step 0: go on; after step 1: stop

    inpainter = DiffusersInpainter(checkpoint, interrupted=interrupted)
    unet_calls: list[int] = []
    inpainter.pipeline.unet.register_forward_hook(lambda *_: unet_calls.append(1))
    with pytest.raises(Interrupted):
        inpainter.inpaint(room, _job(centre_job.mask, centre_job.box, steps=6))
    assert len(unet_calls) == 2 and len(checks) == 3
    inpainter.interrupted = None  # the same pipeline still works after an interrupted job
    _assert_only_mask_changed(room, inpainter.inpaint(room, centre_job), centre_job.mask)


def test_interrupt_before_a_job_runs_nothing(checkpoint, room, centre_job) -> None:
    inpainter = DiffusersInpainter(checkpoint, interrupted=lambda: True)
    with pytest.raises(Interrupted):
        inpainter.inpaint(room, centre_job)
    assert inpainter._pipe is None


@pytest.mark.parametrize("suffix", [".safetensors", ".ckpt"])
def test_a_single_file_checkpoint_with_a_local_config_matches_the_folder(
    tmp_path: Path, inpainter, room, centre_job, suffix: str
) -> None:
    single = write_tiny_inpaint_checkpoint(tmp_path, as_single_file=True, suffix=suffix)
    assert single.is_file() and not list(single_file_config_dir(single).rglob("*.safetensors"))
    from_file = DiffusersInpainter(single, config_dir=single_file_config_dir(single))
    expected = np.asarray(inpainter.inpaint(room, centre_job))
    assert np.array_equal(np.asarray(from_file.inpaint(room, centre_job)), expected)


def test_a_non_inpainting_checkpoint_is_refused_naming_the_file(tmp_path: Path, room, centre_job) -> None:
    plain = write_tiny_inpaint_checkpoint(tmp_path, inpainting=False)
    expected = re.escape(f"{plain}: not an inpainting checkpoint") + ".*takes 4 input channels"
    with pytest.raises(InpaintCheckpointError, match=expected):
        DiffusersInpainter(plain).inpaint(room, centre_job)


@pytest.mark.parametrize("kind", ["garbage", "missing", "no_model_index", "wrong_suffix", "bad_config_dir"])
def test_broken_checkpoints_are_clear_errors_naming_the_file(tmp_path: Path, room, centre_job, kind: str) -> None:
    path = tmp_path / "model.safetensors"
    config_dir = None
    if kind == "garbage":
        path.write_bytes(b"\x00not a safetensors file" * 10)
        config_dir = tmp_path
        (tmp_path / "model_index.json").write_text("{}")
        expected = f"{path}: cannot load Stable Diffusion checkpoint"
    elif kind == "missing":
        expected = f"{path}: inpainting checkpoint not found"
    elif kind == "no_model_index":
        path = tmp_path / "folder"
        path.mkdir()
        expected = f"{path}: not a diffusers model folder"
    elif kind == "wrong_suffix":
        path = tmp_path / "model.pt2"
        path.write_bytes(b"x")
        expected = f"{path}: unsupported checkpoint type"
    else:
        path.write_bytes(b"x")
        config_dir = tmp_path / "configs"
        config_dir.mkdir()
        expected = f"{config_dir}: config folder for {path} has no model_index.json"
    with pytest.raises(InpaintCheckpointError, match=re.escape(expected)):
        DiffusersInpainter(path, config_dir=config_dir).inpaint(room, centre_job)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("ALIEN_FILTERS_SLOW"), reason="set ALIEN_FILTERS_SLOW=1 (4 GB disk, ~1 min)")
def test_full_size_checkpoint_has_the_sd15_inpainting_unet(tmp_path: Path) -> None:
    folder = write_tiny_inpaint_checkpoint(tmp_path, full_size=True)
    inpainter = DiffusersInpainter(folder)
    unet = inpainter.pipeline.unet
    assert unet.config.in_channels == 9 and inpainter.model_size() == 512
    assert sum(p.numel() for p in unet.parameters()) == 859_535_364


def test_release_follows_the_offload_policy_free_for_every_model(checkpoint, room, centre_job, monkeypatch) -> None:
    from alien_filters.models import device as devices

    calls: list[tuple[str, str]] = []
    real = devices.release_model
    monkeypatch.setattr(devices, "release_model",
                        lambda m, d, mode: calls.append((type(m).__name__, mode)) or real(m, d, mode))
    inpainter = DiffusersInpainter(checkpoint, scheduler="euler_a")
    pipe = inpainter.pipeline
    unet = pipe.unet
    inpainter.release()
    assert {name for name, _ in calls} >= {"UNet2DConditionModel", "AutoencoderKL", "CLIPTextModel"}
    assert {mode for _, mode in calls} == {"free"}
    assert next(unet.parameters()).device.type == "meta", "the weights are freed, not kept somewhere"


def test_the_default_batch_size_on_a_cpu_loads_no_model(tmp_path):
    assert DiffusersInpainter(tmp_path / "not-there", device="cpu").default_batch_size() == 1  # loading would raise
