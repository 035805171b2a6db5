"""The WebUI's own SwinIR upscaler (built-in SwinIR extension) as our Restorer."""

from __future__ import annotations

import os

from modules import shared
from PIL import Image

from ..core.contracts import ResizedInstead
from ..core.errors import AlienFiltersError
from . import runtime

SWINIR_CLASS = "UpscalerSwinIR"


class NoSwinIRUpscaler(AlienFiltersError, RuntimeError):
    """The WebUI lists no SwinIR upscaler (the built-in SwinIR extension is disabled or missing)."""


def swinir_upscalers() -> list:
    """The WebUI's SwinIR entries (``shared.sd_upscalers``), matched by scaler class, not display name."""
    return [u for u in shared.sd_upscalers if type(u.scaler).__name__ == SWINIR_CLASS]


class WebUISwinIRRestorer:
    """Restorer (see :class:`alien_filters.stages.Restorer`) that upscales with the WebUI's SwinIR.

    ``model`` picks an entry by name or file stem; by default a locally present model file wins over the
    download URL entry. The upscale runs in a WebUI session (queue lock, state), then the result is resized
    to the exact working size.
    """

    def __init__(self, model: str | None = None) -> None:
        self.model = model or None

    def upscaler(self):
        """The chosen ``UpscalerData``; NoSwinIRUpscaler if the WebUI has none."""
        found = swinir_upscalers()
        if not found:
            raise NoSwinIRUpscaler("the WebUI has no SwinIR upscaler: enable the built-in 'SwinIR' extension "
                                   "(Extensions tab) or switch the restore stage off")
        if self.model:
            for u in found:
                if self.model in (u.name, os.path.splitext(os.path.basename(str(u.data_path)))[0]):
                    return u
            names = ", ".join(u.name for u in found)
            raise NoSwinIRUpscaler(f"SwinIR model {self.model!r} not found; the WebUI has: {names}")
        local = [u for u in found if u.data_path and os.path.isfile(str(u.data_path))]
        return (local or found)[0]

    @property
    def name(self) -> str:
        try:
            return f"webui-swinir:{self.upscaler().name}"
        except NoSwinIRUpscaler:
            return "webui-swinir:missing"

    def restore(self, image: Image.Image, size: tuple[int, int]) -> Image.Image | ResizedInstead:
        """``image`` upscaled by ONE pass of the WebUI's SwinIR, then resized to exactly ``size`` (width, height).

        The upscaler's own ``upscale`` loop would run the model again whenever one pass falls short of the
        target by any margin (a x2 model asked for 2.048x runs twice, 4x the work, then downsizes): the one
        ``do_upscale`` pass and a LANCZOS resize cover the rest. When the WebUI cannot load the model, its
        ``do_upscale`` prints "Failed loading SwinIR model" and hands the image back unscaled: that is answered as
        :class:`ResizedInstead`, never as a restore."""
        width, height = size
        rgb = image.convert("RGB")
        scale = max(width / rgb.width, height / rgb.height)
        if scale <= 1.0:
            return rgb.resize(size, Image.LANCZOS)
        entry = self.upscaler()
        with runtime.session():
            shared.state.textinfo = f"Alien Filters: restoring with {entry.name}"
            entry.scaler.scale = scale  # what upscale() sets before its passes
            upscaled = entry.scaler.do_upscale(rgb, entry.data_path)
        upscaled = upscaled.convert("RGB")
        resized = upscaled if upscaled.size == size else upscaled.resize(size, Image.LANCZOS)
        if upscaled.size == rgb.size:
            return ResizedInstead(resized, f"the WebUI's {entry.name} did not run: it could not load "
                                           f"{entry.data_path} (the WebUI's console says why)")
        return resized
