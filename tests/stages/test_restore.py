"""SwinIR restore stage on real (small, random-weight) SwinIR files loaded through spandrel."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from spandrel import ImageModelDescriptor, ModelLoader

from alien_filters.core.contracts import Releasable, Restorer
from alien_filters.core.sizing import WorkingSize
from alien_filters.models.manager import ModelManager, ModelMissingError
from alien_filters.stages.restore import RestoreError, SwinIRRestorer, choose_scale, run_tiled, tile_starts
from tests.support.builders_swinir import CONFIGS, build_swinir, write_swinir


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    write_swinir(folder, 2)
    write_swinir(folder, 4)
    return folder


@pytest.fixture
def manager(models_dir: Path) -> ModelManager:
    return ModelManager(models_dir, allow_download=False)


def _room(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def test_builder_files_are_detected_by_spandrel(models_dir: Path) -> None:
    for scale, name in ((2, "003_realSR_BSRGAN_DFO_s64w8_SwinIR-M_x2_GAN.pth"), (4, "SwinIR_4x.pth")):
        path = models_dir / "SwinIR" / name
        assert set(torch.load(path, weights_only=True)) == {"params_ema"}  # the official file layout
        model = ModelLoader().load_from_file(path)
        assert isinstance(model, ImageModelDescriptor)
        assert model.architecture.id == "SwinIR" and model.scale == scale
        assert "s64w8" in model.tags and "12dim" in model.tags


def test_restorer_satisfies_the_stage_protocols(manager: ModelManager) -> None:
    restorer = SwinIRRestorer.from_manager(manager, device="cpu")
    assert isinstance(restorer, Restorer) and isinstance(restorer, Releasable)
    assert restorer.name == "swinir"


def test_x2_model_turns_256x352_into_the_working_size(manager: ModelManager) -> None:
    size = WorkingSize().for_image(256, 352)
    assert size == (512, 704)
    restorer = SwinIRRestorer.from_manager(manager, device="cpu")
    out = restorer.restore(_room(256, 352), size)
    assert out.size == size and out.mode == "RGB"
    assert manager.load_count == {"swinir_x2": 1}  # 2x reaches the target: x4 is never loaded


def test_tiled_gives_the_same_size_as_untiled(manager: ModelManager) -> None:
    size = WorkingSize().for_image(256, 352)
    calls: list[tuple[int, int]] = []
    restorer = SwinIRRestorer.from_manager(manager, device="cpu", tile=192, tile_overlap=16)
    original_call = ImageModelDescriptor.__call__

    def spy(self, image):
        calls.append(tuple(image.shape[-2:]))
        return original_call(self, image)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ImageModelDescriptor, "__call__", spy)
        out = restorer.restore(_room(256, 352), size)
    assert out.size == size and out.mode == "RGB"
    assert len(calls) == 4 and set(calls) == {(192, 192)}  # 2 x 2 tiles of 192 px, >= 16 px overlap


def test_x4_only_path_downscales_to_the_target(models_dir: Path) -> None:
    restorer = SwinIRRestorer({4: models_dir / "SwinIR" / "SwinIR_4x.pth"}, device="cpu")
    out = restorer.restore(_room(64, 88), (200, 280))  # x4 gives 256x352, then LANCZOS down
    assert out.size == (200, 280) and out.mode == "RGB"


def test_x4_is_used_when_x2_does_not_reach(manager: ModelManager) -> None:
    restorer = SwinIRRestorer.from_manager(manager, device="cpu")
    out = restorer.restore(_room(40, 56), (120, 168))  # needs 3x
    assert out.size == (120, 168)
    assert manager.load_count == {"swinir_x4": 1}


def test_large_images_skip_the_model(manager: ModelManager) -> None:
    image = _room(600, 800).convert("L")  # any mode comes back RGB
    restorer = SwinIRRestorer.from_manager(manager, device="cpu")
    out = restorer.restore(image, (512, 680))
    assert out.mode == "RGB" and out.size == (512, 680)
    expected = image.convert("RGB").resize((512, 680), Image.LANCZOS)
    assert np.array_equal(np.asarray(out), np.asarray(expected))
    same = restorer.restore(_room(512, 680), (512, 680))
    assert np.array_equal(np.asarray(same), np.asarray(_room(512, 680)))
    assert manager.load_count == {}


def test_models_are_loaded_once_across_images(manager: ModelManager, monkeypatch) -> None:
    loads: list[Path] = []
    original = ModelLoader.load_from_file

    def spy(self, path):
        loads.append(Path(path))
        return original(self, path)

    monkeypatch.setattr(ModelLoader, "load_from_file", spy)
    restorer = SwinIRRestorer.from_manager(manager, device="cpu")
    for seed in range(3):
        assert restorer.restore(_room(40, 56, seed), (80, 112)).size == (80, 112)
    assert manager.load_count == {"swinir_x2": 1}
    assert [p.name for p in loads] == ["003_realSR_BSRGAN_DFO_s64w8_SwinIR-M_x2_GAN.pth"]


def test_release_offloads_to_cpu_and_keeps_the_model(manager: ModelManager) -> None:
    restorer = SwinIRRestorer.from_manager(manager, device="cpu")
    restorer.restore(_room(40, 56), (80, 112))
    restorer.release()
    params = [p for model in restorer._models.values() for p in model.model.parameters()]
    assert params and all(p.device.type == "cpu" for p in params)
    restorer.restore(_room(40, 56), (80, 112))
    assert manager.load_count == {"swinir_x2": 1}


def test_release_free_drops_the_model_and_reloads_on_demand(manager: ModelManager) -> None:
    restorer = SwinIRRestorer.from_manager(manager, device="cpu", offload_mode="free")
    restorer.restore(_room(40, 56), (80, 112))
    restorer.release()
    assert restorer.restore(_room(40, 56), (80, 112)).size == (80, 112)
    assert manager.load_count == {"swinir_x2": 2}


def test_from_manager_without_x2_uses_x4(tmp_path: Path, caplog) -> None:
    write_swinir(tmp_path, 4)
    manager = ModelManager(tmp_path, allow_download=False)
    with caplog.at_level(logging.WARNING):
        restorer = SwinIRRestorer.from_manager(manager, device="cpu")
    assert set(restorer.weights) == {4}
    assert "x2 unavailable" in caplog.text
    assert restorer.restore(_room(40, 56), (80, 112)).size == (80, 112)
    assert manager.load_count == {"swinir_x4": 1}


def test_from_manager_without_weights_says_where_to_put_them(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match="SwinIR_4x.pth"):
        SwinIRRestorer.from_manager(ModelManager(tmp_path, allow_download=False), device="cpu")


def test_wrong_files_get_errors_naming_them(tmp_path: Path, models_dir: Path) -> None:
    not_swinir = tmp_path / "conv.pth"
    torch.save({"params_ema": torch.nn.Conv2d(3, 3, 3).state_dict()}, not_swinir)
    with pytest.raises(RestoreError, match="conv.pth"):
        SwinIRRestorer({2: not_swinir}).restore(_room(40, 56), (80, 112))
    x4 = models_dir / "SwinIR" / "SwinIR_4x.pth"
    with pytest.raises(RestoreError, match="x4 SwinIR model but was given as the x2"):
        SwinIRRestorer({2: x4}).restore(_room(40, 56), (80, 112))
    with pytest.raises(RestoreError, match="not found"):
        SwinIRRestorer({2: tmp_path / "nope.pth"}).restore(_room(40, 56), (80, 112))


def test_out_of_memory_falls_back_to_cpu(manager: ModelManager, monkeypatch, caplog) -> None:
    restorer = SwinIRRestorer.from_manager(manager, device="cpu")
    original_call = ImageModelDescriptor.__call__
    calls: list[str] = []

    def oom_once(self, image):  # simulates the GPU running out of memory on the first forward
        calls.append(image.device.type)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB")
        return original_call(self, image)

    monkeypatch.setattr(ImageModelDescriptor, "__call__", oom_once)
    with caplog.at_level(logging.WARNING):
        out = restorer.restore(_room(40, 56), (80, 112))
    assert out.size == (80, 112)
    assert calls == ["cpu", "cpu"] and restorer.device == torch.device("cpu")
    assert "SwinIR restore ran out of GPU memory" in caplog.text


def test_bad_tile_settings_are_rejected(models_dir: Path) -> None:
    weights = {4: models_dir / "SwinIR" / "SwinIR_4x.pth"}
    with pytest.raises(ValueError, match="tile"):
        SwinIRRestorer(weights, tile=8)
    with pytest.raises(ValueError, match="tile_overlap"):
        SwinIRRestorer(weights, tile=64, tile_overlap=32)
    with pytest.raises(ValueError, match="at least one"):
        SwinIRRestorer({})


@pytest.mark.parametrize(
    ("scales", "image", "target", "expected"),
    [
        ([2, 4], (256, 352), (512, 704), 2),
        ([4], (256, 352), (512, 704), 4),
        ([2, 4], (100, 100), (512, 512), 4),
        ([2], (100, 100), (512, 512), 2),
        ([2, 4], (300, 200), (512, 344), 2),
        ([2, 4], (512, 704), (512, 704), None),
        ([2, 4], (900, 700), (512, 400), None),
        ([2, 4], (250, 350), (512, 712), 2),  # the seed's photos: 2x is 2.3% short, within the tolerance
        ([2, 4], (340, 250), (696, 512), 2),
        ([2, 4], (230, 350), (512, 776), 4),  # 2x is 10.2% short: x4
    ],
)
def test_choose_scale(scales, image, target, expected) -> None:
    assert choose_scale(scales, image, target) == expected


def test_choose_scale_without_tolerance_is_the_old_rule() -> None:
    assert choose_scale([2, 4], (250, 350), (512, 712), tolerance=0.0) == 4


def test_tile_starts_cover_with_overlap() -> None:
    assert tile_starts(100, 128, 16) == [0]
    for length, tile, overlap in [(352, 128, 16), (256, 128, 16), (1000, 96, 8), (129, 128, 16)]:
        starts = tile_starts(length, tile, overlap)
        assert starts[0] == 0 and starts[-1] + tile == length
        assert all(b - a <= tile - overlap for a, b in zip(starts[:-1], starts[1:], strict=True))


def test_tiled_blending_matches_untiled_for_a_local_model() -> None:
    """For a model without cross-tile context the blended tiles equal the untiled output exactly."""
    torch.manual_seed(0)
    image = torch.rand(1, 3, 50, 70)
    seen: list[tuple[int, int]] = []

    def upscale(x: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(x.shape[-2:]))
        return F.interpolate(x, scale_factor=2, mode="nearest")

    tiled = run_tiled(upscale, image, 2, tile=24, overlap=6)
    assert tiled.shape == (1, 3, 100, 140)
    assert torch.allclose(tiled, F.interpolate(image, scale_factor=2, mode="nearest"), atol=1e-6)
    assert len(seen) == 3 * 4 and all(h <= 24 and w <= 24 for h, w in seen)


@pytest.mark.slow
@pytest.mark.parametrize("scale", [2, 4])
def test_published_swinir_shapes_are_detected(scale: int) -> None:
    state_dict = build_swinir(scale, "real").state_dict()
    model = ModelLoader().load_from_state_dict(state_dict)
    assert model.architecture.id == "SwinIR" and model.scale == scale
    config = CONFIGS[("real", scale)]
    assert f"{config['embed_dim']}dim" in model.tags and config["resi_connection"] in model.tags
    assert {k: v.shape for k, v in model.model.state_dict().items()} == {k: v.shape for k, v in state_dict.items()}


def test_release_goes_through_the_offload_policy(manager: ModelManager, monkeypatch) -> None:
    from alien_filters.models import device as devices

    calls: list[str] = []
    real = devices.release_model
    monkeypatch.setattr(devices, "release_model", lambda m, d, mode: calls.append(mode) or real(m, d, mode))
    restorer = SwinIRRestorer.from_manager(manager, device="cpu", offload_mode="free")
    restorer.restore(_room(40, 56), (80, 112))
    restorer.release()
    assert calls == ["free"] and restorer._models == {}
