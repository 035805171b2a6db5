"""Result PNGs carry the WebUI's infotext: the PNG Info tab's parser (infotext_utils.parse_generation_parameters)
reads back the prompt, negative prompt, steps, sampler, CFG scale, seed, denoising strength and size of the job it
describes, for WebUI img2img (folder batch and API) and for the stand-alone diffusers inpainter."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from modules import infotext_utils, processing
from PIL import Image

from alien_filters.batch.runner import BatchRunner, BatchSettings
from alien_filters.core.compositing import model_size
from alien_filters.core.pipeline import Stages
from alien_filters.core.run_options import with_overrides
from alien_filters.webui.inpainter import WebUIInpainter
from tests.support.doubles import ColourSegmenter, ColourTagger, ResizeRestorer
from tests.support.rooms import room_image
from tests.webui.api_fixtures import b64_png, make_app


def read_png_info(image: Image.Image) -> tuple[dict, dict]:
    """What the PNG Info tab shows: ``parameters`` parsed as the WebUI parses it, and our jobs chunk."""
    assert image.format == "PNG"
    return infotext_utils.parse_generation_parameters(image.info["parameters"]), json.loads(image.info["alien_filters"])


def assert_describes(params: dict, job: dict, size: tuple[int, int], sampler: str) -> None:
    settings = job["settings"]
    assert params["Prompt"] == job["prompt"] and params["Negative prompt"] == job["negative_prompt"]
    assert params["Steps"] == str(settings["steps"]) and params["Sampler"] == sampler
    assert float(params["CFG scale"]) == settings["cfg_scale"] and params["Seed"] == str(job["seed"])
    assert float(params["Denoising strength"]) == settings["denoising_strength"]
    assert (int(params["Size-1"]), int(params["Size-2"])) == size


def shown_job(params: dict, record: dict) -> dict:
    """The job ``parameters`` describes: the largest, named by our keys and by the jobs chunk."""
    jobs = record["jobs"]
    job = jobs[record["parameters_job"]]
    assert job["area"] == max(j["area"] for j in jobs) and len(jobs) >= 2
    assert params["Alien Filters job"] == str(job["index"] + 1) and params["Alien Filters jobs"] == str(len(jobs))
    assert params["Alien Filters rule"] == job["rule"]
    return job


def assert_webui_infotext(image: Image.Image) -> dict:
    """``parameters`` is the WebUI's own infotext of the largest job's img2img call, every job's in the chunk
    (returned)."""
    params, record = read_png_info(image)
    job = shown_job(params, record)
    p = processing.calls[job["index"]]
    assert_describes(params, job, (p.width, p.height), p.sampler_name)
    assert (params["Model"], params["Model hash"]) == ("sd-v1-5-inpainting", "c6bbc15e32")
    assert params["Inpaint area"] == "Only masked" and params["Version"] == "v1.10.1"
    for each in record["jobs"]:
        again = infotext_utils.parse_generation_parameters(each["infotext"])
        assert (again["Prompt"], again["Seed"]) == (each["prompt"], str(each["seed"]))
    return record


@pytest.fixture
def room(tmp_path: Path) -> Path:
    image, _ = room_image(4, size=(224, 192), n_objects=3)
    path = tmp_path / "rooms" / "room.png"
    path.parent.mkdir()
    image.save(path)
    return path


def test_webui_batch_result_png_carries_the_webuis_infotext(tmp_path, room, alien_theme):
    stages = Stages(ResizeRestorer(), ColourTagger(), ColourSegmenter(), WebUIInpainter())
    theme = with_overrides(alien_theme, {"steps": 4})
    report = BatchRunner(stages, theme, BatchSettings(out_dir=tmp_path / "out", seed=9)).run([room])
    (outcome,) = report.outcomes
    assert outcome.status == "done", outcome.message
    record = assert_webui_infotext(Image.open(tmp_path / "out" / outcome.outputs["result"]))
    manifest = json.loads((tmp_path / "out" / outcome.outputs["manifest"]).read_text())
    assert manifest["infotexts"] == [job["infotext"] for job in record["jobs"]]


def test_api_base64_result_carries_the_webuis_infotext(tmp_path):
    (tmp_path / "allowed").mkdir()
    client = TestClient(make_app(tmp_path)[0])
    image, _ = room_image(4, size=(224, 192), n_objects=3)
    response = client.post("/alien/process", json={"images": [b64_png(image)], "seed": 9, "overrides": {"steps": 4}})
    assert response.status_code == 200, response.text
    (result,) = response.json()["images"]
    assert_webui_infotext(Image.open(io.BytesIO(base64.b64decode(result["image"]))))


@pytest.mark.filterwarnings("ignore")
def test_standalone_result_png_carries_an_infotext_built_from_the_job(tmp_path, room, alien_theme):
    torch = pytest.importorskip("torch")
    from alien_filters.stages.inpaint_diffusers import DiffusersInpainter
    from tests.support.builders_diffusion import single_file_config_dir, write_tiny_inpaint_checkpoint

    checkpoint = write_tiny_inpaint_checkpoint(tmp_path / "sd", as_single_file=True)
    inpainter = DiffusersInpainter(checkpoint, config_dir=single_file_config_dir(checkpoint))
    stages = Stages(ResizeRestorer(), ColourTagger(), ColourSegmenter(), inpainter)
    theme = with_overrides(alien_theme, {"steps": 2})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        report = BatchRunner(stages, theme, BatchSettings(out_dir=tmp_path / "out", seed=9)).run([room])
    finally:
        torch.set_num_threads(threads)
    (outcome,) = report.outcomes
    assert outcome.status == "done", outcome.message
    params, record = read_png_info(Image.open(tmp_path / "out" / outcome.outputs["result"]))
    job = shown_job(params, record)
    manifest = json.loads((tmp_path / "out" / outcome.outputs["manifest"]).read_text(encoding="utf-8"))
    (call,) = [c for c in manifest["calls"]["calls"] if job["index"] in c["jobs"]]
    x0, y0, x1, y1 = job["box"]
    if len(call["jobs"]) == 1:  # its own crop, as A1111's "only masked"
        assert tuple(call["size"]) == model_size(x1 - x0, y1 - y0, 8, inpainter.model_size())
    else:  # a regional call: the call's size and seed, and which rules shared it
        assert params["Alien Filters call"] == "+".join(call["rules"])
    assert_describes(params, {**job, "seed": call["seed"]}, tuple(call["size"]), "DPM++ 2M")
    assert params["Schedule type"] == "Uniform" and params["Model"] == "tiny-sd-inpainting"
    assert params["Model hash"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:10]
    assert all(each["infotext"] for each in record["jobs"])
