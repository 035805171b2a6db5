"""``process`` with a theme that asks for structure guidance, end to end through the command line: the ControlNet
is a random-weight folder in the models folder where the registry puts it, found offline by the model manager; a
unit whose model is missing is recorded, not a failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alien_filters.core.vocabulary import load_vocabulary
from tests.support.builders_control import write_tiny_controlnet
from tests.support.builders_detectors import write_models_folder
from tests.support.builders_diffusion import write_tiny_inpaint_checkpoint
from tests.support.rooms import write_rooms

ROOT = Path(__file__).resolve().parents[2]


def _theme(depth_classes: list[str], canny_classes: list[str]) -> str:
    return f"""name: guided
style_prompt: emerald dungeon
defaults: {{steps: 2, denoising_strength: 1.0, mask_grow: 4, crop_padding: 8}}
control: {{kind: canny, weight: 0.9, guidance_end: 0.8}}
rules:
  - {{classes: {json.dumps(depth_classes)}, prompt: stone, control: {{kind: depth}}}}
  - {{classes: {json.dumps(canny_classes)}, prompt: dark oak furniture}}
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("models")
    write_models_folder(root)
    write_tiny_controlnet(root / "diffusers/lllyasviel/control_v11p_sd15_canny", fp16_variant=True)
    return root, write_tiny_inpaint_checkpoint(tmp_path_factory.mktemp("ckpt"))


def test_guided_process_records_each_unit_offline(tmp_path, setup):
    models, checkpoint = setup
    names = load_vocabulary().class_names()
    half = len(names) // 2
    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "guided.yaml").write_text(_theme(names[:half], names[half:]))
    src, out = tmp_path / "photos", tmp_path / "out"
    write_rooms(src, 1, nested=False)
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HOME": "/nonexistent"}
    result = subprocess.run(
        [sys.executable, "-m", "alien_filters", "process", str(src), "--checkpoint", str(checkpoint), "--out",
         str(out), "--theme", "guided", "--themes-dir", str(tmp_path / "themes"), "--models-dir", str(models),
         "--offline", "--device", "cpu", "--detector", "owlvit", "--no-restore", "--segmenter", "boxes",
         "--seed", "3"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "room_000.json").read_text())
    jobs = manifest["plan"]["jobs"]
    assert jobs and manifest["status"] == "done"
    records = manifest["control"]["jobs"]
    assert sorted((r["kind"], r["applied"]) for r in records) == [("canny", True), ("depth", False)]
    (missing,) = [r for r in records if not r["applied"]]  # neither DPT nor the depth ControlNet is on disk
    assert "dpt_hybrid_midas" in missing["reason"] and "downloads are switched off" in missing["reason"]
    assert manifest["control"]["imager"] == "canny+dpt" and manifest["control"]["not_applied"] == [missing["reason"]]
    warnings = [line for line in result.stdout.splitlines() if "ControlNet" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: 1 job(s) in 1 image(s) ran without their "
                                                          "ControlNet unit (structure guidance): depth preprocessor")
    working = np.asarray(Image.open(out / "room_000.png"))
    assert working.shape[:2] == tuple(reversed(manifest["working_size"]))
    assert Image.open(out / "room_000.preview.jpg").width > 0


def test_no_control_plans_no_unit_and_is_another_setting(tmp_path, setup):
    models, _ = setup
    names = load_vocabulary().class_names()
    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "guided.yaml").write_text(_theme(names[:3], names[3:]))
    src = tmp_path / "photos"
    write_rooms(src, 1, nested=False)
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HOME": "/nonexistent"}
    manifests = {}
    for flags in ([], ["--no-control"]):
        out = tmp_path / ("plain" if flags else "guided")
        result = subprocess.run(
            [sys.executable, "-m", "alien_filters", "process", str(src), "--dry-run", "--out", str(out), "--theme",
             "guided", "--themes-dir", str(tmp_path / "themes"), "--models-dir", str(models), "--offline",
             "--device", "cpu", "--detector", "owlvit", "--no-restore", "--segmenter", "boxes", "--seed", "3",
             *flags], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stderr
        manifests[bool(flags)] = json.loads((out / "room_000.json").read_text())
    guided, plain = manifests[False], manifests[True]
    assert guided["plan"]["jobs"] and all("control" in job for job in guided["plan"]["jobs"])
    assert [j["rule"] for j in plain["plan"]["jobs"]] == [j["rule"] for j in guided["plan"]["jobs"]]
    assert not any("control" in job for job in plain["plan"]["jobs"])
    assert plain["theme"]["hash"] != guided["theme"]["hash"]
