"""Measuring tools: time inside model forward passes (global torch module hooks), peak RSS, machine facts."""

from __future__ import annotations

import functools
import os
import platform
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

import torch
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook


class ForwardTimer:
    """Seconds spent inside ``torch.nn.Module`` calls, per bucket (e.g. 'image 0/segment').

    Every module call in the process is hooked while the timer is active; only the outermost call of a nest
    is timed, so a model's submodules are not counted twice. :meth:`wrap` adds model work that is not a module
    call (e.g. SAM's mask upscaling method).
    """

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.bucket = "outside"
        self._depth = 0
        self._start = 0.0
        self._handles: list[Any] = []

    def __enter__(self) -> ForwardTimer:
        self._handles = [register_module_forward_pre_hook(self._enter),
                         register_module_forward_hook(self._leave, always_call=True)]
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _enter(self, *_: Any) -> None:
        if self._depth == 0:
            self._start = time.perf_counter()
        self._depth += 1

    def _leave(self, *_: Any) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.seconds[self.bucket] += time.perf_counter() - self._start

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function`` timed as model work (nested module calls inside it are not counted twice)."""

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._enter()
            try:
                return function(*args, **kwargs)
            finally:
                self._leave()

        return timed

    def total(self, prefix: str = "") -> float:
        """Seconds over every bucket whose name starts with ``prefix``."""
        return sum(v for k, v in self.seconds.items() if k.startswith(prefix))


class PeakRss:
    """Peak resident memory between marks (Linux: VmHWM, reset through /proc/self/clear_refs).

    Where the peak cannot be reset, every reading is the process's peak so far (``resettable`` is False).
    """

    def __init__(self) -> None:
        self.resettable = self._reset()

    @staticmethod
    def _reset() -> bool:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def read_and_reset(self) -> float:
        """Peak RSS in MiB since the last call; then starts a new window."""
        peak = _vm_hwm_mib()
        if peak is None:
            scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20
        if self.resettable:
            self._reset()
        return peak


def _vm_hwm_mib() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def machine_info(device: str) -> dict[str, Any]:
    """CPU model, cores, RAM, load average, torch version and device: what the numbers must be read against."""
    cpu = platform.processor() or platform.machine()
    ram_gib = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        ram_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (OSError, ValueError, AttributeError):
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "ram_gib": ram_gib,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return info


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (OSError, AttributeError):
        return None
