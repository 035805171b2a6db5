"""``python -m alien_filters process`` end to end with a random-weight models folder and checkpoint.

The models are the real architectures (spandrel SwinIR, OWL-ViT, CLIP, SAM vit_b, an SD inpainting UNet) with
random weights, saved where users keep them; the command line loads them through the model manager.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.builders_detectors import write_models_folder
from tests.support.builders_diffusion import write_tiny_inpaint_checkpoint
from tests.support.builders_swinir import write_swinir
from tests.support.rooms import write_rooms

ROOT = Path(__file__).resolve().parents[2]
THEME = """name: quick
description: three rules and few steps, to keep the test fast
style_prompt: emerald dungeon
defaults: {steps: 2, denoising_strength: 1.0, mask_grow: 4, crop_padding: 8}
rules:
  - {classes: [table, desk], prompt: oak table with ripe red apples and black notebooks, priority: 10}
  - {classes: [bed], prompt: four-poster bed}
  - {classes: [wall, window, floor], prompt: stone vault, priority: -5}
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    write_models_folder(root)
    write_swinir(root, 4)
    write_swinir(root, 2)
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_inpaint_checkpoint(tmp_path_factory.mktemp("ckpt"))


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HOME": "/nonexistent"}
    return subprocess.run([sys.executable, "-m", "alien_filters", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)


def test_models_json_sees_the_folder(models):
    result = cli("models", "--json", "--models-dir", models)
    assert result.returncode == 0, result.stderr
    present = {row["name"] for row in json.loads(result.stdout) if row["present"]}
    assert {"sam_vit_b", "swinir_x4", "swinir_x2", "owlvit_base", "clip_vit_b32"} <= present


def test_dry_run_then_full_run_through_the_command_line(tmp_path, models, checkpoint):
    src = tmp_path / "photos"
    originals = {p: p.read_bytes() for p in write_rooms(src, 2)}
    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "quick.yaml").write_text(THEME)
    out = tmp_path / "out"
    common = ["--out", out, "--theme", "quick", "--themes-dir", tmp_path / "themes", "--models-dir", models,
              "--offline", "--device", "cpu", "--detector", "owlvit", "--seed", "3"]

    dry = cli("process", src, "--dry-run", *common)
    assert dry.returncode == 0, dry.stderr
    assert "done 2, skipped 0, failed 0" in dry.stdout
    manifest = json.loads((out / "floor2" / "room_001.json").read_text())
    assert manifest["status"] == "planned" and not (out / "floor2" / "room_001.png").exists()
    assert manifest["models"] == {"restore": "swinir", "tag": "owlvit+clip", "segment": "sam_vit_b", "inpaint": None}
    assert manifest["working_size"] == [512, 704]
    assert (out / "room_000.preview.jpg").exists()

    full = cli("process", src, "--checkpoint", checkpoint, *common)
    assert full.returncode == 0, full.stderr
    for stem in ("room_000", "floor2/room_001"):
        manifest = json.loads((out / f"{stem}.json").read_text())
        assert manifest["status"] == "done"
        assert manifest["cached_stages"] == ["restore", "tag", "segment"]
        result = np.asarray(Image.open(out / f"{stem}.png"))
        assert result.shape == (704, 512, 3)
        for job in manifest["plan"]["jobs"]:
            assert job["prompt"].endswith("emerald dungeon") and job["settings"]["steps"] == 2
        calls = manifest["calls"]  # the stand-alone inpainter groups the jobs into calls (regional by default)
        assert calls["regional"] is True and calls["batch_size"] == 1
        assert (calls["work_vs_full_pass"] > 0) == bool(manifest["plan"]["jobs"])
        grouped = sorted(i for call in calls["calls"] for i in call["jobs"])
        assert grouped == [job["index"] for job in manifest["plan"]["jobs"]]
    assert {p: p.read_bytes() for p in originals} == originals

    again = cli("process", src, "--checkpoint", checkpoint, *common)
    assert again.returncode == 0 and "skipped 2" in again.stdout


def test_ctrl_c_twice_during_diffusion_is_recorded_as_stopped_not_failed(tmp_path, monkeypatch, capsys):
    """Two SIGINTs arrive inside a diffusion step of the real diffusers inpainter: the step callback sees the
    CLI's stop-now flag, the image is recorded as interrupted (never failed) and the exit code is 130."""
    import os
    import signal

    from alien_filters import cli
    from alien_filters.batch.output_names import REPORT_NAME
    from alien_filters.core.pipeline import Stages
    from alien_filters.stages import factory
    from alien_filters.stages.inpaint_diffusers import DiffusersInpainter
    from tests.support.doubles import ColourSegmenter, ColourTagger, ResizeRestorer

    checkpoint = write_tiny_inpaint_checkpoint(tmp_path / "sd")

    class SignalledInpainter(DiffusersInpainter):
        def _on_step_end(self, pipe, step, timestep, tensors):
            if step == 0:
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)
            return super()._on_step_end(pipe, step, timestep, tensors)

    def stages(choices, options, interrupted=None, **_):
        return Stages(ResizeRestorer(), ColourTagger(), ColourSegmenter(),
                      SignalledInpainter(checkpoint, scheduler="euler_a", interrupted=interrupted))

    monkeypatch.setattr(factory, "build_stages", stages)
    previous = signal.getsignal(signal.SIGINT)
    try:
        write_rooms(tmp_path / "rooms", 2, nested=False)
        code = cli.main(["process", str(tmp_path / "rooms"), "--out", str(tmp_path / "out")])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert code == cli.EXIT_INTERRUPTED
    report = json.loads((tmp_path / "out" / REPORT_NAME).read_text(encoding="utf-8"))
    assert report["interrupted"] and "inpaint" in report["stopped_at"]
    assert [o["status"] for o in report["outcomes"]] == ["interrupted"]
    assert "stopping now" in capsys.readouterr().err
