"""Device choice, precision, offloading and the CPU fallback after a GPU out-of-memory error."""

from __future__ import annotations

import logging

import pytest
import torch

from alien_filters.models import device as dev
from alien_filters.models.device import (
    DeviceError,
    is_out_of_memory,
    offload,
    pick_device,
    pick_dtype,
    release_model,
    run_with_oom_fallback,
)


def test_cpu_is_always_available() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(" CPU ") == torch.device("cpu")


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    assert pick_device("auto") == torch.device("cpu")
    monkeypatch.setattr(dev, "_mps_available", lambda: True)
    assert pick_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == torch.device("cuda")


def test_unavailable_or_unknown_devices_are_clear_errors(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    with pytest.raises(DeviceError, match="'cuda' was requested"):
        pick_device("cuda")
    with pytest.raises(DeviceError, match="MPS"):
        pick_device("mps")
    with pytest.raises(DeviceError, match="unknown device 'gpu0'"):
        pick_device("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert pick_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(DeviceError, match="only 1 GPU"):
        pick_device("cuda:3")


def test_half_precision_only_on_cuda() -> None:
    assert pick_dtype(torch.device("cuda"), half=True) == torch.float16
    assert pick_dtype(torch.device("cuda"), half=False) == torch.float32
    assert pick_dtype(torch.device("cpu"), half=True) == torch.float32
    assert pick_dtype(torch.device("mps"), half=True) == torch.float32


def test_offload_modes() -> None:
    module = torch.nn.Linear(4, 4)
    assert offload(module, "none") is module
    assert offload(module, "cpu") is module and module.weight.device.type == "cpu"
    assert module(torch.ones(1, 4)).shape == (1, 4)  # still usable
    assert offload(module, "free") is None
    assert module.weight.is_meta  # storage released even though the test still holds the module
    with pytest.raises(ValueError, match="offload mode"):
        offload(torch.nn.Linear(1, 1), "disk")


def test_release_model_is_the_policy_per_device(monkeypatch) -> None:
    moved: list[str] = []
    monkeypatch.setattr(dev, "offload", lambda module, mode: moved.append(mode) or (None if mode == "free" else module))
    module = torch.nn.Linear(2, 2)
    assert release_model(module, "cpu", "cpu") is module and moved == [], "nothing to move off the CPU"
    assert release_model(module, "cpu", "none") is module and moved == []
    assert release_model(module, "cpu", "free") is None and moved == ["free"], "free frees on the CPU too"
    assert release_model(module, "cuda:0", "cpu") is module and moved == ["free", "cpu"]
    with pytest.raises(ValueError, match="offload mode"):
        release_model(module, "cuda", "disk")


class FakeGpuStage:
    """A stage whose 'GPU' has too little memory: running on cuda raises what torch raises."""

    def __init__(self, error: Exception) -> None:
        self.device = "cuda"
        self.error = error
        self.runs: list[str] = []

    def run(self) -> str:
        self.runs.append(self.device)
        if self.device == "cuda":
            raise self.error
        return f"done on {self.device}"

    def to_cpu(self) -> None:
        self.device = "cpu"


@pytest.mark.parametrize(
    "error",
    [torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
     RuntimeError("MPS backend out of memory (MPS allocated: 8 GB)")],
    ids=["cuda-oom", "runtime-oom"],
)
def test_oom_moves_to_cpu_and_retries_once(error: Exception, caplog) -> None:
    stage = FakeGpuStage(error)
    with caplog.at_level(logging.WARNING):
        result = run_with_oom_fallback(stage.run, on_oom=stage.to_cpu, what="segment")
    assert result == "done on cpu"
    assert stage.runs == ["cuda", "cpu"]
    assert "segment ran out of GPU memory" in caplog.text and "CPU" in caplog.text


def test_other_errors_are_not_retried() -> None:
    stage = FakeGpuStage(ValueError("bad input"))
    with pytest.raises(ValueError, match="bad input"):
        run_with_oom_fallback(stage.run, on_oom=stage.to_cpu)
    assert stage.runs == ["cuda"]


def test_oom_on_the_retry_propagates() -> None:
    runs = []

    def always_oom() -> None:
        runs.append(1)
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(torch.cuda.OutOfMemoryError):
        run_with_oom_fallback(always_oom, on_oom=lambda: None)
    assert len(runs) == 2


def test_is_out_of_memory() -> None:
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("x"))
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(MemoryError())
