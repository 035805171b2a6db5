"""Opt-in: the extension inside the real WebUI v1.10.1 (marker ``real_webui``).

Needs WEBUI_DIR (a WebUI checkout with repositories/ in place) and WEBUI_PYTHON (its Python environment); see
the README's "Testing against the real WebUI". The suite installs the extension into a fresh data folder, runs
its install.py as the Extensions tab does, writes a tiny random-weight inpainting checkpoint and our models where a
user's WebUI keeps them (OWL-ViT and CLIP in the Hugging Face cache, SAM vit_b in models/sam, a small SwinIR in
models/SwinIR, as the released files are written), starts the WebUI on a loopback port (CPU, offline, default
flags: the safe-unpickle check on) with --api-auth, and calls /alien/process with the DEFAULT stages on a folder of
3 images, and with segmenter `boxes` on base64 images.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

WEBUI_DIR = os.environ.get("WEBUI_DIR")
WEBUI_PYTHON = os.environ.get("WEBUI_PYTHON")
AUTH = ("alien", "s3cret")
FLAGS = ["--skip-prepare-environment", "--skip-install", "--skip-torch-cuda-test", "--skip-version-check",
         "--use-cpu", "all", "--no-half", "--no-half-vae", "--precision", "full", "--api", "--no-download-sd-model",
         "--disable-nan-check"]  # random weights overflow the UNet: NaNs are expected, not a failure
EXTENSION_FILES = ["scripts", "alien_filters", "javascript", "install.py", "style.css"]

pytestmark = [
    pytest.mark.real_webui,
    pytest.mark.skipif(not (WEBUI_DIR and WEBUI_PYTHON), reason="set WEBUI_DIR and WEBUI_PYTHON to run"),
]
requests = pytest.importorskip("requests")

from tests.webui.real_host import (  # noqa: E402  (after the skip: real_host needs requests)
    ROOT,
    ProgressWatcher,
    b64_image,
    b64_png,
    run,
    started_host,
    wait_for_job,
    write_hf_model,
)


def install_extension(data: Path) -> Path:
    """Copy the extension into <data>/extensions and run install.py the way the WebUI runs it."""
    ext = data / "extensions" / "alien-filters"
    ext.mkdir(parents=True)
    for name in EXTENSION_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, ext / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, ext / name)
    env = {**os.environ, "PYTHONPATH": f"{WEBUI_DIR}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = run([WEBUI_PYTHON, ext / "install.py"], cwd=WEBUI_DIR, env=env)
    print("install.py:", out.stdout.strip() or "(nothing to install)")
    run([WEBUI_PYTHON, "-c", "import segment_anything, yaml, scipy"])
    return ext


def write_models(data: Path) -> Path:
    """Where a user's WebUI keeps the models, written as the released files are: a tiny checkpoint (WebUI Python),
    tiny OWL-ViT + CLIP in the Hugging Face cache's snapshot layout, SAM vit_b in models/sam, small SwinIR x4 and
    x2 files in models/SwinIR (no entries newer torch adds: the safe-unpickle check stays on and would refuse them)."""
    from tests.support.builders_detectors import SAM_FILES, write_clip, write_owlvit, write_sam
    from tests.support.builders_swinir import build_swinir
    from tests.support.checkpoint_files import save_as_released

    ckpt = data / "models" / "Stable-diffusion" / "tiny-inpainting.safetensors"
    out = run([WEBUI_PYTHON, ROOT / "tests" / "webui" / "real_webui_checkpoint.py", WEBUI_DIR, ckpt, data / "hf"])
    print(out.stdout.strip())
    write_hf_model(data / "hf" / "hub", "owlvit_base", write_owlvit)
    write_hf_model(data / "hf" / "hub", "clip_vit_b32", write_clip)
    write_sam(data / "models" / "sam" / SAM_FILES["vit_b"])
    save_as_released({"params_ema": build_swinir(4).state_dict()}, data / "models" / "SwinIR" / "SwinIR_4x.pth")
    save_as_released({"params_ema": build_swinir(2).state_dict()},
                     data / "models" / "SwinIR" / "003_realSR_BSRGAN_DFO_s64w8_SwinIR-M_x2_GAN.pth")
    return ckpt


@pytest.fixture(scope="module")
def webui(tmp_path_factory):
    data = tmp_path_factory.mktemp("webui-data")
    install_extension(data)
    ckpt = write_models(data)
    with started_host(WEBUI_PYTHON, WEBUI_DIR, data, [*FLAGS, "--ckpt", str(ckpt), "--api-auth", ":".join(AUTH)]) \
            as url:
        assert requests.get(f"{url}/alien/version", auth=AUTH, timeout=30).status_code == 200
        yield url, data


def test_routes_need_the_api_auth(webui):
    url, _ = webui
    for method, path in [("GET", "/alien/version"), ("GET", "/alien/themes"), ("POST", "/alien/process"),
                         ("GET", "/alien/jobs/x")]:
        response = requests.request(method, url + path, json={}, timeout=30)
        assert response.status_code == 401 and response.json()["message"]
        assert response.headers["WWW-Authenticate"] == "Basic"
    assert requests.get(url + "/alien/themes", auth=AUTH, timeout=30).json()["themes"]


def test_folder_of_three_images_with_progress(webui):
    from tests.support.rooms import write_rooms

    url, data = webui
    folder = data / "alien-filters" / "inputs" / "rooms"  # a default allowed root
    write_rooms(folder, 3)
    body = {"folder": str(folder), "seed": 3, "overrides": {"steps": 2}}  # the default stages: auto, SAM vit_b
    response = requests.post(url + "/alien/process", json=body, auth=AUTH, timeout=60)
    assert response.status_code == 200, response.text
    with ProgressWatcher(url, AUTH) as progress:
        job = wait_for_job(url, response.json()["job_id"], AUTH, timeout=600)
    print(json.dumps({k: job[k] for k in ("state", "total", "error", "stopped_at")}))
    assert job["state"] == "done", job["error"]
    assert sorted(r["status"] for r in job["results"]) == ["done"] * 3, job["results"]
    out = Path(job["output_folder"])
    jobs_run = 0
    for r in job["results"]:
        manifest = json.loads((out / r["outputs"]["manifest"]).read_text())
        assert manifest["status"] == "done" and (out / r["outputs"]["result"]).is_file()
        assert manifest["models"]["inpaint"] == "webui-img2img"
        assert manifest["restore"] == {"ran": "swinir", "fallback": None}, "the default: our SwinIR, from models/SwinIR"
        assert manifest["models"]["segment"] == "sam_vit_b"
        print("stage seconds:", manifest["timings"])
        jobs_run += len(manifest["plan"]["jobs"])
    print(f"inpaint jobs run through the WebUI: {jobs_run}")
    assert_png_info_reads_back(out / job["results"][0]["outputs"]["result"])
    log = (data / "webui.log").read_text()
    assert "Error verifying pickled file" not in log and "Failed loading SwinIR" not in log, log[-5000:]
    ours = data / "models" / "alien-filters"
    assert not any(ours.rglob("*.part")) and not (ours / "transformers").exists(), "nothing was downloaded"
    print("progress textinfo seen:", progress.texts()[:8])
    progress.assert_reported()


PARSE = """
import json, os
from modules import options, shared, shared_options, styles
shared.opts = options.Options(shared_options.options_templates, shared_options.restricted_opts)
shared.prompt_styles = styles.StyleDatabase([os.environ["ALIEN_STYLES"]])
from modules.infotext_utils import parse_generation_parameters
print(json.dumps(parse_generation_parameters(open(os.environ["ALIEN_INFOTEXT"], encoding="utf-8").read())))
"""  # paths by environment: the WebUI's modules parse sys.argv as its own flags


def assert_png_info_reads_back(result_png: Path) -> None:
    """The WebUI's own parse_generation_parameters (what its PNG Info tab runs) reads the result's infotext."""
    from PIL import Image

    text = Image.open(result_png).text
    record = json.loads(text["alien_filters"])
    job = record["jobs"][record["parameters_job"]]
    infotext = result_png.with_suffix(".parameters.txt")
    infotext.write_text(text["parameters"], encoding="utf-8")
    env = {**os.environ, "ALIEN_INFOTEXT": str(infotext), "ALIEN_STYLES": str(infotext.with_suffix(".styles.csv"))}
    out = run([WEBUI_PYTHON, "-c", PARSE], cwd=WEBUI_DIR, env=env)
    parsed = json.loads(out.stdout.strip().splitlines()[-1])
    print("PNG Info:", {k: parsed.get(k) for k in ("Steps", "Sampler", "Seed", "CFG scale", "Denoising strength")})
    assert parsed["Prompt"] == job["prompt"] and parsed["Negative prompt"] == job["negative_prompt"]
    assert parsed["Seed"] == str(job["seed"]) and parsed["Steps"] == str(job["settings"]["steps"])
    assert float(parsed["Denoising strength"]) == job["settings"]["denoising_strength"]
    assert parsed["Sampler"] and parsed["Size-1"] and parsed["Size-2"]


def test_base64_images(webui):
    from tests.support.rooms import room_image

    url, _ = webui
    images = [b64_png(room_image(seed, size=(192, 160), n_objects=2)[0]) for seed in (5, 6)]
    body = {"images": images, "seed": 1, "overrides": {"steps": 2}, "detector": "owlvit", "segmenter": "boxes"}
    response = requests.post(url + "/alien/process", json=body, auth=AUTH, timeout=600)
    assert response.status_code == 200, response.text
    results = response.json()["images"]
    assert [r["status"] for r in results] == ["done", "done"], [r["message"] for r in results]
    for r in results:
        final = b64_image(r["image"])
        assert list(final.size) == r["manifest"]["working_size"]


def control_theme() -> str:
    """The alien theme with canny control on every rule (so every job carries a ControlNet unit)."""
    from tests.support.control_themes import alien_with_canny

    return alien_with_canny(1.0)


def test_control_without_controlnet_runs_the_jobs_and_says_so(webui):
    """No ControlNet extension in this WebUI: the jobs run without their units, the manifest says why."""
    from tests.support.rooms import room_image

    url, _ = webui
    image = b64_png(room_image(5, size=(192, 160), n_objects=2)[0])
    body = {"images": [image], "seed": 1, "overrides": {"steps": 2}, "detector": "owlvit", "segmenter": "boxes",
            "theme_yaml": control_theme()}
    response = requests.post(url + "/alien/process", json=body, auth=AUTH, timeout=600)
    assert response.status_code == 200, response.text
    result = response.json()["images"][0]
    assert result["status"] == "done", result["message"]
    control = result["manifest"]["control"]
    assert control["jobs"], "the random-weight detector found nothing to inpaint in this image"
    assert len(control["jobs"]) == len(result["manifest"]["plan"]["jobs"])
    reason = control["jobs"][0]["reason"]
    assert reason.startswith("no ControlNet in this WebUI") and control["not_applied"] == [reason]
    assert all(r["applied"] is False and r["reason"] == reason for r in control["jobs"])
