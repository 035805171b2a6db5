"""A ControlNet unit inside a regional call: its residuals act where its jobs are, not inside the others' masks.

A regional call (``core.call_groups``) may hold jobs with one ControlNet unit and jobs without. The unit's control
image covers the call's whole crop, and the residuals the ControlNet adds to the UNet are weighted per pixel by one
minus the masks of the jobs without the unit (area-averaged to each residual's resolution): full strength inside its
own jobs and in the shared context, none inside the other jobs' masks. This is sd-webui-controlnet's "effective
region mask", applied to diffusers' ControlNet as a forward hook. A call whose jobs all have the unit gets weight one
everywhere, which is exactly the unit's own call.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..core.call_groups import InpaintCall
from ..core.control import ControlSpec


def call_unit(call: InpaintCall) -> ControlSpec | None:
    """The call's ControlNet unit: the one its jobs with a unit share (``core.call_groups`` merges no two units)."""
    units = {job.control for job in call.jobs if job.control is not None}
    if len(units) > 1:
        raise ValueError(f"a call holds {len(units)} different ControlNet units; it can run one")
    return next(iter(units), None)


def unit_weights(call: InpaintCall, region_masks: np.ndarray) -> np.ndarray:
    """(latent H, latent W): one minus the region masks (as ``batched_inpaint.region_masks`` gives them, one per
    job) of the jobs without the call's unit."""
    others = [mask for job, mask in zip(call.jobs, region_masks, strict=True) if job.control is None]
    if not others:
        return np.ones(region_masks.shape[1:], dtype=np.float32)
    return np.clip(1.0 - np.sum(others, axis=0), 0.0, 1.0).astype(np.float32)


@contextmanager
def masked_residuals(controlnet: Any, weights: torch.Tensor) -> Iterator[None]:
    """Within the block, every residual ``controlnet`` returns is multiplied by ``weights`` ((H, W) in latent
    pixels, area-averaged to the residual's size); the hook is removed after."""
    grid = weights.float()[None, None]

    def scaled(residual: torch.Tensor) -> torch.Tensor:
        return residual * F.adaptive_avg_pool2d(grid, residual.shape[-2:]).to(residual.device, residual.dtype)

    def hook(module: Any, args: Any, output: Any) -> tuple[Sequence[torch.Tensor], torch.Tensor]:
        if not isinstance(output, tuple) or len(output) != 2:
            raise ValueError("expected the ControlNet's (down residuals, mid residual) of return_dict=False")
        down, mid = output
        return tuple(scaled(residual) for residual in down), scaled(mid)

    handle = controlnet.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()
