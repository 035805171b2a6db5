"""Stand-alone inpainter: a local Stable Diffusion inpainting checkpoint run through diffusers.

Each job is inpainted "only masked", as the WebUI does: the job's box is cropped, resized to the model size,
inpainted with the job's prompt, settings and seed, resized back and pasted through the feathered job mask, so
pixels outside the mask stay exactly as they were. Each job's infotext is written as the WebUI would write it.

Only inpainting checkpoints (a UNet with 9 input channels, e.g. sd-v1-5-inpainting) are accepted: a plain
text-to-image checkpoint gives a clear error instead of the poor seams of img2img-with-mask.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from PIL import Image

from ..core import masks
from ..core.compositing import clamp_box, crop_for_job, crop_mask, job_mask, paste_back
from ..core.errors import AlienFiltersError
from ..core.infotext import create_infotext
from ..core.pipeline import Interrupted
from .controlnet import control_kwargs, unit_infotext

if TYPE_CHECKING:
    from diffusers import StableDiffusionInpaintPipeline

    from ..core.call_groups import ImageCall, InpaintCall
    from ..core.contracts import FinishJob, InpaintJob
    from ..core.control import ControlSpec
    from .controlnet import ControlNets

INPAINT_IN_CHANNELS = 9
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
LOAD_NAME = "sd_inpainting"
"""The name loads are counted under (see ``on_load``)."""
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "dpm++2m": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    "dpm++2m_karras": ("DPMSolverMultistepScheduler",
                       {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "euler": ("EulerDiscreteScheduler", {}),
    "ddim": ("DDIMScheduler", {}),
    "pndm": ("PNDMScheduler", {}),
}
"""Scheduler choices: name -> (diffusers class, config overrides)."""
WEBUI_SAMPLERS: dict[str, tuple[str, str]] = {
    "dpm++2m": ("DPM++ 2M", "Uniform"),
    "dpm++2m_karras": ("DPM++ 2M", "Karras"),
    "euler_a": ("Euler a", "Automatic"),
    "euler": ("Euler", "Automatic"),
    "ddim": ("DDIM", "Automatic"),
    "pndm": ("PLMS", "Automatic"),
}
"""Scheduler choice -> the WebUI's (Sampler, Schedule type) for the infotext, after the table of A1111/k-diffusion
equivalents in diffusers' scheduler docs. In A1111 v1.10.1 the 'Automatic' schedule of DPM++ 2M is Karras, so the
plain one (the model's own sigmas) is 'Uniform'."""


class InpaintCheckpointError(AlienFiltersError, ValueError):
    """A checkpoint that is missing, unreadable or not an inpainting model."""


class DiffusersInpainter:
    """Inpainter (see :class:`alien_filters.stages.Inpainter`) backed by ``StableDiffusionInpaintPipeline``.

    ``checkpoint`` is a diffusers folder (with model_index.json) or a single ``.safetensors``/``.ckpt`` file.
    Single files need the pipeline's configs: ``config_dir`` (a local diffusers-format folder of the same model
    family) keeps loading offline; without it diffusers fetches the official configs once. The model is loaded
    lazily on the first job and kept until :meth:`release`.
    """

    def __init__(
        self,
        checkpoint: Path,
        device: str = "cpu",
        dtype: Any = None,
        scheduler: str = "dpm++2m",
        config_dir: Path | None = None,
        interrupted: Callable[[], bool] | None = None,
        on_load: Callable[[str], None] | None = None,
        controlnets: ControlNets | None = None,
    ) -> None:
        """``on_load`` is called with :data:`LOAD_NAME` each time the checkpoint is actually loaded; ``controlnets``
        runs the jobs' ControlNet units (None: jobs with a unit run without it, recorded)."""
        if scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {scheduler!r}; choose one of {', '.join(SCHEDULERS)}")
        self.checkpoint = Path(checkpoint)
        self.device = device
        self.dtype = dtype
        self.scheduler = scheduler
        self.config_dir = Path(config_dir) if config_dir is not None else None
        self.interrupted = interrupted
        self._where = "inpainting"
        self.on_load = on_load
        self.name = f"diffusers:{self.checkpoint.name}"
        self.model_name = self.checkpoint.stem if self.checkpoint.suffix.lower() in SINGLE_FILE_SUFFIXES \
            else self.checkpoint.name
        """The infotext's ``Model``: the checkpoint's file name without suffix, as the WebUI writes it."""
        self._model_hash: str | None = None
        self._pipe: StableDiffusionInpaintPipeline | None = None
        self.controlnets = controlnets

    # -- loading ---------------------------------------------------------------------------------------------

    @property
    def pipeline(self) -> StableDiffusionInpaintPipeline:
        """The loaded pipeline (loads it on first use)."""
        if self._pipe is None:
            self._pipe = self._load()
            if self.on_load is not None:
                self.on_load(LOAD_NAME)
        return self._pipe

    def _torch_dtype(self) -> Any:
        import torch

        if self.dtype is not None:
            return self.dtype
        return torch.float16 if str(self.device).startswith("cuda") else torch.float32

    def _load(self) -> StableDiffusionInpaintPipeline:
        from diffusers import StableDiffusionInpaintPipeline

        path = self.checkpoint
        kwargs: dict[str, Any] = {"safety_checker": None, "requires_safety_checker": False,
                                  "torch_dtype": self._torch_dtype()}
        if not path.exists():
            raise InpaintCheckpointError(f"{path}: inpainting checkpoint not found")
        try:
            if path.is_dir():
                if not (path / "model_index.json").is_file():
                    raise InpaintCheckpointError(
                        f"{path}: not a diffusers model folder (no model_index.json); pass the folder that "
                        "save_pretrained wrote or a single .safetensors/.ckpt file")
                pipe = StableDiffusionInpaintPipeline.from_pretrained(str(path), local_files_only=True, **kwargs)
            elif path.suffix.lower() in SINGLE_FILE_SUFFIXES:
                if self.config_dir is not None:
                    if not (self.config_dir / "model_index.json").is_file():
                        raise InpaintCheckpointError(
                            f"{self.config_dir}: config folder for {path} has no model_index.json")
                    kwargs.update(config=str(self.config_dir), local_files_only=True)
                pipe = StableDiffusionInpaintPipeline.from_single_file(str(path), **kwargs)
            else:
                raise InpaintCheckpointError(
                    f"{path}: unsupported checkpoint type; expected a diffusers folder or one of "
                    f"{', '.join(SINGLE_FILE_SUFFIXES)}")
        except InpaintCheckpointError:
            raise
        except Exception as exc:  # diffusers/safetensors/torch raise many types for broken files
            hint = "" if path.is_dir() or self.config_dir else (
                " (single files need the model's configs: pass config_dir, or go online once so diffusers gets them)")
            raise InpaintCheckpointError(f"{path}: cannot load Stable Diffusion checkpoint: {exc}{hint}") from exc
        channels = pipe.unet.config.in_channels
        if channels != INPAINT_IN_CHANNELS:
            raise InpaintCheckpointError(
                f"{path}: not an inpainting checkpoint (its UNet takes {channels} input channels, inpainting models "
                f"take {INPAINT_IN_CHANNELS}); use an inpainting model such as sd-v1-5-inpainting")
        pipe.scheduler = _make_scheduler(self.scheduler, pipe.scheduler.config)
        pipe.set_progress_bar_config(disable=True)
        return pipe.to(self.device)

    def model_size(self) -> int:
        """The side in pixels the model was trained at (512 for SD1.5)."""
        pipe = self.pipeline
        return int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)

    # -- inpainting ------------------------------------------------------------------------------------------

    def model_hash(self) -> str | None:
        """The WebUI's ``Model hash`` of a single-file checkpoint (the first 10 hex digits of its sha256, computed
        once); None for a diffusers folder, which the WebUI does not load."""
        if self._model_hash is None and self.checkpoint.is_file():
            with open(self.checkpoint, "rb") as handle:
                self._model_hash = hashlib.file_digest(handle, "sha256").hexdigest()[:10]
        return self._model_hash

    def infotext(self, job: InpaintJob | FinishJob, size: tuple[int, int]) -> str:
        """The infotext of ``job`` inpainted at ``size`` (width, height), in the WebUI's form and key order (the
        finishing pass as the WebUI's img2img of the whole image)."""
        finishing = not hasattr(job, "settings")
        settings = _finish_settings(job) if finishing else job.settings  # type: ignore[arg-type, union-attr]
        sampler, schedule = WEBUI_SAMPLERS[self.scheduler]
        return create_infotext(job.prompt, job.negative_prompt, {
            "Steps": settings.steps, "Sampler": sampler, "Schedule type": schedule, "CFG scale": settings.cfg_scale,
            "Seed": job.seed, "Size": f"{size[0]}x{size[1]}", "Model hash": self.model_hash(),
            "Model": self.model_name, "Denoising strength": settings.denoising_strength,
            "Mask blur": None if finishing else settings.mask_feather or None,
            "Inpaint area": None if finishing else "Only masked",
            "Masked area padding": None if finishing else settings.crop_padding,
            "ControlNet 0": unit_infotext(job.control) if job.control is not None else None,
            "Alien Filters scheduler": SCHEDULERS[self.scheduler][0],
            "Alien Filters pass": "finish" if finishing else None,
        })

    def control_unavailable(self, spec: ControlSpec) -> str | None:
        """Why ``spec`` cannot run here (None when it can); see core.contracts.ControlInpainter."""
        if self.controlnets is None:
            return "no ControlNet models in this run"
        return self.controlnets.unavailable(spec)

    def _pipe_for(self, job: InpaintJob | FinishJob, crop_box: tuple[int, int, int, int],
                  size: tuple[int, int]) -> tuple[Any, dict[str, Any]]:
        """The pipeline for ``job`` (the ControlNet one over the same components when it has a unit) and the
        ControlNet arguments of its call."""
        pipe = self.pipeline
        if job.control is None or job.control_image is None:
            return pipe, {}
        if self.controlnets is None:
            raise ValueError("a ControlNet unit but no ControlNet models in this run")
        return self.controlnets.pipeline(pipe, job.control), control_kwargs(job.control, job.control_image,
                                                                              crop_box, size)

    def inpaint(self, image: Image.Image, job: InpaintJob) -> Image.Image:
        """Repaint ``job.mask`` of ``image``; same size (and mode for RGB, RGBA, L; others come back RGB)."""
        return self.inpaint_with_infotext(image, job)[0]

    def inpaint_with_infotext(self, image: Image.Image, job: InpaintJob) -> tuple[Image.Image, str | None]:
        """:meth:`inpaint`, and the job's :meth:`infotext` (None for an empty mask: a copy, nothing generated)."""
        import torch

        mask = job_mask(image, job)
        if not mask.any():
            return image.copy(), None
        x0, y0, x1, y1 = clamp_box(job.box, image.width, image.height)
        if mask[:y0].any() or mask[y1:].any() or mask[:, :x0].any() or mask[:, x1:].any():
            raise ValueError(f"job {job.index} ({job.rule}): mask extends outside its box {job.box}")
        self._where = f"inpaint job {job.index + 1} ({job.rule})"
        self._check_interrupt()
        crop, crop_box = crop_for_job(image.convert("RGB"), job.box, multiple=8, target_long_side=self.model_size())
        pipe, control = self._pipe_for(job, crop_box, crop.size)
        settings = job.settings
        generator = torch.Generator(_generator_device(self.device)).manual_seed(int(job.seed))
        with torch.inference_mode():
            result = pipe(
                prompt=job.prompt,
                negative_prompt=job.negative_prompt or None,
                image=crop,
                mask_image=crop_mask(mask, crop_box, crop.size),
                height=crop.height,
                width=crop.width,
                strength=float(settings.denoising_strength),
                num_inference_steps=int(settings.steps),
                guidance_scale=float(settings.cfg_scale),
                generator=generator,
                output_type="pil",
                callback_on_step_end=self._on_step_end,
                **control,
            )
        generated = result.images[0]
        alpha = masks.feather(mask, int(settings.mask_feather))
        base = image if image.mode in ("RGB", "RGBA", "L") else image.convert("RGB")
        return paste_back(base, generated, crop_box, alpha), self.infotext(job, crop.size)

    def inpaint_images(self, images: Sequence[Image.Image], calls: Sequence[Sequence[InpaintCall]], batch_size: int,
                       before_batch: Callable[[Sequence[ImageCall]], None],
                       ) -> list[tuple[Image.Image, dict[int, str | None]]]:
        """Regional and batched calls of one or more images (see stages.batched_inpaint): per image, the image and
        each job's infotext by index."""
        from . import batched_inpaint

        return batched_inpaint.inpaint_images(self, images, calls, batch_size, before_batch, self._on_step_end)

    def default_batch_size(self) -> int:
        """Calls per batch when the run does not say: memory-aware on CUDA (stages.batched_inpaint)."""
        from . import batched_inpaint

        return batched_inpaint.default_batch_size(self.device, self.model_size)

    def finish(self, image: Image.Image, job: FinishJob) -> tuple[Image.Image, str | None]:
        """The finishing pass (core.contracts.Finisher): one low-denoise pass over the whole image at its own size
        (snapped to multiples of 8). Inpainting checkpoints take no plain img2img (their UNet wants a mask and a
        masked image), so it is the same pipeline with a mask over everything, as the WebUI's img2img runs an
        inpainting model; with a unit, the ControlNet pipeline over the same components."""
        import torch

        self._where = "finishing pass"
        self._check_interrupt()
        rgb = image.convert("RGB")
        size = (max(8, rgb.width // 8 * 8), max(8, rgb.height // 8 * 8))
        work = rgb if rgb.size == size else rgb.resize(size, Image.LANCZOS)
        pipe, control = self._pipe_for(job, (0, 0, rgb.width, rgb.height), size)
        generator = torch.Generator(_generator_device(self.device)).manual_seed(int(job.seed))
        with torch.inference_mode():
            result = pipe(
                prompt=job.prompt,
                negative_prompt=job.negative_prompt or None,
                image=work,
                mask_image=Image.new("L", size, 255),
                height=size[1],
                width=size[0],
                strength=float(job.spec.denoising_strength),
                num_inference_steps=int(job.spec.steps),
                guidance_scale=float(job.cfg_scale),
                generator=generator,
                output_type="pil",
                callback_on_step_end=self._on_step_end,
                **control,
            )
        generated = result.images[0]
        if generated.size != rgb.size:
            generated = generated.resize(rgb.size, Image.LANCZOS)
        return generated, self.infotext(job, size)

    def _check_interrupt(self) -> None:
        if self.interrupted is not None and self.interrupted():
            raise Interrupted(self._where)  # the pipeline records a stop, not a failure

    def _on_step_end(self, pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        self._check_interrupt()
        return tensors

    def release(self) -> None:
        """The offload policy's ``free`` mode for every model of the pipeline; the next job loads it again."""
        if self._pipe is None:
            return
        import torch

        from ..models import device as devices

        for component in self._pipe.components.values():
            if isinstance(component, torch.nn.Module):
                devices.release_model(component, self.device, "free")
        self._pipe = None
        if self.controlnets is not None:
            self.controlnets.release()


def _finish_settings(job: FinishJob) -> Any:
    """The infotext's view of a finishing pass: its steps, CFG scale and denoising strength."""
    from types import SimpleNamespace

    return SimpleNamespace(steps=job.spec.steps, cfg_scale=job.cfg_scale,
                           denoising_strength=job.spec.denoising_strength)


def _make_scheduler(name: str, config: Any) -> Any:
    import diffusers

    class_name, overrides = SCHEDULERS[name]
    return getattr(diffusers, class_name).from_config(config, **overrides)


def _generator_device(device: str) -> str:
    """torch.Generator device for ``device`` (MPS generators are unreliable; CPU noise is used there)."""
    return str(device) if str(device).startswith("cuda") else "cpu"
