"""The default pipeline as an A1111 user has it: SAM under the safe-unpickle check, models where users keep them
(models/sam, models/SwinIR, the Hugging Face cache), one SwinIR pass per image, failures on the console."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
import torch
from modules import errors, paths_internal, safe, shared, upscaler
from PIL import Image
from swinir_model import UpscalerSwinIR

from alien_filters.core.pipeline import PipelineOptions, Stages
from alien_filters.core.run_options import StageChoices
from alien_filters.models.registry import get_spec
from alien_filters.stages.restore import SwinIRRestorer
from alien_filters.themes import get_theme
from alien_filters.webui import factory, runtime
from alien_filters.webui.service import AlienService, RunOptions
from alien_filters.webui.settings import current
from alien_filters.webui.upscaler import WebUISwinIRRestorer
from tests.support.builders_detectors import SAM_FILES, write_clip, write_owlvit, write_sam
from tests.support.builders_swinir import build_swinir
from tests.support.checkpoint_files import save_as_released
from tests.support.doubles import ColourTagger
from tests.support.rooms import room_image
from tests.webui.api_fixtures import make_app


@pytest.fixture(scope="module")
def sam_file(tmp_path_factory) -> Path:
    """A random-weight SAM vit_b written as the released file is (no entries newer torch adds)."""
    return write_sam(tmp_path_factory.mktemp("released") / SAM_FILES["vit_b"])


@pytest.fixture
def webui_models(tmp_path, monkeypatch) -> Path:
    """An empty WebUI models folder; our own models folder (Settings) inside it, as by default."""
    models = tmp_path / "webui-models"
    models.mkdir()
    monkeypatch.setattr(paths_internal, "models_path", str(models))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(var, raising=False)
    return models


def settings_for(models: Path):
    return dataclasses.replace(current(), models_dir=str(models / "alien-filters"), device="cpu")


def refuse_downloads(monkeypatch) -> None:
    """Any download attempt fails the test (a usable copy exists somewhere)."""

    def no_download(url, *args, **kwargs):
        raise AssertionError(f"download attempted: {url}")

    monkeypatch.setattr(factory, "download_with_progress", no_download)


# -- the stand-in's safe-unpickle check behaves as the WebUI's ------------------------------------------------


def test_the_check_loads_released_files_by_path_and_refuses_file_objects(tmp_path):
    state = {"w": torch.arange(6.0)}
    released = save_as_released(state, tmp_path / "released.pth")
    assert torch.load is safe.load
    assert torch.equal(torch.load(str(released), map_location="cpu")["w"], state["w"])
    with open(released, "rb") as handle:  # the zip pass moves the position: the load that follows fails
        with pytest.raises(RuntimeError, match="zip archive"):
            torch.load(handle, map_location="cpu")
    legacy = tmp_path / "legacy.pth"
    torch.save(state, legacy, _use_new_zipfile_serialization=False)
    assert torch.equal(torch.load(str(legacy))["w"], state["w"])
    with open(legacy, "rb") as handle:  # no name to reopen: refused
        assert torch.load(handle) is None


def test_the_check_refuses_entries_newer_torch_writes_and_pickled_code(tmp_path):
    newer = tmp_path / "newer.pth"
    torch.save({"w": torch.zeros(2)}, newer)  # torch 2.14 adds .format_version, byteorder, ...
    assert torch.load(str(newer)) is None
    assert "Error verifying pickled file" in errors.reported[-1]
    code = save_as_released({"f": print}, tmp_path / "code.pth")
    assert torch.load(str(code)) is None
    shared.cmd_opts.disable_safe_unpickle = True
    assert torch.load(str(newer))["w"].shape == (2,)


# -- SAM loads with the check on ---------------------------------------------------------------------------


def test_segment_anything_own_loader_fails_under_the_check(sam_file):
    """What the extension did before: build_sam opens the file and loads the file object."""
    from segment_anything import sam_model_registry

    with pytest.raises(RuntimeError, match="zip archive"):
        sam_model_registry["vit_b"](checkpoint=str(sam_file))


def test_sam_from_models_sam_loads_under_the_check_without_a_download(sam_file, webui_models, monkeypatch):
    (webui_models / "sam").mkdir()
    placed = webui_models / "sam" / SAM_FILES["vit_b"]
    placed.symlink_to(sam_file)
    refuse_downloads(monkeypatch)
    checked: list = []
    monkeypatch.setattr(safe, "check_pt", lambda filename, _check=safe.check_pt: (checked.append(filename),
                                                                                   _check(filename))[1])
    stages = factory.build_webui_stages(PipelineOptions(restore=False, tag=False, inpaint=False),
                                        StageChoices(segmenter="sam_vit_b"), settings_for(webui_models))
    assert stages.segmenter.checkpoint == placed
    model = stages.segmenter.load()
    assert checked == [str(placed)], "loaded by path, through the WebUI's check"
    expected = torch.load(str(sam_file), map_location="cpu")
    key = "mask_decoder.iou_prediction_head.layers.0.weight"
    assert torch.equal(model.state_dict()[key], expected[key])
    masks = stages.segmenter.segment(Image.new("RGB", (96, 64), "grey"), [])
    assert masks == {}


def test_a_refused_sam_file_is_named(tmp_path):
    from alien_filters.stages.segment import SamSegmenter

    newer = tmp_path / SAM_FILES["vit_b"]
    torch.save({"w": torch.zeros(1)}, newer)
    with pytest.raises(ValueError, match=rf"{newer.name}: not a SAM vit_b checkpoint \(the WebUI's safe-unpickle"):
        SamSegmenter(newer).load()


# -- models where users keep them ---------------------------------------------------------------------------


def hf_cache_snapshot(hub: Path, repo_id: str, revision: str, main: str | None = None) -> Path:
    """``hub/models--ORG--NAME/snapshots/REVISION``, ``refs/main`` naming ``main`` when given."""
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    if main:
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(main, encoding="utf-8")
    return repo / "snapshots" / revision


@pytest.mark.parametrize("revision", ["pinned", "main", "other"])
def test_owlvit_and_clip_from_the_hf_cache_without_a_download(webui_models, monkeypatch, revision):
    hub = Path(str(webui_models.parent / "hf-home")) / "hub"
    found = {}
    for name, write in (("owlvit_base", write_owlvit), ("clip_vit_b32", write_clip)):
        spec = get_spec(name)
        rev = {"pinned": spec.revision, "main": "f" * 40, "other": "e" * 40}[revision]
        snapshot = hf_cache_snapshot(hub, spec.repo_id, rev, main=rev if revision == "main" else None)
        found[name] = write(snapshot)
    refuse_downloads(monkeypatch)
    stages = factory.build_webui_stages(PipelineOptions(restore=False, segment=False, inpaint=False),
                                        StageChoices(detector="owlvit"), settings_for(webui_models))
    assert stages.tagger is not None
    assert factory.search_dirs()["transformers"] == [hub]
    tags = stages.tagger.tag(Image.new("RGB", (96, 64), "white"))
    assert set(tags.styles), "the CLIP scorer from the cache ran"


def test_the_pinned_revision_wins_over_others_in_the_cache(webui_models):
    from alien_filters.models.manager import ModelManager

    hub = webui_models.parent / "hf-home" / "hub"
    spec = get_spec("clip_vit_b32")
    for rev in ("0" * 40, spec.revision, "f" * 40):
        write_clip(hf_cache_snapshot(hub, spec.repo_id, rev, main="f" * 40))
    manager = ModelManager(webui_models / "alien-filters", search_dirs=factory.search_dirs())
    assert manager.locate("clip_vit_b32").name == spec.revision


def test_swinir_from_models_swinir_and_ours_from_our_folder(webui_models, monkeypatch):
    (webui_models / "SwinIR").mkdir()
    save_as_released({"params_ema": build_swinir(4).state_dict()}, webui_models / "SwinIR" / "SwinIR_4x.pth")
    ours = webui_models / "alien-filters" / "sam" / SAM_FILES["vit_b"]
    ours.parent.mkdir(parents=True)
    ours.write_bytes(b"x")  # present is enough to be chosen; it is not loaded here
    refuse_downloads(monkeypatch)
    settings = dataclasses.replace(settings_for(webui_models), restorer="webui-swinir")
    stages = factory.build_webui_stages(PipelineOptions(tag=False, inpaint=False), StageChoices(), settings)
    assert stages.segmenter.checkpoint == ours
    shared.sd_upscalers = UpscalerSwinIR(str(webui_models / "SwinIR")).scalers
    assert stages.restorer.name == "webui-swinir:SwinIR_4x"


def test_default_restorer_is_ours_from_models_swinir_with_x2(webui_models, monkeypatch):
    """By default (setting ``restorer``: alien-swinir) our SwinIR restores, reading both released files from the
    WebUI's models/SwinIR; a 250x350 photo takes the x2 model in one pass."""
    folder = webui_models / "SwinIR"
    folder.mkdir()
    save_as_released({"params_ema": build_swinir(4).state_dict()}, folder / "SwinIR_4x.pth")
    save_as_released({"params_ema": build_swinir(2).state_dict()},
                      folder / "003_realSR_BSRGAN_DFO_s64w8_SwinIR-M_x2_GAN.pth")
    refuse_downloads(monkeypatch)
    stages = factory.build_webui_stages(PipelineOptions(tag=False, segment=False, inpaint=False), StageChoices(),
                                        settings_for(webui_models))
    assert isinstance(stages.restorer, SwinIRRestorer) and sorted(stages.restorer.weights) == [2, 4]
    out = stages.restorer.restore(Image.new("RGB", (250, 350), "teal"), (512, 720))
    assert out.size == (512, 720) and list(stages.restorer._models) == [2]


# -- restore: one model pass per image ----------------------------------------------------------------------


def test_webui_swinir_runs_once_for_a_small_shortfall(tmp_path):
    """170x125 -> 348x256 is 2.048x: a x2 SwinIR runs once and the rest is a resize (the WebUI's own upscale
    loop would run it twice, on 170x125 and again on 340x250, as it does for a 340x250 photo)."""
    folder = tmp_path / "SwinIR"
    save_as_released({"params_ema": build_swinir(2).state_dict()}, folder / "SwinIR_2x.pth")
    shared.sd_upscalers = upscaler.UpscalerNone().scalers + UpscalerSwinIR(str(folder)).scalers
    entry = shared.sd_upscalers[-1]
    passes: list[tuple[int, int]] = []
    original = entry.scaler.do_upscale
    entry.scaler.do_upscale = lambda img, path: (passes.append(img.size), original(img, path))[1]
    out = WebUISwinIRRestorer().restore(Image.new("RGB", (170, 125), "teal"), (348, 256))
    assert passes == [(170, 125)]
    assert out.size == (348, 256)


# -- the console: failures and the total progress bar ---------------------------------------------------------


def test_failed_images_are_one_console_line_each_and_the_bar_is_reset(tmp_path, capsys):
    make_app(tmp_path)  # settings pointing into tmp_path

    class BrokenSegmenter:
        name = "broken"

        def segment(self, image, detections):
            raise ValueError("no masks today")

    service = AlienService(lambda options, choices: Stages(None, ColourTagger(), BrokenSegmenter(), None))
    image, _ = room_image(4, size=(160, 128), n_objects=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    upload = service.decode_upload("room.png", buffer.getvalue())
    shared.total_tqdm.updateTotal(40)
    shared.total_tqdm.update()
    run = RunOptions(theme=get_theme("alien"), options=PipelineOptions(restore=False, inpaint=False))
    outcome = service.process_images([upload], run)[0]
    assert outcome.status == "failed"
    err = capsys.readouterr().err
    assert "*** Alien Filters: room.png: segment failed: ValueError: no masks today" in err.splitlines()
    assert (shared.total_tqdm.n, shared.total_tqdm.total) == (0, 0), "reset when the session ends"


def test_an_unexpected_job_error_prints_its_traceback(tmp_path, capsys):
    make_app(tmp_path)
    service = AlienService(lambda options, choices: (_ for _ in ()).throw(KeyError("boom")))
    folder = tmp_path / "in"
    folder.mkdir()
    job = service.submit_folder(folder, tmp_path / "out", RunOptions(theme=get_theme("alien")))
    final = service.registry.wait(job.id, 30)
    assert final.state == "failed"
    err = capsys.readouterr().err
    assert f"*** Alien Filters: job {job.id} failed" in err and "Traceback" in err and "KeyError: 'boom'" in err
    assert final.error == "KeyError: 'boom'"
    assert not runtime.in_session()
