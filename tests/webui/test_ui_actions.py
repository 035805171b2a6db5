"""The tab's actions without a browser: validation, save as, preview, run, selection."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest
from modules import processing

from alien_filters.webui.service import AlienService
from alien_filters.webui.ui import STAGES, Selection, TabActions, build_tab
from tests.support.rooms import write_rooms
from tests.webui.api_fixtures import double_stages, make_app


@pytest.fixture
def actions(tmp_path: Path) -> TabActions:
    (tmp_path / "allowed").mkdir()
    make_app(tmp_path)  # registers our settings with roots under tmp_path
    return TabActions(AlienService(double_stages))


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "allowed" / "photos"
    write_rooms(folder, 2, nested=False)
    return folder


CONFIG = ("alien", "", STAGES, "auto", "sam_vit_b", 7)


def test_validation_and_save_as(actions, tmp_path):
    text = actions.theme_yaml("alien")
    assert "rules" in text and actions.validate(text) == f"✅ theme 'alien': {text.count('- name:')} rules"
    warned = actions.validate("name: long\nrules:\n  - classes: [bed, flux capacitor]\n    prompt: " + "hay " * 80)
    first, *warnings = warned.split("\n\n")
    assert first == "✅ theme 'long': 1 rules" and len(warnings) == 2
    assert "'flux capacitor' that is not in the vocabulary" in warnings[0]
    assert "prompt with the theme's is 80 CLIP tokens" in warnings[1]
    assert actions.validate("name: x\nrules: 3\n").startswith("❌ editor:")
    message, update = actions.save_as("my-alien", text.replace("name: alien", "name: my-alien", 1))
    assert message.startswith("✅") and (tmp_path / "themes" / "my-alien.yaml").is_file()
    assert "my-alien" in update["choices"]
    assert actions.save_as("Bad Name!", text)[0].startswith("❌")


def test_preview_runs_up_to_the_plan_on_the_first_image(actions, photos):
    sheet, tags, plan, status = actions.preview("", "Server folder", None, str(photos), *CONFIG)
    assert sheet is not None and sheet.width > sheet.height
    assert tags and plan and "seed" in plan
    assert status == f"preview of room_000.jpg: {plan.count('[seed ')} inpaint jobs planned"
    assert processing.calls == [], "preview never inpaints"


def test_run_fills_the_gallery_and_selection(actions, photos, tmp_path):
    files = sorted(photos.glob("*.jpg"))
    gallery, selection, status = actions.run("", "Upload", [str(f) for f in files], "", "", *CONFIG)
    assert len(gallery) == 4 and [c for _, c in gallery][:2] == ["before: room_000.jpg", "after: room_000.jpg"]
    assert status.startswith("done 2")
    assert processing.calls
    detail = actions.select(selection, gr.SelectData(None, {"index": 3, "value": None}))
    assert detail["input"].endswith("room_001.jpg") and detail["prompts"] and detail["seed"] == 7
    assert (tmp_path / "allowed" / "out" / "room_000.png").is_file()


def test_run_refuses_folders_outside_the_roots(actions, tmp_path):
    gallery, selection, status = actions.run("", "Server folder", None, str(tmp_path), "", *CONFIG)
    assert gallery == [] and status.startswith("❌") and "outside the allowed roots" in status
    assert isinstance(selection, Selection)


def test_tab_builds_with_default_settings():
    assert isinstance(build_tab(AlienService(double_stages)), gr.Blocks)
