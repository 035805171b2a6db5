"""Inpainting through the WebUI: one StableDiffusionProcessingImg2Img per job, with the user's checkpoint (and the
job's ControlNet unit through the WebUI's ControlNet, see webui.controlnet); the theme's finishing pass too."""

from __future__ import annotations

from contextlib import closing
from typing import Callable

import numpy as np
from modules import processing, shared
from PIL import Image

from ..core import masks
from ..core.compositing import clamp_box, job_mask, model_size, paste_back
from ..core.contracts import FinishJob, InpaintJob
from ..core.control import ControlSpec
from ..core.pipeline import Interrupted
from . import controlnet, runtime

DEFAULT_SAMPLER = "DPM++ 2M"
DEFAULT_SCHEDULER = "Automatic"
MIN_SIDE = 64


class WebUIInpainter:
    """Inpainter (see :class:`alien_filters.stages.Inpainter`) that runs the WebUI's own img2img inpainting.

    Each job is inpainted "only masked" with ``job.settings.crop_padding`` of context, fill "original", an int
    mask blur of ``mask_feather`` pixels, the job's denoising strength, steps, CFG and seed, and the sampler
    and scheduler chosen in Settings. ``is_api`` and ``scripts=None`` keep other extensions' scripts and the
    built-in UI scripts off the job; a job with a ControlNet unit gets a script runner of its own that holds only
    the ControlNet script (see :mod:`alien_filters.webui.controlnet`). Nothing is saved by the WebUI. The WebUI's
    result is pasted back through the job's feathered mask, so pixels outside ``job.mask`` never change.
    :meth:`inpaint_with_infotext` also gives the infotext the WebUI wrote for the call (its sampler, checkpoint
    name and hash); :meth:`finish` runs the theme's finishing pass over the whole image.

    ``target_long_side`` is the processing size of the crop's long side (None: the crop's own size, rounded
    to a multiple of 8).
    """

    name = "webui-img2img"

    def __init__(
        self,
        sampler: Callable[[], str] | None = None,
        scheduler: Callable[[], str] | None = None,
        target_long_side: int | None = 512,
        find_controlnet: Callable[[], controlnet.ControlNet | None] = controlnet.find_controlnet,
    ) -> None:
        self.sampler = sampler or (lambda: getattr(shared.opts, "alien_filters_sampler", DEFAULT_SAMPLER))
        self.scheduler = scheduler or (lambda: getattr(shared.opts, "alien_filters_scheduler", DEFAULT_SCHEDULER))
        self.target_long_side = target_long_side
        self.find_controlnet = find_controlnet

    def control_unavailable(self, spec: ControlSpec) -> str | None:
        """None when this WebUI's ControlNet can run ``spec``; else why not (no ControlNet, no such model)."""
        return controlnet.unavailable(self.find_controlnet(), spec)

    def processing_size(self, box: tuple[int, int, int, int]) -> tuple[int, int]:
        """(width, height) for a crop box: multiples of 8 with the box's aspect."""
        x0, y0, x1, y1 = box
        w, h = x1 - x0, y1 - y0
        if self.target_long_side is None:
            return max(MIN_SIDE, int(round(w / 8)) * 8), max(MIN_SIDE, int(round(h / 8)) * 8)
        return model_size(w, h, 8, self.target_long_side)

    def make_processing(self, image: Image.Image, job: InpaintJob) -> processing.StableDiffusionProcessingImg2Img:
        """The img2img processing object for one job (not yet run)."""
        settings = job.settings
        box = clamp_box(job.box, *image.size)
        width, height = self.processing_size(box)
        mask = Image.fromarray(np.asarray(job.mask, dtype=np.uint8) * 255, mode="L")
        return self._img2img(
            image, job.prompt, job.negative_prompt, (width, height), seed=job.seed, steps=settings.steps,
            cfg_scale=settings.cfg_scale, denoising_strength=settings.denoising_strength,
            override_settings={"overlay_inpaint": True, "img2img_color_correction": False},
            mask=mask,
            mask_blur=int(settings.mask_feather),
            inpainting_fill=1,
            inpaint_full_res=True,
            inpaint_full_res_padding=int(settings.crop_padding),
            inpainting_mask_invert=0,
        )

    def _img2img(self, image: Image.Image, prompt: str, negative_prompt: str, size: tuple[int, int], *, seed: int,
                 steps: int, cfg_scale: float, denoising_strength: float, override_settings: dict[str, object],
                 **inpaint_fields: object) -> processing.StableDiffusionProcessingImg2Img:
        """One img2img processing of ``image`` with the sampler and scheduler of Settings, nothing saved, and no
        script (``is_api``, ``scripts=None``); ``inpaint_fields`` add the mask and its handling for a job."""
        width, height = size
        p = processing.StableDiffusionProcessingImg2Img(
            init_images=[image.convert("RGB")],
            prompt=prompt,
            negative_prompt=negative_prompt,
            resize_mode=0,
            denoising_strength=float(denoising_strength),
            steps=int(steps),
            cfg_scale=float(cfg_scale),
            sampler_name=self.sampler(),
            scheduler=self.scheduler(),
            seed=int(seed),
            subseed=-1,
            subseed_strength=0,
            batch_size=1,
            n_iter=1,
            width=width,
            height=height,
            do_not_save_samples=True,
            do_not_save_grid=True,
            override_settings=override_settings,
            outpath_samples=shared.opts.outdir_img2img_samples,
            **inpaint_fields,
        )
        p.is_api = True
        p.scripts = None
        return p

    def inpaint(self, image: Image.Image, job: InpaintJob) -> Image.Image:
        """Repaint ``job.mask`` of ``image`` with the WebUI; same size and mode back."""
        return self.inpaint_with_infotext(image, job)[0]

    def inpaint_with_infotext(self, image: Image.Image, job: InpaintJob) -> tuple[Image.Image, str | None]:
        """:meth:`inpaint`, and the WebUI's infotext of its result (``Processed.infotexts``); an empty mask is a
        copy of ``image`` and None (nothing generated)."""
        mask = job_mask(image, job)
        if not mask.any():
            return image.copy(), None
        p = self.make_processing(image, job)
        what = f"inpaint job {job.index + 1} ({job.rule})"
        processed = self._generate(p, job.control, job.control_image, what,
                                   f"Alien Filters: inpainting {job.rule} (job {job.index + 1})")
        first = processed.index_of_first_image
        result = processed.images[first].convert("RGB")
        infotext = (processed.infotexts[first] if first < len(processed.infotexts) else processed.info) or None
        if result.size != image.size:
            raise RuntimeError(f"{what}: the WebUI returned {result.size}, expected {image.size}"
                               " (is 'overlay_inpaint' forced off by another extension?)")
        base = image if image.mode in ("RGB", "RGBA", "L") else image.convert("RGB")
        alpha = masks.feather(mask, int(job.settings.mask_feather))
        return paste_back(base, result, (0, 0, image.width, image.height), alpha), infotext

    def finish(self, image: Image.Image, job: FinishJob) -> tuple[Image.Image, str | None]:
        """The finishing pass: one img2img of the whole ``image`` at its own size (multiples of 8, the result
        resized back when that differs), at ``job.spec``'s denoising strength and steps, with ``job.control``'s
        unit on ``job.control_image`` when given; the result and the WebUI's infotext."""
        width, height = (max(MIN_SIDE, int(round(side / 8)) * 8) for side in image.size)
        p = self._img2img(image, job.prompt, job.negative_prompt, (width, height), seed=job.seed,
                          steps=job.spec.steps, cfg_scale=job.cfg_scale,
                          denoising_strength=job.spec.denoising_strength,
                          override_settings={"img2img_color_correction": False})
        processed = self._generate(p, job.control, job.control_image, "finishing pass",
                                   "Alien Filters: finishing pass")
        first = processed.index_of_first_image
        result = processed.images[first].convert("RGB")
        if result.size != image.size:
            result = result.resize(image.size, Image.LANCZOS)
        return result, (processed.infotexts[first] if first < len(processed.infotexts) else processed.info) or None

    def _generate(self, p: processing.StableDiffusionProcessingImg2Img, control: ControlSpec | None,
                  control_image: Image.Image | None, what: str, textinfo: str) -> processing.Processed:
        """Run ``p`` in a WebUI session (with the ControlNet unit of ``control`` on ``control_image`` when both are
        given); Interrupted at the Interrupt button, ControlNetFailed when the unit did not apply."""
        with runtime.session():
            state = shared.state
            job_no, job_count = state.job_no, state.job_count
            if runtime.interrupted():
                raise Interrupted(what)
            unit = None
            if control is not None and control_image is not None:
                found = self.find_controlnet()
                if found is None:
                    raise controlnet.ControlNetFailed(f"{what}: {controlnet.NOT_INSTALLED}")
                unit = controlnet.attach(found, p, control, control_image)
            state.textinfo = textinfo
            try:
                with closing(p):
                    processed = processing.process_images(p)
            finally:
                state.job_no, state.job_count = job_no, job_count
                if unit is not None:
                    unit.release()
            if runtime.interrupted():
                raise Interrupted(what)
        if unit is not None:
            unit.check(what)
        if len(processed.images) <= processed.index_of_first_image:
            raise RuntimeError(f"{what}: the WebUI returned no image")
        return processed
