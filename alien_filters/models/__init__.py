"""Model registry, downloads, lookup and device handling shared by the real stages."""

from .device import DeviceError, offload, pick_device, pick_dtype, run_with_oom_fallback
from .download import DownloadError, download
from .manager import ModelManager, ModelMissingError, default_models_dir, hf_hub_cache
from .registry import REGISTRY, ModelSpec, RemoteFile, get_spec, specs_for_stage

__all__ = [
    "REGISTRY",
    "DeviceError",
    "DownloadError",
    "ModelManager",
    "ModelMissingError",
    "ModelSpec",
    "RemoteFile",
    "default_models_dir",
    "download",
    "get_spec",
    "hf_hub_cache",
    "offload",
    "pick_device",
    "pick_dtype",
    "run_with_oom_fallback",
    "specs_for_stage",
]
