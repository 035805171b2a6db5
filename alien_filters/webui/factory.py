"""The stages inside the WebUI: the WebUI's SwinIR and img2img, our tagger and segmenter (from the core)."""

from __future__ import annotations

import os
from pathlib import Path

from modules import paths_internal

from ..core.pipeline import PipelineOptions, Stages
from ..core.run_options import StageChoices
from ..models.device import pick_device
from ..models.download import download
from ..models.manager import ModelManager, hf_hub_cache
from ..stages.control_images import ModelControlImager
from ..stages.factory import build_stages
from . import runtime
from .captioner import WebUICaptioner
from .inpainter import WebUIInpainter
from .settings import AlienSettings, current
from .upscaler import WebUISwinIRRestorer


def search_dirs() -> dict[str, list[Path]]:
    """Where WebUI users keep models we can reuse: models/sam, models/SwinIR and the Hugging Face cache (the
    WebUI's HF_HOME or HF_HUB_CACHE, else the default one), searched before our own models folder."""
    models = Path(paths_internal.models_path)
    return {"sam": [models / "sam"], "SwinIR": [models / "SwinIR"], "transformers": [hf_hub_cache()]}


def download_with_progress(url: str, dest: Path, sha256: str | None, size: int | None,
                           progress: bool = True) -> Path:
    """The model manager's download, its progress also shown in the WebUI's progress text (the console gets tqdm)."""
    name = Path(dest).name
    return download(url, dest, sha256, size, progress,
                    on_progress=lambda done, total: runtime.report_download(name, done, total))


def build_webui_stages(options: PipelineOptions, choices: StageChoices | None = None,
                       settings: AlienSettings | None = None) -> Stages:
    """Stages for ``options``: the core builds tagger, segmenter and (setting ``restorer``: alien-swinir) our
    SwinIR; the WebUI's SwinIR (webui-swinir) and img2img take the other places; captions come from the WebUI's
    interrogator. Control images are ours (canny, and DPT depth located only when a depth unit asks for it); the
    WebUI's ControlNet runs the units."""
    settings = settings or current()
    choices = choices or StageChoices()
    runtime.wait_for_checkpoint_load()
    ours_restore = options.restore and settings.restorer == "alien-swinir"
    core_options = PipelineOptions(restore=ours_restore, tag=options.tag, segment=options.segment, inpaint=False,
                                   working_size=options.working_size, style_min_score=options.style_min_score)
    manager = ModelManager(Path(os.path.expanduser(settings.models_dir)), search_dirs(), allow_download=True,
                           downloader=download_with_progress)
    stages = build_stages(choices, core_options, device=settings.device, manager=manager)
    if options.caption and stages.tagger is not None:  # the WebUI's BLIP, not ours
        from ..stages.tagging import ObjectStyleTagger

        stages.tagger = ObjectStyleTagger(stages.tagger.detector, stages.tagger.style_scorer, WebUICaptioner())
    if options.restore and not ours_restore:
        stages.restorer = WebUISwinIRRestorer(settings.swinir_model or None)
    if options.inpaint:
        stages.inpainter = WebUIInpainter()
        stages.control = ModelControlImager(manager.ensure, str(pick_device(settings.device)),
                                            on_load=manager.record_load)
    return stages
