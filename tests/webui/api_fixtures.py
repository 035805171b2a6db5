"""An /alien app over the stand-in WebUI: colour-reading tagger/segmenter doubles, the real WebUI inpainter."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from fastapi import FastAPI
from modules import shared
from PIL import Image

from alien_filters.core.pipeline import Stages
from alien_filters.webui import api, settings
from alien_filters.webui.inpainter import WebUIInpainter
from alien_filters.webui.service import AlienService
from tests.support.doubles import ColourSegmenter, ColourTagger, ResizeRestorer


def double_stages(options, choices) -> Stages:
    """The stages a run gets: doubles for our models, the WebUI img2img inpainter for diffusion."""
    return Stages(
        restorer=ResizeRestorer() if options.restore else None,
        tagger=ColourTagger() if options.tag else None,
        segmenter=ColourSegmenter() if options.segment else None,
        inpainter=WebUIInpainter() if options.inpaint else None,
    )


def make_app(root: Path, max_mb: int = 4) -> tuple[FastAPI, AlienService]:
    """The app with our routes, settings registered like the WebUI does, roots = ``root``."""
    settings.on_ui_settings()
    shared.opts.set("alien_filters_allowed_roots", str(root / "allowed"))
    shared.opts.set("alien_filters_output_dir", str(root / "allowed" / "out"))
    shared.opts.set("alien_filters_themes_dir", str(root / "themes"))
    shared.opts.set("alien_filters_max_request_mb", max_mb)
    service = AlienService(double_stages)
    app = FastAPI()
    api.AlienApi(service, lambda: api.parse_credentials(shared.cmd_opts.api_auth)).register(app)
    return app, service


def b64_png(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB"))
