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

import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

WEBUI_DIR = os.environ.get("WEBUI_DIR")
WEBUI_PYTHON = os.environ.get("WEBUI_PYTHON")
ROOT = Path(__file__).resolve().parents[2]
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


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
    tiny OWL-ViT + CLIP in the Hugging Face cache's snapshot layout, SAM vit_b in models/sam, a small SwinIR x4 in
    models/SwinIR (no entries newer torch adds: the safe-unpickle check stays on and would refuse them)."""
    from alien_filters.models.registry import get_spec
    from tests.support.builders_detectors import SAM_FILES, write_clip, write_owlvit, write_sam
    from tests.support.builders_swinir import build_swinir
    from tests.support.checkpoint_files import save_as_released

    ckpt = data / "models" / "Stable-diffusion" / "tiny-inpainting.safetensors"
    out = run([WEBUI_PYTHON, ROOT / "tests" / "webui" / "real_webui_checkpoint.py", WEBUI_DIR, ckpt, data / "hf"])
    print(out.stdout.strip())
    for name, write in (("owlvit_base", write_owlvit), ("clip_vit_b32", write_clip)):
        spec = get_spec(name)
        repo = data / "hf" / "hub" / ("models--" + spec.repo_id.replace("/", "--"))
        write(repo / "snapshots" / spec.revision)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(spec.revision, encoding="utf-8")
    write_sam(data / "models" / "sam" / SAM_FILES["vit_b"])
    save_as_released({"params_ema": build_swinir(4).state_dict()}, data / "models" / "SwinIR" / "SwinIR_4x.pth")
    return ckpt


@pytest.fixture(scope="module")
def webui(tmp_path_factory):
    data = tmp_path_factory.mktemp("webui-data")
    install_extension(data)
    ckpt = write_models(data)
    port = free_port()
    env = {**os.environ, "HF_HOME": str(data / "hf"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "COMMANDLINE_ARGS": "", "GRADIO_ANALYTICS_ENABLED": "False"}
    log = (data / "webui.log").open("w")
    proc = subprocess.Popen([WEBUI_PYTHON, "launch.py", "--data-dir", str(data), *FLAGS, "--port", str(port),
                             "--ckpt", str(ckpt), "--api-auth", ":".join(AUTH)],
                            cwd=WEBUI_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    try:
        # no request before start-up ends: one that reaches the app before the WebUI adds its API middleware
        # makes starlette refuse the middleware ("Cannot add middleware after an application has started")
        while "Startup time:" not in (data / "webui.log").read_text():
            assert proc.poll() is None, (data / "webui.log").read_text()[-5000:]
            assert time.time() < deadline, (data / "webui.log").read_text()[-5000:]
            time.sleep(1)
        assert requests.get(f"{url}/alien/version", auth=AUTH, timeout=30).status_code == 200
        yield url, data
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        print("WebUI log tail:\n" + (data / "webui.log").read_text()[-3000:], file=sys.stderr)


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
    job_id = response.json()["job_id"]
    seen_progress: list[dict] = []
    stop = threading.Event()

    def poll_progress():
        while not stop.is_set():
            seen_progress.append(requests.get(url + "/sdapi/v1/progress", auth=AUTH, timeout=30).json())
            time.sleep(0.3)

    poller = threading.Thread(target=poll_progress, daemon=True)
    poller.start()
    deadline = time.time() + 600
    while True:
        job = requests.get(f"{url}/alien/jobs/{job_id}", auth=AUTH, timeout=30).json()
        if job["state"] not in ("queued", "running"):
            break
        assert time.time() < deadline, job
        time.sleep(1)
    stop.set()
    poller.join(10)
    print(json.dumps({k: job[k] for k in ("state", "total", "error", "stopped_at")}))
    assert job["state"] == "done", job["error"]
    assert sorted(r["status"] for r in job["results"]) == ["done"] * 3, job["results"]
    out = Path(job["output_folder"])
    jobs_run = 0
    for r in job["results"]:
        manifest = json.loads((out / r["outputs"]["manifest"]).read_text())
        assert manifest["status"] == "done" and (out / r["outputs"]["result"]).is_file()
        assert manifest["models"]["inpaint"] == "webui-img2img"
        assert manifest["models"]["restore"] == "webui-swinir:SwinIR_4x"
        assert manifest["models"]["segment"] == "sam_vit_b"
        print("stage seconds:", manifest["timings"])
        jobs_run += len(manifest["plan"]["jobs"])
    print(f"inpaint jobs run through the WebUI: {jobs_run}")
    log = (data / "webui.log").read_text()
    assert "Error verifying pickled file" not in log and "Failed loading SwinIR" not in log, log[-5000:]
    ours = data / "models" / "alien-filters"
    assert not any(ours.rglob("*.part")) and not (ours / "transformers").exists(), "nothing was downloaded"
    texts = {p.get("textinfo") for p in seen_progress}
    print("progress textinfo seen:", sorted(t for t in texts if t)[:8])
    assert any(t and t.startswith("Alien Filters") for t in texts)
    assert any(p["progress"] > 0 for p in seen_progress)


def test_base64_images(webui):
    from PIL import Image

    from tests.support.rooms import room_image

    url, _ = webui
    images = []
    for seed in (5, 6):
        buffer = io.BytesIO()
        room_image(seed, size=(192, 160), n_objects=2)[0].save(buffer, format="PNG")
        images.append(base64.b64encode(buffer.getvalue()).decode())
    body = {"images": images, "seed": 1, "overrides": {"steps": 2}, "detector": "owlvit", "segmenter": "boxes"}
    response = requests.post(url + "/alien/process", json=body, auth=AUTH, timeout=600)
    assert response.status_code == 200, response.text
    results = response.json()["images"]
    assert [r["status"] for r in results] == ["done", "done"], [r["message"] for r in results]
    for r in results:
        final = Image.open(io.BytesIO(base64.b64decode(r["image"])))
        assert list(final.size) == r["manifest"]["working_size"]
