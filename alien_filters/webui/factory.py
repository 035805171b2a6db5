"""The stages inside the WebUI: the WebUI's SwinIR and img2img, our tagger and segmenter (from the core)."""

from __future__ import annotations

import os
from pathlib import Path

from modules import paths_internal

from ..core.pipeline import PipelineOptions, Stages
from ..core.run_options import StageChoices
from ..models.manager import hf_hub_cache
from ..stages.factory import build_stages, make_manager
from . import runtime
from .inpainter import WebUIInpainter
from .settings import AlienSettings, current
from .upscaler import WebUISwinIRRestorer


def search_dirs() -> dict[str, list[Path]]:
    """Where WebUI users keep models we can reuse: models/sam, models/SwinIR and the Hugging Face cache (the
    WebUI's HF_HOME or HF_HUB_CACHE, else the default one), searched before our own models folder."""
    models = Path(paths_internal.models_path)
    return {"sam": [models / "sam"], "SwinIR": [models / "SwinIR"], "transformers": [hf_hub_cache()]}


def build_webui_stages(options: PipelineOptions, choices: StageChoices | None = None,
                       settings: AlienSettings | None = None) -> Stages:
    """Stages for ``options``: the core builds tagger and segmenter (restorer and inpainter left out), then the
    WebUI's SwinIR and img2img take their places."""
    settings = settings or current()
    choices = choices or StageChoices()
    runtime.wait_for_checkpoint_load()
    core_options = PipelineOptions(restore=False, tag=options.tag, segment=options.segment, inpaint=False,
                                   working_size=options.working_size, style_min_score=options.style_min_score)
    manager = make_manager(Path(os.path.expanduser(settings.models_dir)), allow_download=True,
                           search_dirs=search_dirs())
    stages = build_stages(choices, core_options, device=settings.device, manager=manager)
    if options.restore:
        stages.restorer = WebUISwinIRRestorer(settings.swinir_model or None)
    if options.inpaint:
        stages.inpainter = WebUIInpainter()
    return stages
