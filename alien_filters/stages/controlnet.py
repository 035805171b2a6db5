"""ControlNet models for the stand-alone inpainter: located once each (the registry's, downloaded on first use, or a
user's diffusers folder), loaded once, and run through ``StableDiffusionControlNetInpaintPipeline.from_pipe`` over
the inpainting pipeline already loaded, so the checkpoint's UNet, VAE and text encoder are shared, never loaded
twice.

A unit whose model cannot be had (unknown name, downloads off, a failed download or load) is reported by
:meth:`ControlNets.unavailable` once and remembered: its jobs run without guidance and the manifest says why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PIL import Image

from ..core.compositing import Box
from ..core.control import ControlSpec, model_stem
from ..core.errors import AlienFiltersError
from ..models import device as devices

FP16_WEIGHTS = "diffusion_pytorch_model.fp16.safetensors"
PLAIN_WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")


class ControlNetLoadError(AlienFiltersError, OSError):
    """A ControlNet folder that cannot be loaded; the message names the folder."""


def control_kwargs(spec: ControlSpec, control_image: Image.Image, crop_box: Box,
                   size: tuple[int, int]) -> dict[str, Any]:
    """The ControlNet arguments of one diffusers call for ``spec``: the whole-image ``control_image`` cropped to
    ``crop_box`` (the box the image was cropped with) at the call's ``size``, and the unit's weight and window."""
    crop = control_image.crop(crop_box)
    if crop.size != size:
        crop = crop.resize(size, Image.BILINEAR)
    return {"control_image": crop, "controlnet_conditioning_scale": float(spec.weight),
            "control_guidance_start": float(spec.guidance_start), "control_guidance_end": float(spec.guidance_end)}


def unit_infotext(spec: ControlSpec) -> str:
    """A unit as the ControlNet extension writes it into the infotext (``ControlNet 0: "Module: ..., ..."``): the
    preprocessor, model, weight, canny thresholds and guidance window."""
    module = "canny" if spec.kind == "canny" else "depth_midas"
    parts = [f"Module: {module}", f"Model: {spec.model}", f"Weight: {spec.weight:g}"]
    if spec.kind == "canny":
        parts += [f"Threshold A: {spec.canny_low}", f"Threshold B: {spec.canny_high}"]
    parts += [f"Guidance Start: {spec.guidance_start:g}", f"Guidance End: {spec.guidance_end:g}"]
    return ", ".join(parts)


class ControlNets:
    """The ControlNet models of a run. ``locate(name)`` returns the folder of a registry model (the manager's
    ``ensure``: it may download); a ``spec.model`` that is an existing folder is used as it is."""

    def __init__(self, locate: Callable[[str], Path], device: str = "cpu",
                 on_load: Callable[[str], None] | None = None) -> None:
        self.locate = locate
        self.device = device
        self.on_load = on_load
        self._folders: dict[str, Path] = {}
        self._failed: dict[str, str] = {}
        self._models: dict[str, Any] = {}
        self._pipes: dict[tuple[int, str], Any] = {}

    def unavailable(self, spec: ControlSpec) -> str | None:
        """None when ``spec.model`` can be had (it is then on disk); else why not, the same answer every time."""
        name = spec.model
        if name in self._failed:
            return self._failed[name]
        if name in self._folders:
            return None
        try:
            own = Path(name).expanduser()
            self._folders[name] = own if own.is_dir() else self.locate(model_stem(name))
        except KeyError:
            self._failed[name] = (f"ControlNet model {name!r} is neither a registry model (control_v11p_sd15_canny, "
                                  "control_v11f1p_sd15_depth) nor a diffusers folder")
        except (AlienFiltersError, OSError) as exc:  # downloads off, or the download failed
            self._failed[name] = f"ControlNet model {name!r} unavailable: {exc}"
        return self._failed.get(name)

    def model(self, spec: ControlSpec, dtype: Any) -> Any:
        """The loaded ``ControlNetModel`` of ``spec`` (loaded once, on ``device`` in ``dtype``)."""
        name = spec.model
        if name not in self._models:
            reason = self.unavailable(spec)
            if reason is not None:
                raise ControlNetLoadError(reason)
            self._models[name] = _load(self._folders[name], dtype).to(self.device)
            if self.on_load is not None:
                self.on_load(name)
        return self._models[name]

    def pipeline(self, base: Any, spec: ControlSpec) -> Any:
        """A ControlNet inpainting pipeline over ``base``'s components with ``spec``'s model (made once per model)."""
        from diffusers import StableDiffusionControlNetInpaintPipeline

        key = (id(base), spec.model)
        if key not in self._pipes:
            controlnet = self.model(spec, base.unet.dtype)
            pipe = StableDiffusionControlNetInpaintPipeline.from_pipe(base, controlnet=controlnet)
            pipe.set_progress_bar_config(disable=True)
            self._pipes[key] = pipe
        return self._pipes[key]

    def release(self) -> None:
        """Free every loaded ControlNet (the offload policy's ``free``) and forget the pipelines over them."""
        for model in self._models.values():
            devices.release_model(model, self.device, "free")
        self._models.clear()
        self._pipes.clear()


def _load(folder: Path, dtype: Any) -> Any:
    from diffusers import ControlNetModel

    has = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    variant = "fp16" if FP16_WEIGHTS in has and not has & set(PLAIN_WEIGHTS) else None
    try:
        return ControlNetModel.from_pretrained(str(folder), torch_dtype=dtype, variant=variant, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - every load failure becomes one clear error naming the folder
        raise ControlNetLoadError(f"{folder}: cannot load the ControlNet: {exc}") from exc
