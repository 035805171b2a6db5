"""``process --captions`` end to end through the real command line, stage factory and model manager, over a models
folder of tiny random-weight OWL-ViT, CLIP and BLIP saved where users keep the released ones."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from alien_filters import cli
from alien_filters.stages.captioning import BlipCaptioner
from tests.support.builders_captioning import BLIP_DIR, write_blip
from tests.support.builders_detectors import CLIP_DIR, OWLVIT_DIR, write_clip, write_owlvit
from tests.support.rooms import write_rooms

FAST = ["--dry-run", "--no-restore", "--segmenter", "boxes", "--detector", "owlvit", "--device", "cpu", "--offline",
        "--short-side", "96", "--max-long-side", "160"]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    write_owlvit(root / OWLVIT_DIR)
    write_clip(root / CLIP_DIR)
    write_blip(root / BLIP_DIR)
    return root


@pytest.fixture(scope="module")
def rooms(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("rooms")
    write_rooms(folder, 2)
    return folder


@pytest.fixture(autouse=True)
def keep_sigint():
    """The command line installs its Ctrl-C handler; pytest's own comes back afterwards."""
    previous = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def caption_calls(monkeypatch) -> list[str]:
    """Every caption BLIP computes (the product's captioner, counted)."""
    calls: list[str] = []
    real = BlipCaptioner.__call__

    def counted(self, image):
        calls.append(real(self, image))
        return calls[-1]

    monkeypatch.setattr(BlipCaptioner, "__call__", counted)
    return calls


def manifests(out: Path) -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(out.rglob("room_*.json"))
            if ".alien-cache" not in p.parts}


def test_captions_are_written_to_the_sidecar_and_manifest_and_reused(models, rooms, tmp_path, caption_calls):
    out = tmp_path / "out"
    args = ["process", str(rooms), "--out", str(out), "--models-dir", str(models), "--captions", *FAST]
    assert cli.main(args) == cli.EXIT_OK
    first = manifests(out)
    assert len(first) == 2 and len(caption_calls) == 2
    for name, manifest in first.items():
        caption = manifest["tags"]["caption"]
        assert caption and caption in caption_calls
        assert manifest["options"]["caption"] is True and manifest["models"]["tag"] == "owlvit+clip+blip"
        sidecar = next(out.rglob(name.replace(".json", ".caption")))
        assert sidecar.read_bytes() == (caption + "\n").encode("utf-8"), "one line, UTF-8"
        assert manifest["outputs"]["caption"] == sidecar.name

    caption_calls.clear()  # an identical command skips both images; another output option reuses the cached tags
    assert cli.main(args) == cli.EXIT_OK and caption_calls == []
    assert cli.main([*args, "--no-preview"]) == cli.EXIT_OK
    again = manifests(out)
    assert caption_calls == [], "the caption came from the tag cache, BLIP ran on no image"
    for name, manifest in again.items():
        assert "tag" in manifest["cached_stages"]
        assert manifest["tags"]["caption"] == first[name]["tags"]["caption"]


def test_without_captions_no_sidecar_no_blip(models, rooms, tmp_path, caption_calls):
    out = tmp_path / "out"
    assert cli.main(["process", str(rooms), "--out", str(out), "--models-dir", str(models), *FAST]) == cli.EXIT_OK
    assert caption_calls == [] and not list(out.rglob("*.caption"))
    for manifest in manifests(out).values():
        assert manifest["tags"]["caption"] is None and manifest["options"]["caption"] is False
        assert manifest["models"]["tag"] == "owlvit+clip"


def test_captions_offline_without_blip_say_what_to_download(models, rooms, tmp_path, capsys):
    partial = tmp_path / "models"
    for sub in (OWLVIT_DIR, CLIP_DIR):
        (partial / sub).parent.mkdir(parents=True, exist_ok=True)
        (partial / sub).symlink_to(models / sub)
    code = cli.main(["process", str(rooms), "--out", str(tmp_path / "out"), "--models-dir", str(partial),
                     "--captions", *FAST])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE and "Traceback" not in err
    assert "blip_base" in err and "Salesforce/blip-image-captioning-base" in err
