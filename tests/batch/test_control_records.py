"""What a batch writes about structure guidance: each job's unit in the manifest (applied or why not), the
finishing pass's record, and the preview sheet's control panel."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from alien_filters.batch.runner import BatchRunner, BatchSettings
from alien_filters.core.pipeline import Stages
from alien_filters.themes.parsing import parse_theme
from tests.support.control_doubles import GuidedInpainter
from tests.support.doubles import ColourSegmenter, ColourTagger, PaintInpainter, ResizeRestorer
from tests.support.rooms import write_rooms

THEME = """\
name: guided
style_prompt: dungeon
control: {kind: canny, weight: 0.8}
rules:
  - {classes: [bed, window, table, lamp, chair, curtain, plant, painting, mirror, television], prompt: alien things}
  - {classes: [wall], prompt: stone, control: {kind: depth}}
"""


def _batch(tmp_path, inpainter, theme_text=THEME, count=1):
    rooms = tmp_path / "rooms"
    write_rooms(rooms, count, nested=False)
    out = tmp_path / "out"
    stages = Stages(ResizeRestorer(), ColourTagger(), ColourSegmenter(), inpainter)
    report = BatchRunner(stages, parse_theme(theme_text), BatchSettings(out_dir=out, seed=3)).run([rooms])
    assert report.counts()["done"] == count and not report.failures()
    return json.loads((out / "room_000.json").read_text()), Image.open(out / "room_000.preview.jpg"), report


def test_manifest_and_preview_show_each_jobs_unit(tmp_path):
    manifest, preview, _ = _batch(tmp_path / "guided", GuidedInpainter())
    (job,) = manifest["plan"]["jobs"]
    assert job["control"] == {"kind": "canny", "model": "control_v11p_sd15_canny", "weight": 0.8,
                              "guidance_start": 0.0, "guidance_end": 1.0, "canny_low": 100, "canny_high": 200}
    assert manifest["control"] == {"imager": "canny", "jobs": [{**job["control"], "applied": True}],
                                   "not_applied": []}
    assert manifest["finish"] is None
    _, plain_preview, _ = _batch(tmp_path / "plain", GuidedInpainter(), THEME.replace("control: {kind: canny, "
                                                                                    "weight: 0.8}", ""))
    width = preview.width - plain_preview.width  # one more panel, third from the left: the control images
    assert preview.height == plain_preview.height and width == plain_preview.width // 3
    panel = np.asarray(preview.convert("L"))[30:, 2 * width:3 * width].astype(int)
    assert panel.mean() < 80 and (panel > 100).mean() > 0.01  # white canny edges over a darkened photo (the
    # unit's label alone lights about 0.3% of the panel)


def test_a_unit_that_did_not_run_is_said_once_and_the_finish_is_recorded(tmp_path):
    theme = THEME + "finish: {denoising_strength: 0.2, steps: 3, use_control: true}\n"
    manifest, _, report = _batch(tmp_path, PaintInpainter(), theme, count=2)
    reason = "inpainter paint-inpainter-double does not take ControlNet units"
    warnings = [line for line in report.summary().splitlines() if "ControlNet" in line]
    assert warnings == [f"warning: 2 job(s) in 2 image(s) ran without their ControlNet unit (structure guidance): "
                        f"{reason}"]
    assert manifest["control"]["jobs"][0]["applied"] is False and manifest["control"]["jobs"][0]["reason"] == reason
    assert manifest["control"]["not_applied"] == [reason]
    assert manifest["finish"]["applied"] is False and "has no finishing pass" in manifest["finish"]["reason"]
    manifest, _, _ = _batch(tmp_path / "again", GuidedInpainter(), theme)
    finish = manifest["finish"]
    assert finish["applied"] is True and finish["denoising_strength"] == 0.2 and finish["steps"] == 3
    assert finish["control"]["applied"] is True and finish["prompt"] == "dungeon" and finish["infotext"]
    assert "finish" in manifest["timings"]


def test_the_result_png_carries_each_units_record_and_the_finish(tmp_path):
    theme = THEME + "finish: {denoising_strength: 0.2, steps: 3}\n"
    rooms = tmp_path / "rooms"
    write_rooms(rooms, 1, nested=False)
    stages = Stages(ResizeRestorer(), ColourTagger(), ColourSegmenter(), GuidedInpainter())
    BatchRunner(stages, parse_theme(theme), BatchSettings(out_dir=tmp_path / "out", seed=3)).run([rooms])
    record = json.loads(Image.open(tmp_path / "out" / "room_000.png").text["alien_filters"])
    (job,) = record["jobs"]
    assert job["control"]["kind"] == "canny" and job["control"]["applied"] is True
    assert record["finish"] == {"infotext": "finish\nSteps: 3"}
