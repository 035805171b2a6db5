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
