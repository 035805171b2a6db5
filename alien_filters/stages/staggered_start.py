"""Regions of one diffusion call with different denoising strengths: the weaker ones start later.

A call runs the steps of its strongest job. A job of strength ``s`` alone would start ``steps - int(steps * s)``
steps into the schedule, from its image noised to that step's level. In a shared call its region is held at exactly
that (its crop's latents noised to the current timestep, blended in by the region's mask) until its own start, then
denoised with the rest: the mechanism diffusers' inpainting pipeline uses to keep the unmasked area of a plain
text-to-image UNet. Applied as the pipeline's ``callback_on_step_end``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
from PIL import Image

from ..core.call_groups import InpaintCall, denoise_steps

StepCallback = Callable[..., dict[str, Any]]


class StaggeredStarts:
    """``callback_on_step_end`` holding each late region at its noised image until its start, then ``then``."""

    def __init__(self, pipe: Any, calls: Sequence[InpaintCall], crops: Sequence[Image.Image],
                 region_masks: Sequence[np.ndarray], then: StepCallback | None = None) -> None:
        """``region_masks``: per call, (regions, latent H, latent W) weights of its jobs (as regional attention)."""
        self.then = then
        self.run = calls[0].steps_run
        self.held: list[tuple[int, int, torch.Tensor]] = []
        """(batch item, steps the region waits, its mask (1, 1, H, W))."""
        device, dtype = pipe.unet.device, pipe.unet.dtype
        for item, (call, masks) in enumerate(zip(calls, region_masks, strict=True)):
            for job, mask in zip(call.jobs, masks, strict=True):
                wait = self.run - denoise_steps(int(job.settings.steps), float(job.settings.denoising_strength))
                if wait > 0:
                    self.held.append((item, wait, torch.from_numpy(mask)[None, None].to(device, dtype)))
        self.latents: torch.Tensor | None = None
        self.noise: torch.Tensor | None = None
        if self.held:
            width, height = calls[0].size
            pixels = pipe.image_processor.preprocess(list(crops), height=height, width=width).to(device, dtype)
            with torch.inference_mode():
                encoded = pipe.vae.encode(pixels).latent_dist.mean
            self.latents = encoded * pipe.vae.config.scaling_factor
            generators = [torch.Generator("cpu").manual_seed(int(call.seed) + 1) for call in calls]
            self.noise = torch.cat([torch.randn((1, *self.latents.shape[1:]), generator=g) for g in generators])
            self.noise = self.noise.to(device, dtype)

    @property
    def active(self) -> bool:
        """Whether any region waits (otherwise the call is every job's own schedule)."""
        return bool(self.held)

    def __call__(self, pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        waiting = [(item, mask) for item, wait, mask in self.held if step + 1 <= wait]  # its start is step `wait`
        order = int(getattr(pipe.scheduler, "order", 1))
        timesteps = pipe.scheduler.timesteps[len(pipe.scheduler.timesteps) - self.run * order:]
        if waiting and step + 1 < len(timesteps):
            latents = tensors["latents"]
            next_t = timesteps[step + 1].reshape(1)
            for item, mask in waiting:
                noised = pipe.scheduler.add_noise(self.latents[item:item + 1], self.noise[item:item + 1], next_t)
                latents[item:item + 1] = mask * noised.to(latents.dtype) + (1 - mask) * latents[item:item + 1]
            tensors["latents"] = latents
        return self.then(pipe, step, timestep, tensors) if self.then is not None else tensors
