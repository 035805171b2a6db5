"""Running inpaint calls through a diffusers inpainting pipeline, several at once.

A batch is calls of the same model size and schedule, from one image or several (``core.call_groups.image_batches``);
they go through the pipeline as one batch, each with its own crop, mask, prompts (one text per region, see
``regional_attention``) and generator, so each result is the one the call gives alone with its seed, up to float
rounding. Every call of a batch reads its image as it was before the batch.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import replace
from typing import Any, Callable, Sequence

import numpy as np
import torch
from PIL import Image

from ..core import masks as mask_ops
from ..core.call_groups import LATENT_FACTOR, ImageCall, InpaintCall, image_batches
from ..core.compositing import crop_mask, paste_back
from .controlnet import ControlNets, control_kwargs
from .regional_attention import RegionWeights, regional_attention
from .regional_control import call_unit, masked_residuals, unit_weights
from .staggered_start import StaggeredStarts

GIB = 2**30
CPU_BATCH_SIZE = 1
"""The default on a CPU: batching measured no faster there (README Performance)."""
BYTES_PER_ITEM_PIXEL_FP16 = 6 * 1024
"""Rough GPU memory one batch item takes per model pixel during an SD1.5 UNet step in fp16 with SDPA attention
(activations of both guidance halves), used for the memory-aware default batch size."""
MAX_DEFAULT_BATCH = 8


def default_batch_size(device: str, model_side: Callable[[], int]) -> int:
    """Calls per batch: on CUDA as many as half the free memory holds at the model's side squared (at most
    :data:`MAX_DEFAULT_BATCH`), else :data:`CPU_BATCH_SIZE`. ``model_side`` is asked only on CUDA (it loads the
    model)."""
    if not str(device).startswith("cuda") or not torch.cuda.is_available():
        return CPU_BATCH_SIZE
    free, _ = torch.cuda.mem_get_info(torch.device(device))
    side = model_side()
    per_item = side * side * BYTES_PER_ITEM_PIXEL_FP16
    return int(max(1, min(MAX_DEFAULT_BATCH, free // 2 // per_item)))


def union_mask(call: InpaintCall) -> np.ndarray:
    """The union of the call's job masks (working-image size, bool)."""
    return np.logical_or.reduce([np.asarray(job.mask, dtype=bool) for job in call.jobs])


def call_crop(image: Image.Image, call: InpaintCall) -> tuple[Image.Image, Image.Image]:
    """The call's crop of ``image`` at its model size, and the union of its jobs' masks there ('L')."""
    crop = image.convert("RGB").crop(call.box)
    if crop.size != call.size:
        crop = crop.resize(call.size, Image.LANCZOS)
    return crop, crop_mask(union_mask(call), call.box, call.size)


def paste_call(image: Image.Image, generated: Image.Image, call: InpaintCall) -> Image.Image:
    """``generated`` (the call's crop) pasted into ``image`` through the union of its jobs' masks, feathered inside
    it by the widest of their feathers (the generated crop is one picture: no seam between adjacent jobs)."""
    alpha = mask_ops.feather(union_mask(call), max(int(job.settings.mask_feather) for job in call.jobs))
    base = image if image.mode in ("RGB", "RGBA", "L") else image.convert("RGB")
    return paste_back(base, generated, call.box, alpha)


def region_masks(call: InpaintCall, latent_factor: int = LATENT_FACTOR) -> np.ndarray:
    """(regions, latent height, latent width): each job's mask in the call's crop, area-averaged to latent pixels
    (``latent_factor`` image pixels per latent pixel: the pipeline's ``vae_scale_factor``)."""
    x0, y0, x1, y1 = call.box
    size = (call.size[0] // latent_factor, call.size[1] // latent_factor)
    out = []
    for job in call.jobs:
        region = np.asarray(job.mask, dtype=np.float32)[y0:y1, x0:x1]
        out.append(np.asarray(Image.fromarray(region, mode="F").resize(size, Image.BOX), dtype=np.float32))
    return np.clip(np.stack(out), 0.0, 1.0)


def run_batch(pipe: Any, images: Sequence[Image.Image], calls: Sequence[InpaintCall], device: str,
              on_step_end: Callable[..., dict[str, Any]] | None = None,
              controlnets: ControlNets | None = None) -> list[Image.Image]:
    """Generate every call of ``calls`` (same size and schedule; ``calls[i]`` on ``images[i]``) in one pipeline
    call; the generated crops. A call with a ControlNet unit runs alone, through ``controlnets``' pipeline over
    ``pipe`` (see ``regional_control``)."""
    sizes = {call.size for call in calls}
    if len(sizes) != 1:
        raise ValueError(f"a batch needs calls of one size, got {sorted(sizes)}")
    settings = calls[0].jobs[0].settings
    if len({(call.steps_run, call.strength >= 1.0) for call in calls}) != 1:
        raise ValueError("a batch needs calls that run the same steps")
    guided = float(settings.cfg_scale) > 1.0
    regions = max(len(call.jobs) for call in calls)
    crops, masks, positive, negative = [], [], [], []
    for image, call in zip(images, calls, strict=True):
        crop, mask = call_crop(image, call)
        crops.append(crop)
        masks.append(mask)
        jobs = list(call.jobs) + [call.jobs[0]] * (regions - len(call.jobs))  # padding slots: weight 0
        embeds, uncond = pipe.encode_prompt([job.prompt for job in jobs], device, 1, guided,
                                            [job.negative_prompt or "" for job in jobs] if guided else None)
        positive.append(embeds.reshape(1, -1, embeds.shape[-1]))
        if guided:
            negative.append(uncond.reshape(1, -1, uncond.shape[-1]))
    generators = [torch.Generator(_generator_device(device)).manual_seed(int(call.seed)) for call in calls]
    latent_factor = int(pipe.vae_scale_factor)
    masks_per_call = [region_masks(call, latent_factor) for call in calls]
    staggered = StaggeredStarts(pipe, calls, crops, masks_per_call, on_step_end)
    units = [call_unit(call) for call in calls]
    if len(calls) > 1 and any(units):
        raise ValueError("a call with a ControlNet unit runs alone in its batch")
    unit = units[0]
    control: dict[str, Any] = {}
    if unit is not None:
        if controlnets is None:
            raise ValueError("a call with a ControlNet unit but no ControlNet models in this run")
        guided_job = next(job for job in calls[0].jobs if job.control is not None)
        pipe = controlnets.pipeline(pipe, unit)
        control = control_kwargs(unit, guided_job.control_image, calls[0].box, calls[0].size)
    kwargs: dict[str, Any] = dict(
        prompt_embeds=torch.cat(positive), negative_prompt_embeds=torch.cat(negative) if guided else None,
        image=crops, mask_image=masks, width=calls[0].size[0], height=calls[0].size[1],
        strength=calls[0].strength, num_inference_steps=int(settings.steps),
        guidance_scale=float(settings.cfg_scale), generator=generators, output_type="pil",
        callback_on_step_end=staggered if staggered.active else on_step_end, **control)
    with ExitStack() as hooks, torch.inference_mode():
        if regions > 1:
            weights = _weights(masks_per_call, regions, pipe.unet.device)
            hooks.enter_context(regional_attention(pipe.unet, weights))
            if unit is not None:
                hooks.enter_context(regional_attention(pipe.controlnet, weights))
        if unit is not None:
            residual_weights = unit_weights(calls[0], masks_per_call[0])
            hooks.enter_context(masked_residuals(pipe.controlnet, torch.from_numpy(residual_weights)))
        return list(pipe(**kwargs).images)


def _weights(masks_per_call: Sequence[np.ndarray], regions: int, device: Any) -> RegionWeights:
    masks, active = [], []
    for own in masks_per_call:
        pad = np.zeros((regions - len(own), *own.shape[1:]), dtype=np.float32)
        masks.append(np.concatenate([own, pad]))
        active.append([1.0] * len(own) + [0.0] * (regions - len(own)))
    return RegionWeights(torch.from_numpy(np.stack(masks)).to(device), torch.tensor(active, device=device))


def _generator_device(device: str) -> str:
    """torch.Generator device for ``device`` (MPS generators are unreliable; CPU noise is used there)."""
    return str(device) if str(device).startswith("cuda") else "cpu"


def inpaint_images(inpainter: Any, images: Sequence[Image.Image], calls: Sequence[Sequence[InpaintCall]],
                   batch_size: int, before_batch: Callable[[Sequence[ImageCall]], None],
                   on_step_end: Callable[..., dict[str, Any]] | None = None,
                   ) -> list[tuple[Image.Image, dict[int, str | None]]]:
    """Every call of ``calls`` (``calls[i]`` on ``images[i]``) through ``inpainter`` (a DiffusersInpainter), in the
    batches of ``core.call_groups.image_batches``: per image, the image with each job pasted back through its
    feathered mask, and each job's infotext by job index. A batch of one one-job call is the inpainter's own call
    (today's path, exactly)."""
    out = list(images)
    infotexts: list[dict[int, str | None]] = [{} for _ in images]
    for batch in image_batches(calls, batch_size):
        before_batch(batch)
        if len(batch) == 1 and len(batch[0][1].jobs) == 1:
            number, call = batch[0]
            out[number], infotexts[number][call.jobs[0].index] = inpainter.inpaint_with_infotext(out[number],
                                                                                                 call.jobs[0])
            continue
        generated = run_batch(inpainter.pipeline, [out[number] for number, _ in batch], [call for _, call in batch],
                              inpainter.device, on_step_end, inpainter.controlnets)
        for (number, call), crop in zip(batch, generated, strict=True):
            out[number] = paste_call(out[number], crop, call)
            shared = "" if len(call.jobs) == 1 else f", Alien Filters call: {'+'.join(j.rule for j in call.jobs)}"
            for job in call.jobs:
                infotexts[number][job.index] = inpainter.infotext(replace(job, seed=call.seed), call.size) + shared
    return list(zip(out, infotexts, strict=True))
