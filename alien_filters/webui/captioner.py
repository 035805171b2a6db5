"""Captions inside the WebUI from the WebUI's own interrogator (``shared.interrogator``, modules/interrogate.py).

Its BLIP (model_base_caption_capfilt_large.pth, downloaded and kept by the WebUI in models/BLIP) writes the caption.
``generate_caption`` needs ``load()`` first, which also puts the interrogator's CLIP on the device (it takes the
dtype from it); ``unload()`` sends both back to RAM afterwards (unless the WebUI's "keep models in memory" option
says otherwise; in Forge its memory manager decides). All of it under the queue lock.
"""

from __future__ import annotations

from modules import shared
from PIL import Image

from ..core.pipeline import StageMissing
from . import runtime


class CaptionerUnavailable(StageMissing):
    """The WebUI's interrogator could not load its models (offline first use, a damaged file): no image can be
    captioned, so a dataset report stops at once with this message instead of failing image after image."""


class WebUICaptioner:
    """A tagger's captioner (``ObjectStyleTagger(..., captioner=WebUICaptioner())``): one caption per image."""

    name = "webui-blip"

    def __call__(self, image: Image.Image) -> str:
        """The interrogator's BLIP caption of ``image``, whitespace collapsed to one line."""
        interrogator = shared.interrogator
        with runtime.session():
            try:
                interrogator.load()
            except Exception as exc:  # the WebUI's download or load error, in words
                raise CaptionerUnavailable(
                    "captions: the WebUI's interrogator could not load its BLIP and CLIP models "
                    f"({type(exc).__name__}: {exc}); switch Captions off to tag only") from exc
            try:
                caption = interrogator.generate_caption(image.convert("RGB"))
            finally:
                interrogator.unload()
        return " ".join(str(caption).split())
