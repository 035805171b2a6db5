"""Device and precision choice, the one offload policy every stage follows, and a CPU fallback on GPU OOM.

The policy: when a stage's work for an image is done (before diffusion, see ``Pipeline.offload_before_inpaint``)
its ``release()`` hands each model to :func:`release_model` with the stage's mode: ``cpu`` (the default for our
detection, segmentation and restore models: moved to the CPU, back on next use), ``free`` (weights dropped and
loaded again when needed: the diffusers pipeline, whose weights are the largest) or ``none``.
"""

from __future__ import annotations

import gc
import logging
from typing import Callable, TypeVar

import torch

from ..core.errors import AlienFiltersError

log = logging.getLogger(__name__)

T = TypeVar("T")
OFFLOAD_MODES = ("cpu", "free", "none")


class DeviceError(AlienFiltersError, ValueError):
    """A requested device does not exist on this machine."""


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def pick_device(requested: str = "auto") -> torch.device:
    """'auto' picks cuda, then mps, then cpu; 'cuda', 'cuda:N', 'mps' or 'cpu' must exist."""
    name = (requested or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device {requested!r}; use auto, cuda, cuda:N, mps or cpu") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {requested!r} was requested but this torch build sees no CUDA GPU")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"device {requested!r} was requested but only {torch.cuda.device_count()} GPU(s) exist")
    elif device.type == "mps":
        if not _mps_available():
            raise DeviceError(f"device {requested!r} was requested but Apple MPS is not available")
    elif device.type != "cpu":
        raise DeviceError(f"unsupported device {requested!r}; use auto, cuda, cuda:N, mps or cpu")
    return device


def pick_dtype(device: torch.device, half: bool) -> torch.dtype:
    """float16 when ``half`` is asked for on a CUDA device, else float32."""
    return torch.float16 if half and torch.device(device).type == "cuda" else torch.float32


def empty_cache() -> None:
    """Return cached GPU memory to the driver (no-op on CPU)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if _mps_available() and hasattr(torch, "mps"):
        torch.mps.empty_cache()


def offload(module: torch.nn.Module, mode: str) -> torch.nn.Module | None:
    """Move a finished stage's model out of GPU memory.

    'cpu' moves it to the CPU and returns it (it stays loaded); 'free' releases its weights (moved
    to the meta device, so they are freed even if something else still holds the module) and returns
    None, so the caller drops it and loads again when needed; 'none' leaves it where it is.
    """
    if mode not in OFFLOAD_MODES:
        raise ValueError(f"offload mode must be one of {OFFLOAD_MODES}, got {mode!r}")
    if mode == "none":
        return module
    if mode == "cpu":
        module.to("cpu")
        empty_cache()
        return module
    module.to("meta")
    empty_cache()
    return None


def release_model(module: torch.nn.Module, device: str | torch.device, mode: str) -> torch.nn.Module | None:
    """Apply the offload policy to a stage's model on ``device``: returns the module to keep, or None once freed.

    A model already on the CPU has nothing to move under ``cpu``; ``free`` frees it wherever it is.
    """
    if mode not in OFFLOAD_MODES:
        raise ValueError(f"offload mode must be one of {OFFLOAD_MODES}, got {mode!r}")
    if mode == "none" or (mode == "cpu" and torch.device(device).type == "cpu"):
        return module
    return offload(module, mode)


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA/MPS out-of-memory errors (``torch.cuda.OutOfMemoryError`` or their RuntimeError text)."""
    oom_type = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def run_with_oom_fallback(fn: Callable[[], T], *, on_oom: Callable[[], None], what: str = "stage") -> T:
    """Run ``fn``; if it runs out of GPU memory, log a warning, call ``on_oom`` (move to CPU) and retry once."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - only out-of-memory errors are handled, the rest re-raised
        if not is_out_of_memory(exc):
            raise
        log.warning("%s ran out of GPU memory (%s); moving it to the CPU and retrying once", what, exc)
    empty_cache()
    on_oom()
    return fn()
