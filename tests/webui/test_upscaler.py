"""The WebUI's SwinIR (found by class) as our Restorer, with a real small random-weight SwinIR file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from modules import call_queue, shared, upscaler
from PIL import Image
from spandrel.architectures.SwinIR import SwinIR
from swinir_model import UpscalerSwinIR

from alien_filters.webui.upscaler import NoSwinIRUpscaler, WebUISwinIRRestorer, swinir_upscalers
from tests.support.checkpoint_files import save_as_released


@pytest.fixture(scope="module")
def swinir_dir(tmp_path_factory) -> Path:
    """models/SwinIR/SwinIR_4x.pth as the WebUI downloads it: a small real-world SwinIR x4, random weights."""
    folder = tmp_path_factory.mktemp("models") / "SwinIR"
    folder.mkdir()
    torch.manual_seed(0)
    net = SwinIR(upscale=4, in_chans=3, img_size=64, window_size=8, img_range=1.0, mlp_ratio=2.0,
                 upsampler="nearest+conv", embed_dim=12, depths=[2], num_heads=[2], resi_connection="1conv")
    save_as_released({"params_ema": net.state_dict()}, folder / "SwinIR_4x.pth")
    return folder


def install_upscalers(swinir_folder: Path | None) -> None:
    """shared.sd_upscalers as modelloader.load_upscalers builds it (None, Lanczos, then model upscalers)."""
    entries = upscaler.UpscalerNone().scalers + upscaler.UpscalerLanczos().scalers
    if swinir_folder is not None:
        entries += UpscalerSwinIR(str(swinir_folder)).scalers
    shared.sd_upscalers = entries


def test_found_by_class_whatever_the_display_name(swinir_dir):
    install_upscalers(swinir_dir)
    found = swinir_upscalers()
    assert [u.name for u in found] == ["SwinIR_4x"]  # local file: named after the file stem
    assert WebUISwinIRRestorer().name == "webui-swinir:SwinIR_4x"


def test_restore_upscales_to_the_exact_size_in_a_session(swinir_dir, webui_state):
    install_upscalers(swinir_dir)
    rng = np.random.default_rng(1)
    small = Image.fromarray(rng.integers(0, 255, (20, 28, 3), dtype=np.uint8))
    seen = {}
    entry = swinir_upscalers()[0]
    original = entry.scaler.do_upscale

    def spy(img, model_file):
        seen["lock_free"] = call_queue.queue_lock.acquire(blocking=False)
        seen["model_file"] = model_file
        return original(img, model_file)

    entry.scaler.do_upscale = spy
    out = WebUISwinIRRestorer().restore(small, (100, 72))
    assert out.size == (100, 72) and out.mode == "RGB"
    assert seen == {"lock_free": False, "model_file": str(swinir_dir / "SwinIR_4x.pth")}
    assert entry.scaler.loads == 1
    plain = np.asarray(small.resize((100, 72), Image.LANCZOS)).astype(int)
    assert np.abs(np.asarray(out).astype(int) - plain).mean() > 1  # the network ran, not a plain resize


def test_downscale_needs_no_model(webui_state):
    install_upscalers(None)
    out = WebUISwinIRRestorer().restore(Image.new("RGB", (64, 64), "red"), (32, 32))
    assert out.size == (32, 32)


def test_missing_swinir_says_what_to_do():
    install_upscalers(None)
    with pytest.raises(NoSwinIRUpscaler, match="enable the built-in 'SwinIR' extension"):
        WebUISwinIRRestorer().restore(Image.new("RGB", (16, 16)), (64, 64))
    assert WebUISwinIRRestorer().name == "webui-swinir:missing"


def test_named_model_must_exist(swinir_dir):
    install_upscalers(swinir_dir)
    assert WebUISwinIRRestorer("SwinIR_4x").upscaler().name == "SwinIR_4x"
    with pytest.raises(NoSwinIRUpscaler, match="SwinIR model 'SwinIR_2x' not found; the WebUI has: SwinIR_4x"):
        WebUISwinIRRestorer("SwinIR_2x").upscaler()


def test_a_swinir_that_cannot_load_is_recorded_as_a_resize_and_never_served_later_as_a_restore(
        swinir_dir, tmp_path, capsys):
    """The WebUI's SwinIR fails to load its weights (it prints "Failed loading SwinIR model" and hands the image back
    unscaled): the manifest says what ran and why, the summary warns once, the fallback is not cached or skipped
    as the restore, and once the weights are in place the same command restores."""
    import json

    from alien_filters.batch.runner import BatchRunner, BatchSettings
    from alien_filters.core.pipeline import PipelineOptions, Stages
    from alien_filters.themes import get_theme
    from tests.support.doubles import ColourSegmenter, ColourTagger
    from tests.support.rooms import write_rooms

    broken = tmp_path / "SwinIR"
    broken.mkdir()
    (broken / "SwinIR_4x.pth").write_bytes(b"not a checkpoint")
    install_upscalers(broken)
    write_rooms(tmp_path / "rooms", 2, nested=False)
    stages = Stages(WebUISwinIRRestorer(), ColourTagger(), ColourSegmenter())
    settings = BatchSettings(out_dir=tmp_path / "out", options=PipelineOptions(inpaint=False))

    report = BatchRunner(stages, get_theme("alien"), settings).run([tmp_path / "rooms"])
    assert "Failed loading SwinIR model" in capsys.readouterr().err
    manifests = sorted((tmp_path / "out").glob("*.json"))
    manifests = [json.loads(p.read_text()) for p in manifests if p.name != "alien-filters-report.json"]
    assert len(manifests) == 2
    for manifest in manifests:
        assert manifest["restore"]["ran"] == "resized: webui-swinir:SwinIR_4x unavailable"
        assert "could not load" in manifest["restore"]["fallback"]
        assert manifest["models"]["restore"] == "resized: webui-swinir:SwinIR_4x unavailable"
    warnings = [line for line in report.summary().splitlines() if line.startswith("warning")]
    assert len(warnings) == 1 and warnings[0].startswith("warning: 2 image(s) only resized, not restored")

    (broken / "SwinIR_4x.pth").write_bytes((swinir_dir / "SwinIR_4x.pth").read_bytes())  # the weights arrive
    install_upscalers(broken)
    again = BatchRunner(stages, get_theme("alien"), settings).run([tmp_path / "rooms"])
    assert [o.status for o in again.outcomes] == ["planned", "planned"], "not skipped as already done"
    assert all(o.restore_fallback is None for o in again.outcomes)
    restored = sorted((tmp_path / "out").glob("room_*.json"))
    assert len(restored) == 2
    for path in restored:
        manifest = json.loads(path.read_text())
        assert manifest["restore"] == {"ran": "webui-swinir:SwinIR_4x", "fallback": None}
        assert "restore" not in manifest["cached_stages"], "the resize was never cached as a restore"
    assert not [line for line in again.summary().splitlines() if line.startswith("warning")]
