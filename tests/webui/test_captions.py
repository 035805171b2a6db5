"""Captions inside the WebUI: the WebUI's own interrogator (shared.interrogator, real names) under the queue lock,
released afterwards; the tab's Captions switch, its Preview and selected result; the API's ``captions`` field."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from fastapi.testclient import TestClient
from modules import call_queue, devices, interrogate, shared
from PIL import Image

from alien_filters.core.pipeline import PipelineOptions
from alien_filters.core.run_options import StageChoices
from alien_filters.webui import factory, runtime
from alien_filters.webui.captioner import CaptionerUnavailable, WebUICaptioner
from alien_filters.webui.service import AlienService
from alien_filters.webui.ui import STAGES, TabActions
from tests.support.builders_detectors import CLIP_DIR, OWLVIT_DIR, write_clip, write_owlvit
from tests.support.doubles import ColourTagger
from tests.support.rooms import write_rooms
from tests.webui.api_fixtures import b64_png, double_stages, make_app
from tests.webui.test_default_pipeline import refuse_downloads, settings_for, webui_models  # noqa: F401


@pytest.fixture(autouse=True)
def fresh_interrogator():
    interrogate.calls.clear()
    shared.interrogator = interrogate.InterrogateModels("interrogate")


@dataclasses.dataclass
class CaptioningColourTagger(ColourTagger):
    """The colour double with the WebUI's captioner, as build_webui_stages gives the real tagger one."""

    name: str = "colour-tagger-double+webui-blip"
    captioner: Any = dataclasses.field(default_factory=WebUICaptioner)

    def tag(self, image):
        return dataclasses.replace(super().tag(image), caption=self.captioner(image))


def captioning_stages(options, choices):
    stages = double_stages(options, choices)
    if options.caption and options.tag:
        stages.tagger = CaptioningColourTagger()
    return stages


def test_the_caption_comes_from_the_interrogator_under_the_queue_lock_and_its_models_go_back(monkeypatch):
    seen = []
    real = interrogate.InterrogateModels.generate_caption

    def watched(self, pil_image):
        seen.append((runtime.in_session(), call_queue.queue_lock._lock.locked(), pil_image.mode))
        return real(self, pil_image) + "\n  with a second line "

    monkeypatch.setattr(interrogate.InterrogateModels, "generate_caption", watched)
    caption = WebUICaptioner()(Image.new("RGBA", (40, 30), (10, 20, 30, 255)))
    assert caption == "a room of 40 by 30 pixels in colour 10 20 30 with a second line"
    assert seen == [(True, True, "RGB")]
    assert interrogate.calls == ["load", "generate_caption", "unload", "send_clip_to_ram", "send_blip_to_ram"]
    assert shared.interrogator.blip_model.device == shared.interrogator.clip_model.device == devices.cpu
    assert not call_queue.queue_lock._lock.locked(), "the lock is released afterwards"


def test_a_failing_caption_still_sends_the_models_back(monkeypatch):
    def broken(self, pil_image):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(interrogate.InterrogateModels, "generate_caption", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        WebUICaptioner()(Image.new("RGB", (8, 8)))
    assert interrogate.calls[-3:] == ["unload", "send_clip_to_ram", "send_blip_to_ram"]


def test_webui_stages_caption_with_the_interrogator_and_download_no_blip(webui_models, monkeypatch):  # noqa: F811
    ours = webui_models / "alien-filters"
    write_owlvit(ours / OWLVIT_DIR)
    write_clip(ours / CLIP_DIR)
    refuse_downloads(monkeypatch)
    options = PipelineOptions(restore=False, segment=False, inpaint=False, caption=True)
    stages = factory.build_webui_stages(options, StageChoices(detector="owlvit"), settings_for(webui_models))
    assert isinstance(stages.tagger.captioner, WebUICaptioner) and stages.tagger.name == "owlvit+clip+webui-blip"
    tags = stages.tagger.tag(Image.new("RGB", (64, 48), (200, 100, 50)))
    assert tags.caption == "a room of 64 by 48 pixels in colour 200 100 50"
    plain = factory.build_webui_stages(dataclasses.replace(options, caption=False), StageChoices(detector="owlvit"),
                                       settings_for(webui_models))
    assert plain.tagger.captioner is None


@pytest.fixture
def actions(tmp_path: Path) -> TabActions:
    (tmp_path / "allowed").mkdir()
    make_app(tmp_path)
    return TabActions(AlienService(captioning_stages))


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "allowed" / "photos"
    write_rooms(folder, 2, nested=False)
    return folder


CONFIG = ("alien", "", [s for s in STAGES if s != "inpaint"], "auto", "sam_vit_b", 7)


def test_tab_preview_shows_the_caption_under_the_tags(actions, photos):
    _, tags, _, status = actions.preview("", "Server folder", None, str(photos), *CONFIG, True)
    tag_line, caption_line = tags.split("\n")
    assert tag_line and caption_line.startswith("Caption: a room of "), status
    _, without, _, _ = actions.preview("", "Server folder", None, str(photos), *CONFIG, False)
    assert "Caption" not in without


def test_tab_run_writes_sidecars_and_the_selected_result_shows_the_caption(actions, photos, tmp_path):
    config = (*CONFIG[:2], STAGES, *CONFIG[3:])
    gallery, selection, status = actions.run("", "Server folder", None, str(photos), "", *config, True)
    assert status.startswith("done 2"), status
    detail = actions.select(selection, gr.SelectData(None, {"index": 1, "value": None}))
    sidecar = tmp_path / "allowed" / "out" / "room_000.caption"
    assert detail["caption"].startswith("a room of ") and sidecar.read_text() == detail["caption"] + "\n"
    _, plain, _ = actions.run("", "Server folder", None, str(photos), "", *config, False)
    assert "caption" not in actions.select(plain, gr.SelectData(None, {"index": 1, "value": None}))


def test_api_captions_field(tmp_path, photos):
    app, service = make_app(tmp_path)
    service.stages_factory = captioning_stages
    client = TestClient(app)
    image = b64_png(Image.open(photos / "room_000.jpg"))
    stages = {"restore": False, "segment": False, "inpaint": False}
    answer = client.post("/alien/process", json={"images": [image], "stages": stages, "captions": True})
    assert answer.status_code == 200, answer.text
    manifest = answer.json()["images"][0]["manifest"]
    assert manifest["tags"]["caption"].startswith("a room of ") and manifest["options"]["caption"] is True
    default = client.post("/alien/process", json={"images": [image], "stages": stages}).json()
    assert default["images"][0]["manifest"]["tags"]["caption"] is None
    assert client.post("/alien/process", json={"images": [image], "captions": "yes"}).status_code == 422


def test_an_interrogator_that_cannot_load_says_so_in_words(monkeypatch):
    def offline(self):
        raise OSError("cannot download model_base_caption_capfilt_large.pth: no network")

    monkeypatch.setattr(interrogate.InterrogateModels, "load", offline)
    with pytest.raises(CaptionerUnavailable, match="could not load its BLIP and CLIP models .OSError: cannot download"
                                                   ".*switch Captions off to tag only"):
        WebUICaptioner()(Image.new("RGB", (8, 8)))
    assert not call_queue.queue_lock._lock.locked()
