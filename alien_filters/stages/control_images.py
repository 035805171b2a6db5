"""Control images for structure guidance: canny edges (no model, core.edges) and depth maps from DPT.

The depth map is made as ControlNet's own depth annotator makes it (MiDaS DPT-Hybrid): relative inverse depth
predicted at the processor's size, resized back to the image bicubically, scaled to 0-255 (nearest white) and
repeated over three channels. The DPT folder is Intel/dpt-hybrid-midas from the registry (``DPTForDepthEstimation``
and ``DPTImageProcessor``, which transformers 4.30.2, the WebUI's pin, and 4.46.1, Forge's, both load); it is
located (downloaded on first use) and loaded only when a depth unit needs it, then kept until :meth:`release`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from ..core.control import ControlSpec
from ..core.edges import canny_image
from ..core.errors import AlienFiltersError
from ..models import device as devices
from .hf_folders import load_model_and_processor

DEPTH_MODEL = "dpt_hybrid_midas"


class DepthEstimator:
    """DPT depth estimation: an RGB image in, ControlNet's depth control image (RGB, same size) out."""

    def __init__(self, model: torch.nn.Module, processor: Any, device: str = "cpu") -> None:
        self.model = model.eval()
        self.processor = processor
        self.device = torch.device(device)
        self.dtype = next(model.parameters()).dtype

    @classmethod
    def from_pretrained(cls, folder: Path, device: str = "cpu") -> DepthEstimator:
        """Load a DPT depth folder (what ``save_pretrained`` writes), with errors naming the folder."""
        from transformers import DPTForDepthEstimation, DPTImageProcessor

        model, processor = load_model_and_processor(folder, "dpt", DPTForDepthEstimation, DPTImageProcessor,
                                                    "DPT depth")
        return cls(model.to(device), processor, device)

    def __call__(self, image: Image.Image) -> Image.Image:
        self.model.to(self.device)  # back from an offload to the CPU (a no-op when it is there)
        inputs = self.processor(images=image.convert("RGB"), return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device, self.dtype)
        with torch.inference_mode():
            depth = self.model(pixel_values=pixels).predicted_depth  # (1, h, w)
            depth = torch.nn.functional.interpolate(depth[:, None].float(), size=(image.height, image.width),
                                                    mode="bicubic", align_corners=False)[0, 0]
        depth = depth - depth.min()
        top = float(depth.max())
        scaled = (depth / top * 255.0) if top > 0 else depth
        gray = scaled.clamp(0, 255).round().to(torch.uint8).cpu().numpy()
        return Image.fromarray(np.repeat(gray[..., None], 3, axis=-1), mode="RGB")

    def release(self, mode: str = "free") -> None:
        devices.release_model(self.model, self.device, mode)


class ModelControlImager:
    """The stand-alone control imager (see core.contracts.ControlImager): canny from core.edges, depth from DPT.

    ``depth_folder`` gives the DPT folder (the model manager's ``ensure``: downloaded on first use); ``on_load`` is
    called with :data:`DEPTH_MODEL` each time the depth model is loaded."""

    name = "canny+dpt"

    def __init__(self, depth_folder: Callable[[str], Path], device: str = "cpu",
                 on_load: Callable[[str], None] | None = None) -> None:
        self.depth_folder = depth_folder
        self.device = device
        self.on_load = on_load
        self._depth: DepthEstimator | None = None
        self._folder: Path | None = None
        self._failed: str | None = None

    def unavailable(self, spec: ControlSpec) -> str | None:
        """None when ``spec``'s control image can be made (the depth model is then on disk); else why not, the
        same answer every time (a unit that gets one runs without guidance, recorded)."""
        if spec.kind != "depth":
            return None
        if self._folder is None and self._failed is None:
            try:
                self._folder = self.depth_folder(DEPTH_MODEL)
            except (AlienFiltersError, OSError) as exc:  # downloads off, or the download failed
                self._failed = f"depth preprocessor {DEPTH_MODEL} unavailable: {exc}"
        return self._failed

    def control_image(self, image: Image.Image, spec: ControlSpec) -> Image.Image:
        if spec.kind == "canny":
            return canny_image(image, spec.canny_low, spec.canny_high)
        if spec.kind == "depth":
            return self.depth(image)
        raise ValueError(f"no preprocessor for control kind {spec.kind!r}")

    def depth(self, image: Image.Image) -> Image.Image:
        if self._depth is None:
            self._depth = DepthEstimator.from_pretrained(self._folder or self.depth_folder(DEPTH_MODEL), self.device)
            if self.on_load is not None:
                self.on_load(DEPTH_MODEL)
        return self._depth(image)

    def release(self) -> None:
        """The offload policy's ``cpu`` mode, as for SAM: the depth model moves to the CPU before diffusion and
        returns to its device for the next depth image."""
        if self._depth is not None:
            self._depth.release("cpu")
