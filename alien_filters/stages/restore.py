"""SwinIR restore stage: super-resolution through spandrel, then an exact resize to the working size.

Compute follows the working size: one model pass per image, with the smallest available scale that reaches
the target on both sides within ``SCALE_TOLERANCE`` (x2 when 2x is enough or nearly, rather than x4 followed by
a downscale, a quarter of the work), the rest by resize; an image already at least as large as the target
skips the model and is only resized.

Tiling: the input is cut into ``tile`` x ``tile`` pixel tiles that overlap by ``tile_overlap`` pixels
(the last row/column of tiles is shifted to end at the image border). Each upscaled tile gets a
weight that rises linearly from near 0 to 1 across the overlap on every side that borders another
tile (and is 1 elsewhere, including the image border); the output is the weighted average of the
tiles, so seams fade smoothly from one tile into the next and the size equals the untiled output.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

import numpy as np
import torch
from PIL import Image

from ..core.errors import AlienFiltersError
from ..models import device as devices
from ..models.device import pick_device, run_with_oom_fallback
from ..models.download import DownloadError

if TYPE_CHECKING:
    from spandrel import ImageModelDescriptor

    from ..models.manager import ModelManager

log = logging.getLogger(__name__)

MODEL_NAMES = {4: "swinir_x4", 2: "swinir_x2"}
MIN_TILE = 16  # spandrel's size requirement for SwinIR


class RestoreError(AlienFiltersError, RuntimeError):
    """A SwinIR weight file could not be used; the message names the file."""


SCALE_TOLERANCE = 0.1
"""A model scale counts as reaching the working size when it comes within this fraction of it on both sides (the
rest is a resize): a 250x350 photo at 2x is 500 px on the short side, 2.3% short of 512, and runs the light x2 model
rather than the x4 one (SwinIR-L, about twice the time)."""


def choose_scale(scales: list[int], image_size: tuple[int, int], target: tuple[int, int],
                 tolerance: float = SCALE_TOLERANCE) -> int | None:
    """The model scale to run for ``image_size`` -> ``target`` (both W, H), or None to skip the model.

    None when the image already covers the target; else the smallest scale reaching the target within
    ``tolerance`` on both sides; else the largest scale available (the rest is an upscale by resize).
    """
    (w, h), (tw, th) = image_size, target
    if w >= tw and h >= th:
        return None
    reach = 1.0 - tolerance
    reaching = [s for s in sorted(scales) if w * s >= tw * reach and h * s >= th * reach]
    return reaching[0] if reaching else max(scales)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` px overlapping by at least ``overlap`` px covering ``length``."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


def _ramp(length: int, ramp: int, ramp_start: bool, ramp_end: bool) -> torch.Tensor:
    weight = torch.ones(length)
    if ramp > 0:
        rise = torch.arange(1, ramp + 1, dtype=torch.float32) / (ramp + 1)
        if ramp_start:
            weight[:ramp] = torch.minimum(weight[:ramp], rise)
        if ramp_end:
            weight[-ramp:] = torch.minimum(weight[-ramp:], rise.flip(0))
    return weight


def run_tiled(
    model: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, scale: int, tile: int, overlap: int
) -> torch.Tensor:
    """Run ``model`` (N,C,H,W -> N,C,H*scale,W*scale) over overlapping tiles blended with linear ramps."""
    _, _, height, width = image.shape
    ys, xs = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    if len(ys) == 1 and len(xs) == 1:
        return model(image)
    out: torch.Tensor | None = None
    total = torch.zeros(1, 1, height * scale, width * scale, device=image.device)
    for y in ys:
        for x in xs:
            piece = model(image[:, :, y : y + tile, x : x + tile]).float()
            th, tw = piece.shape[-2:]
            wy = _ramp(th, overlap * scale, y > 0, y + tile < height)
            wx = _ramp(tw, overlap * scale, x > 0, x + tile < width)
            weight = (wy[:, None] * wx[None, :]).to(image.device)[None, None]
            if out is None:
                out = torch.zeros(1, piece.shape[1], height * scale, width * scale, device=image.device)
            region = (slice(None), slice(None), slice(y * scale, y * scale + th), slice(x * scale, x * scale + tw))
            out[region] += piece * weight
            total[region] += weight
    assert out is not None
    return (out / total).to(image.dtype)


class SwinIRRestorer:
    """Restorer protocol on SwinIR weights by scale (e.g. ``{2: x2_path, 4: x4_path}``).

    Each model is loaded once, lazily, on first use and kept across images; ``release()`` offloads
    them ('cpu', the default: they stay loaded) or frees them ('free'). A GPU out-of-memory error
    moves the stage to the CPU with a warning and retries once.
    """

    name = "swinir"

    def __init__(
        self,
        weights: Mapping[int, Path],
        device: str | torch.device = "cpu",
        tile: int = 0,
        tile_overlap: int = 16,
        half: bool = False,
        offload_mode: str = "cpu",
        on_load: Callable[[str], None] | None = None,
        scale_tolerance: float = SCALE_TOLERANCE,
    ) -> None:
        """``scale_tolerance``: how far short of the working size a model scale may fall and still be chosen
        (see :func:`choose_scale`)."""
        if not weights:
            raise ValueError("SwinIRRestorer needs at least one weight file (scale -> path)")
        if tile and (tile < MIN_TILE or not 0 <= tile_overlap < tile // 2):
            raise ValueError(
                f"tile must be 0 or >= {MIN_TILE} with tile_overlap in [0, tile/2); got tile={tile}, "
                f"tile_overlap={tile_overlap}"
            )
        self.weights = {int(scale): Path(path) for scale, path in weights.items()}
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.tile = tile
        self.tile_overlap = tile_overlap
        self.half = half
        self.offload_mode = offload_mode
        self.on_load = on_load
        self.scale_tolerance = scale_tolerance
        self._models: dict[int, ImageModelDescriptor] = {}

    @classmethod
    def from_manager(
        cls, manager: ModelManager, device: str | torch.device = "auto", use_x2: bool = True, **kwargs
    ) -> SwinIRRestorer:
        """Weights from the model manager: swinir_x4 (found or downloaded), plus swinir_x2 when available.

        A failed x2 download only logs a warning (x4 still covers every size).
        """
        weights = {4: manager.ensure(MODEL_NAMES[4])}
        if use_x2:
            try:
                weights[2] = manager.ensure(MODEL_NAMES[2])
            except DownloadError as exc:
                log.warning("SwinIR x2 unavailable, using x4 for every image: %s", exc)
        return cls(weights, device=device, on_load=manager.record_load, **kwargs)

    def restore(self, image: Image.Image, size: tuple[int, int]) -> Image.Image:
        """``image`` upscaled by SwinIR when needed and resized (LANCZOS) to exactly ``size`` (W, H), RGB."""
        rgb = image.convert("RGB")
        scale = choose_scale(list(self.weights), rgb.size, size, self.scale_tolerance)
        if scale is not None:
            rgb = run_with_oom_fallback(lambda: self._upscale(rgb, scale), on_oom=self._to_cpu, what="SwinIR restore")
        return rgb if rgb.size == tuple(size) else rgb.resize(tuple(size), Image.LANCZOS)

    def release(self) -> None:
        """Offload the loaded models ('cpu': kept on the CPU; 'free': dropped, reloaded when needed)."""
        for scale in list(self._models):
            if devices.release_model(self._models[scale].model, self.device, self.offload_mode) is None:
                del self._models[scale]

    def _upscale(self, image: Image.Image, scale: int) -> Image.Image:
        model = self._model(scale)
        array = np.asarray(image, dtype=np.float32) / 255.0
        tensor = torch.from_numpy(array).permute(2, 0, 1)[None].to(self.device, self._dtype(model))
        tile = self.tile or max(tensor.shape[-2:])
        with torch.inference_mode():
            output = run_tiled(model, tensor, scale, tile, self.tile_overlap if self.tile else 0)
        pixels = output[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
        return Image.fromarray(np.round(pixels * 255.0).astype(np.uint8), "RGB")

    def _model(self, scale: int) -> ImageModelDescriptor:
        model = self._models.get(scale)
        if model is None:
            model = self._load(scale)
            self._models[scale] = model
        return model.to(self.device).to(self._dtype(model))

    def _dtype(self, model: ImageModelDescriptor) -> torch.dtype:
        if not self.half or self.device.type != "cuda":
            return torch.float32
        if model.supports_half:
            return torch.float16
        if model.supports_bfloat16 and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32

    def _load(self, scale: int) -> ImageModelDescriptor:
        from spandrel import ImageModelDescriptor, ModelLoader

        path = self.weights[scale]
        if not path.is_file():
            raise RestoreError(f"SwinIR x{scale} weights not found: {path}")
        try:
            descriptor = ModelLoader().load_from_file(path)
        except Exception as exc:  # noqa: BLE001 - spandrel raises many types for unreadable files
            raise RestoreError(f"{path}: not a loadable SwinIR model ({type(exc).__name__}: {exc})") from None
        arch = descriptor.architecture.id
        if not isinstance(descriptor, ImageModelDescriptor) or arch != "SwinIR":
            raise RestoreError(f"{path}: expected a SwinIR model, found a {arch} model")
        if descriptor.scale != scale:
            raise RestoreError(f"{path}: is a x{descriptor.scale} SwinIR model but was given as the x{scale} weights")
        if self.on_load is not None:
            self.on_load(MODEL_NAMES.get(scale, f"swinir_x{scale}"))
        log.info("loaded SwinIR x%d from %s", scale, path)
        return descriptor.eval()

    def _to_cpu(self) -> None:
        self.device = torch.device("cpu")
        for model in self._models.values():
            model.to(self.device).to(torch.float32)

