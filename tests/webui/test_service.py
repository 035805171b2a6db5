"""The service: the offload setting reaches the pipeline, theme overrides, stages reused between runs."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import pytest
from modules import processing, shared

from alien_filters.core.pipeline import PipelineOptions, Stages
from alien_filters.core.run_options import with_overrides
from alien_filters.themes import get_theme
from alien_filters.webui.inpainter import WebUIInpainter
from alien_filters.webui.service import AlienService, RunOptions
from tests.support.doubles import ColourSegmenter, ColourTagger
from tests.support.rooms import room_image
from tests.webui.api_fixtures import b64_png, make_app


@dataclass
class ReleasableTagger(ColourTagger):
    released_before_inpaint: list = None

    def release(self) -> None:
        self.released_before_inpaint.append(len(processing.calls))


def test_offload_setting_releases_our_models_before_diffusion(tmp_path: Path):
    (tmp_path / "allowed").mkdir()
    make_app(tmp_path)
    log: list[int] = []
    built = []

    def factory(options, choices):
        built.append(options)
        return Stages(None, ReleasableTagger(released_before_inpaint=log), ColourSegmenter(), WebUIInpainter())

    service = AlienService(factory)
    image, _ = room_image(4, size=(160, 128), n_objects=2)
    data = [service.decode_upload("room.png", base64.b64decode(b64_png(image)))]
    run = RunOptions(theme=get_theme("alien"), options=PipelineOptions(restore=False))
    service.process_images(data, run)
    assert log == [0], "released once, before the first img2img call"
    shared.opts.set("alien_filters_offload", False)
    service.process_images(data, run)
    assert log == [0]
    service.process_images(data, run)
    assert len(built) == 2, "stages rebuilt only when the settings changed"


def test_overrides_win_over_theme_and_rules():
    theme = get_theme("alien")
    changed = with_overrides(theme, {"steps": 3, "denoising_strength": 0.5})
    assert all(changed.settings_for(rule).steps == 3 for rule in changed.rules)
    assert changed.hash() != theme.hash()
    assert with_overrides(theme, {}) is theme
    with pytest.raises(ValueError, match="unknown inpaint settings in overrides: colour"):
        with_overrides(theme, {"colour": 1})


def test_boxes_segmenter_switches_segmentation_off():
    from alien_filters.core.run_options import StageChoices

    run = RunOptions(theme=get_theme("alien"), choices=StageChoices(segmenter="boxes"))
    assert run.options.segment and not run.pipeline_options().segment
    sam = RunOptions(theme=get_theme("alien"))
    assert sam.pipeline_options() is sam.options
