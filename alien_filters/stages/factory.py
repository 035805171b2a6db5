"""Builds the stand-alone stages (spandrel SwinIR, OWL-ViT/OWLv2 + CLIP, SAM, diffusers) from the model manager."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

from ..core.contracts import InterruptCheck
from ..core.pipeline import PipelineOptions, StageMissing, Stages
from ..core.run_options import StageChoices
from ..core.vocabulary import Vocabulary, load_vocabulary

if TYPE_CHECKING:
    from ..models.manager import ModelManager
    from .tagging import ObjectStyleTagger

DETECTOR_MODELS = {"owlvit": "owlvit_base", "owlv2": "owlv2_base"}
STYLE_MODEL = "clip_vit_b32"
CAPTION_MODEL = "blip_base"


def detector_model(choices: StageChoices) -> str:
    """The registry name of the detector ``choices`` ask for; auto: OWLv2 when the installed transformers has it
    (>= 4.35, e.g. Forge), else OWL-ViT (WebUI 1.10). StageMissing for OWLv2 on an older transformers, before
    anything is downloaded."""
    import transformers

    kind = choices.detector
    has_owlv2 = hasattr(transformers, "Owlv2ForObjectDetection")
    if kind == "auto":
        kind = "owlv2" if has_owlv2 else "owlvit"
    elif kind == "owlv2" and not has_owlv2:
        raise StageMissing(f"detector 'owlv2' needs transformers >= 4.35, this one is {transformers.__version__}; "
                           "choose owlvit or auto")
    return DETECTOR_MODELS[kind]


def make_manager(models_dir: Path | None, allow_download: bool = True,
                 search_dirs: Mapping[str, Sequence[Path]] | None = None) -> ModelManager:
    """The model manager for ``models_dir`` (default: $ALIEN_FILTERS_MODELS_DIR or ~/.cache/alien-filters/models)."""
    from ..models.manager import ModelManager, default_models_dir

    return ModelManager(models_dir or default_models_dir(), search_dirs or {}, allow_download=allow_download)


def build_tagger(manager: ModelManager, choices: StageChoices, device: str,
                 vocabulary: Vocabulary | None = None, captions: bool = False) -> ObjectStyleTagger:
    """OWL detector + CLIP style scorer over the vocabulary, loaded once; ``captions``: with the BLIP captioner
    (downloaded on first use like the others)."""
    from .tagging import ObjectStyleTagger

    vocabulary = vocabulary or load_vocabulary()
    detector_name = detector_model(choices)
    tagger = ObjectStyleTagger.from_folders(
        manager.ensure(detector_name),
        vocabulary.queries(),
        clip_folder=manager.ensure(STYLE_MODEL),
        styles=vocabulary.style_prompts(),
        thresholds=vocabulary.thresholds(),
        device=device,
        caption_folder=manager.ensure(CAPTION_MODEL) if captions else None,
    )
    for name in (detector_name, STYLE_MODEL, *((CAPTION_MODEL,) if captions else ())):
        manager.record_load(name)
    return tagger


def build_stages(
    choices: StageChoices,
    options: PipelineOptions,
    *,
    models_dir: Path | None = None,
    device: str = "auto",
    checkpoint: Path | None = None,
    checkpoint_config: Path | None = None,
    allow_download: bool = True,
    manager: ModelManager | None = None,
    interrupted: InterruptCheck | None = None,
) -> Stages:
    """The stand-alone stages that ``options`` switches on; raises StageMissing when one cannot be had.
    ``interrupted`` is checked by the inpainter between diffusion steps (a stop then ends the job at once)."""
    from ..models.device import pick_device
    from .control_images import ModelControlImager
    from .controlnet import ControlNets
    from .inpaint_diffusers import DiffusersInpainter
    from .restore import SwinIRRestorer
    from .segment import SamSegmenter

    if options.inpaint and checkpoint is None:
        raise StageMissing("inpaint needs a Stable Diffusion inpainting model: pass --checkpoint PATH "
                           "(a .safetensors/.ckpt file or a diffusers folder), or use --dry-run")
    if options.inpaint and not checkpoint.exists():  # type: ignore[union-attr]
        raise StageMissing(f"{checkpoint}: checkpoint not found")
    manager = manager or make_manager(models_dir, allow_download)
    torch_device = str(pick_device(device))
    stages = Stages()
    if options.restore and choices.restorer == "swinir":
        stages.restorer = SwinIRRestorer.from_manager(manager, torch_device, tile=choices.tile)
    if options.tag:
        stages.tagger = build_tagger(manager, choices, torch_device, captions=options.caption)
    if options.segment and choices.segmenter != "boxes":
        labeler = getattr(stages.tagger, "style_scorer", None)
        stages.segmenter = SamSegmenter(manager.ensure(choices.segmenter), choices.segmenter.removeprefix("sam_"),
                                        torch_device, labeler=labeler, on_load=manager.record_load)
    if options.inpaint:  # ControlNets and the depth model are located (downloaded) only when a job asks for them
        controlnets = ControlNets(manager.ensure, torch_device, on_load=manager.record_load)
        stages.inpainter = DiffusersInpainter(checkpoint, device=torch_device,  # type: ignore[arg-type]
                                              config_dir=checkpoint_config, on_load=manager.record_load,
                                              interrupted=interrupted, controlnets=controlnets)
        stages.control = ModelControlImager(manager.ensure, torch_device, on_load=manager.record_load)
    return stages
