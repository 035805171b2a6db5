"""Opt-in: the extension inside a real Stable Diffusion WebUI Forge (marker ``real_forge``).

Needs FORGE_DIR (a Forge checkout with repositories/ in place) and FORGE_PYTHON (its Python environment); see the
README's Development section. FORGE_CHECKPOINT may name a full-size random-weight SD1.5 inpainting checkpoint
written by ``real_forge_checkpoint.py``; without it the suite writes one (about 2 GB; 30 s of CPU).

The suite starts Forge on a loopback port (CPU, offline, its own data folder) and installs the extension the way a
user does: the Extensions tab's "Install from URL" (over gradio 4's queue) with a local git clone of this
repository's committed HEAD, which also runs install.py. Our models go where a user's Forge keeps them: OWLv2 and
CLIP in the Hugging Face hub cache (Forge points HF_HUB_CACHE at models/diffusers unless it is set), SAM vit_b in
models/sam; a user theme ``quick`` (one rule for every class: one inpaint per image) goes into the themes folder.
Forge is restarted to load the extension, then the tab, /alien/process with base64 images and with a folder job,
the progress bar, cancelling, and the tab's Preview and Run in headless Chromium are checked. Every inpaint goes
through Forge's img2img with its full-size UNet.

Our DEFAULT stages (detector auto = OWLv2 on Forge, segmenter SAM vit_b) run in the Chromium case. The API cases
use segmenter ``boxes``: random SAM weights make a mask of nearly the whole image for any box (327663 of 327680
pixels for the smallest class found), which would leave nothing to compare. Random detector weights put boxes of
many classes all over an image, so the API cases first ask for a dry run and then inpaint with an inline theme
whose one rule takes only the smallest class found in each image: the rest of the image must come back unchanged.
Themes here use 2 steps and CFG scale 1 (Forge then skips the unconditional pass): about 100 s per inpaint on 2
shared cores with the full-size UNet; the whole suite takes about 18 minutes.

Forge's built-in ControlNet guides one case: a full-size random-weight SD1.5 ControlNet (real_forge_controlnet.py;
FORGE_CONTROLNET may name one already written, else the suite writes it: 700 MB, 90 s) in models/ControlNet.

Restore is off in every case: Forge restores with SwinIR-L x4 even for a 2x step (about 450 s per image on 2
CPU cores). With restore off the working image is the input itself (inputs are already at the working size), so
the results can be compared pixel for pixel outside the inpainted masks.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest
from PIL import Image

FORGE_DIR = os.environ.get("FORGE_DIR")
FORGE_PYTHON = os.environ.get("FORGE_PYTHON")
FORGE_CHECKPOINT = os.environ.get("FORGE_CHECKPOINT")
FORGE_CONTROLNET = os.environ.get("FORGE_CONTROLNET")
CONTROLNET = "control_v11p_sd15_canny"  # the model a theme's canny unit names by default (core.control)
AUTH = ("alien", "s3cret")
FLAGS = ["--skip-prepare-environment", "--skip-install", "--skip-torch-cuda-test", "--skip-version-check",
         "--skip-python-version-check", "--always-cpu", "--api", "--no-download-sd-model", "--disable-gpu-warning"]
INSTALL_LABEL = "URL for extension's git repository"
EXTENSION = "alien-filters"
SIZE = (640, 512)  # already the working size (short side 512): with restore off the working image is the input
CHROMIUM = "/usr/bin/chromium"
NO_RESTORE = {"restore": False, "tag": True, "segment": True, "inpaint": True}

pytestmark = [
    pytest.mark.real_forge,
    pytest.mark.skipif(not (FORGE_DIR and FORGE_PYTHON), reason="set FORGE_DIR and FORGE_PYTHON to run"),
]
requests = pytest.importorskip("requests")

from tests.webui.real_host import (  # noqa: E402  (after the skip: real_host needs requests)
    ROOT,
    ProgressWatcher,
    assert_kept_outside_masks,
    b64_image,
    b64_png,
    run,
    started_host,
    wait_for_job,
)

# Run with Forge's Python inside the clone of HEAD, so the files are where the INSTALLED extension looks (its
# registry's revisions, its vocabulary); transformers 4.46 there has OWLv2, the detector 'auto' picks on Forge.
WRITE_MODELS = """
import sys
from pathlib import Path

import yaml

sys.path.insert(1, sys.argv[2])
from real_host import write_hf_model
from alien_filters.core.vocabulary import load_vocabulary
from tests.support.builders_detectors import SAM_FILES, write_clip, write_owlv2, write_sam

data = Path(sys.argv[1])
hub = data / "models" / "diffusers"  # Forge points HF_HUB_CACHE there unless it is set
write_hf_model(hub, "owlv2_base", write_owlv2)
write_hf_model(hub, "clip_vit_b32", write_clip)
write_sam(data / "models" / "sam" / SAM_FILES["vit_b"])
theme = {
    "name": "quick",
    "description": "One rule for every class and 2 steps: one affordable inpaint per image on a CPU",
    "style_prompt": "alien hotel room",
    "negative_prompt": "blurry",
    "defaults": {"steps": 2, "cfg_scale": 1.0},
    "rules": [{"name": "everything", "classes": load_vocabulary().class_names(), "prompt": "alien furniture"}],
}
(data / "alien-filters" / "themes").mkdir(parents=True, exist_ok=True)
(data / "alien-filters" / "themes" / "quick.yaml").write_text(yaml.safe_dump(theme), encoding="utf-8")
"""


def committed_clone(dest: Path) -> Path:
    """A local git repository holding this repository's committed HEAD (what 'Install from URL' clones)."""
    run(["git", "clone", "--quiet", "--no-hardlinks", ROOT, dest])
    return dest


def gradio_event(url: str, label: str) -> tuple[int, int, list[int]]:
    """(fn_index, trigger id, input ids) of the click event whose inputs include the component labelled ``label``."""
    config = requests.get(url + "/config", timeout=60).json()
    ids = [c["id"] for c in config["components"] if c.get("props", {}).get("label") == label]
    assert ids, f"no component labelled {label!r} in /config"
    for dep in config["dependencies"]:
        if ids[0] in dep["inputs"] and dep["targets"]:
            return dep["id"], dep["targets"][0][0], dep["inputs"]
    raise AssertionError(f"no event takes {label!r} as an input")


def queue_call(url: str, fn_index: int, trigger_id: int, data: list, timeout: float = 600) -> list:
    """Run one event through gradio 4's queue (POST /queue/join, then the /queue/data stream); its outputs."""
    session = uuid.uuid4().hex
    body = {"data": data, "fn_index": fn_index, "trigger_id": trigger_id, "session_hash": session,
            "event_data": None}
    joined = requests.post(url + "/queue/join", json=body, timeout=60)
    assert joined.status_code == 200, joined.text
    with requests.get(url + "/queue/data", params={"session_hash": session}, stream=True, timeout=timeout) as stream:
        for line in stream.iter_lines(decode_unicode=True):
            if not line or not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message["msg"] == "process_completed":
                assert message["success"], message
                return message["output"]["data"]
            assert message["msg"] != "unexpected_error", message
    raise AssertionError("the queue closed without a result")


def install_from_url(url: str, repository: Path) -> str:
    """The Extensions tab's Install from URL (local directory name, URL, branch); the result message."""
    fn_index, trigger, inputs = gradio_event(url, INSTALL_LABEL)
    assert len(inputs) == 3, inputs
    outputs = queue_call(url, fn_index, trigger, [EXTENSION, str(repository), ""])
    return str(outputs[-1])


def place_checkpoint(data: Path) -> Path:
    target = data / "models" / "Stable-diffusion" / "sd15-inpainting-random.safetensors"
    target.parent.mkdir(parents=True, exist_ok=True)
    if FORGE_CHECKPOINT:
        target.symlink_to(Path(FORGE_CHECKPOINT).resolve())
    else:
        started = time.time()
        out = run([FORGE_PYTHON, ROOT / "tests" / "webui" / "real_forge_checkpoint.py", FORGE_DIR, target])
        print(out.stdout.strip(), f"in {time.time() - started:.0f} s")
    return target


def place_controlnet(data: Path) -> Path:
    """The random-weight ControlNet where Forge lists ControlNet models (models/ControlNet), as the canny default."""
    target = data / "models" / "ControlNet" / f"{CONTROLNET}.safetensors"
    target.parent.mkdir(parents=True, exist_ok=True)
    if FORGE_CONTROLNET:
        target.symlink_to(Path(FORGE_CONTROLNET).resolve())
    else:
        out = run([FORGE_PYTHON, ROOT / "tests" / "webui" / "real_forge_controlnet.py", FORGE_DIR, target])
        print(out.stdout.strip())
    return target


@pytest.fixture(scope="module")
def forge(tmp_path_factory):
    data = tmp_path_factory.mktemp("forge-data")
    source = committed_clone(tmp_path_factory.mktemp("source") / "alien-filters.git")
    place_checkpoint(data)
    place_controlnet(data)
    with started_host(FORGE_PYTHON, FORGE_DIR, data, FLAGS, "forge-install.log") as url:
        message = install_from_url(url, source)
    print("Install from URL:", message)
    extension = data / "extensions" / EXTENSION
    assert "Installed into" in message and (extension / "install.py").is_file(), message
    head = run(["git", "-C", source, "rev-parse", "HEAD"]).stdout.strip()
    assert run(["git", "-C", extension, "rev-parse", "HEAD"]).stdout.strip() == head
    print(f"installed commit {head[:12]}")
    run([FORGE_PYTHON, "-c", "import segment_anything, yaml, scipy"])  # what install.py installs
    run([FORGE_PYTHON, "-c", WRITE_MODELS, data, Path(__file__).parent], cwd=extension,
        env={**os.environ, "PYTHONPATH": str(extension)})
    config = data / "config.json"
    settings = json.loads(config.read_text()) if config.is_file() else {}
    config.write_text(json.dumps({**settings, "alien_filters_default_theme": "quick"}))  # as in Settings
    with started_host(FORGE_PYTHON, FORGE_DIR, data, [*FLAGS, "--api-auth", ":".join(AUTH)]) as url:
        yield url, data
    tracebacks = (data / "webui.log").read_text(errors="replace").split("Traceback")[1:]
    ours = [t[:3000] for t in tracebacks if "alien_filters" in t]
    assert not ours, "tracebacks from the extension in Forge's console:\n" + "\n".join(ours)


def rooms(seeds: list[int]):
    from tests.support.rooms import room_image

    return [room_image(seed, size=SIZE, n_objects=3)[0] for seed in seeds]


def smallest_class_theme(url: str, images: list, control: dict | None = None, **choices: str) -> str:
    """An inline theme (JSON is YAML) whose one rule takes the smallest class a dry run finds in each image (with
    ``control`` as the rule's ControlNet unit)."""
    from alien_filters.core.masks import rle_decode

    body = {"images": [b64_png(i) for i in images], "stages": {**NO_RESTORE, "inpaint": False}, **choices}
    response = requests.post(url + "/alien/process", json=body, auth=AUTH, timeout=900)
    assert response.status_code == 200, response.text
    picked = set()
    for r in response.json()["images"]:
        assert r["status"] == "planned", r["message"]
        areas = {label: int(rle_decode(rle).sum()) for label, rle in r["manifest"]["masks"].items()}
        picked.add(min((area, label) for label, area in areas.items() if area > 0)[1])
    print("dry run picked", sorted(picked))
    rule = {"name": "picked", "classes": sorted(picked), "prompt": "alien furniture", "control": control or False}
    return json.dumps({"name": "picked", "style_prompt": "alien hotel room", "defaults": {"steps": 2, "cfg_scale": 1.0},
                       "rules": [rule]})


def assert_inpainted_part(before, after, manifest: dict) -> int:
    """Some pixels inpainted, at least a quarter of the image outside the masks, and that part unchanged."""
    masked = assert_kept_outside_masks(before, after, manifest)
    assert 0 < masked <= 0.75 * before.width * before.height, f"{masked} masked pixels"
    print(f"jobs {len(manifest['plan']['jobs'])}, masked {masked / (before.width * before.height):.0%}")
    return masked


def test_tab_and_routes_are_there(forge):
    url, _ = forge
    config = requests.get(url + "/config", timeout=60).json()
    labels = {c.get("props", {}).get("label") for c in config["components"]}
    assert "Alien Filters" in labels and "Preview: original | masks | plan" in labels
    assert requests.get(url + "/alien/version", timeout=30).status_code == 401
    assert requests.get(url + "/alien/version", auth=AUTH, timeout=30).json()["name"] == "alien-filters"
    themes = {t["name"] for t in requests.get(url + "/alien/themes", auth=AUTH, timeout=30).json()["themes"]}
    assert {"alien", "quick"} <= themes


def test_base64_images_through_img2img(forge):
    url, _ = forge
    images = rooms([5, 6])
    theme = smallest_class_theme(url, images, segmenter="boxes")
    body = {"images": [b64_png(i) for i in images], "theme_yaml": theme, "seed": 1, "segmenter": "boxes",
            "stages": NO_RESTORE}
    started = time.time()
    response = requests.post(url + "/alien/process", json=body, auth=AUTH, timeout=900)
    print(f"2 images, OWLv2 + boxes + Forge img2img: {time.time() - started:.1f} s")
    assert response.status_code == 200, response.text
    results = response.json()["images"]
    assert [r["status"] for r in results] == ["done", "done"], [r["message"] for r in results]
    for image, r in zip(images, results, strict=True):
        manifest = r["manifest"]
        print("stage seconds:", manifest["timings"], "models:", manifest["models"])
        assert manifest["models"]["tag"].startswith("owlv2") and manifest["models"]["inpaint"] == "webui-img2img"
        assert manifest["options"]["restore"] is False and manifest["options"]["segment"] is False
        assert_inpainted_part(image, b64_image(r["image"]), manifest)


def test_folder_job_through_img2img_with_progress(forge):
    url, data = forge
    folder = data / "alien-filters" / "inputs" / "rooms"  # inside a default allowed root
    folder.mkdir(parents=True)
    images = dict(zip(["a.png", "b.png"], rooms([7, 8]), strict=True))
    for name, image in images.items():
        image.save(folder / name)
    theme = smallest_class_theme(url, list(images.values()), segmenter="boxes")
    body = {"folder": str(folder), "theme_yaml": theme, "seed": 3, "segmenter": "boxes", "stages": NO_RESTORE}
    response = requests.post(url + "/alien/process", json=body, auth=AUTH, timeout=60)
    assert response.status_code == 200, response.text
    started = time.time()
    with ProgressWatcher(url, AUTH) as progress:
        job = wait_for_job(url, response.json()["job_id"], AUTH, timeout=900)
    print(f"folder job of 2 images (boxes): {time.time() - started:.1f} s;", "progress seen:", progress.texts()[:6])
    assert job["state"] == "done", job["error"]
    out = Path(job["output_folder"])
    for r in job["results"]:
        assert r["status"] == "done", r
        manifest = json.loads((out / r["outputs"]["manifest"]).read_text())
        print("stage seconds:", manifest["timings"])
        assert manifest["models"]["inpaint"] == "webui-img2img" and manifest["options"]["segment"] is False
        result = Image.open(out / r["outputs"]["result"])
        assert_inpainted_part(images[Path(r["input"]).name], result, manifest)
    progress.assert_reported()


def test_cancel_a_folder_job(forge):
    url, data = forge
    folder = data / "alien-filters" / "inputs" / "to-cancel"
    folder.mkdir(parents=True)
    for i, image in enumerate(rooms([9, 10, 11])):
        image.save(folder / f"room_{i}.png")
    body = {"folder": str(folder), "theme": "quick", "segmenter": "boxes", "stages": NO_RESTORE}
    response = requests.post(url + "/alien/process", json=body, auth=AUTH, timeout=60)
    assert response.status_code == 200, response.text
    job_id = response.json()["job_id"]
    wait_for_job(url, job_id, AUTH, timeout=300, until=lambda job: job["state"] != "queued")
    cancelled = requests.post(f"{url}/alien/jobs/{job_id}/cancel", auth=AUTH, timeout=30)
    assert cancelled.status_code == 200, cancelled.text
    job = wait_for_job(url, job_id, AUTH, timeout=300)
    print("cancelled job:", {k: job[k] for k in ("state", "stopped_at", "progress", "text")},
          [r["status"] for r in job["results"]])
    assert job["state"] == "cancelled" and job["stopped_at"], job
    assert len([r for r in job["results"] if r["status"] == "done"]) < 3
    out = Path(job["output_folder"])
    # the stage cache (.alien-cache) may already hold the first image's restored copy: not a result
    written = sorted(p.name for p in out.rglob("*") if p.is_file() and ".alien-cache" not in p.parts)
    done = [r for r in job["results"] if r["status"] == "done"]
    assert len([n for n in written if n.endswith(".png")]) == len(done), written  # no partial result
    assert not [n for n in written if n.endswith((".part", ".tmp"))], written


def test_canny_control_runs_inside_forges_controlnet(forge):
    """A rule asking for canny control: Forge's built-in ControlNet loads the model and patches the UNet for the job,
    the infotext carries the unit, the manifest records it as applied, and with no finishing pass every pixel
    outside the masks is unchanged."""
    url, data = forge
    image = rooms([13])[0]
    theme = smallest_class_theme(url, [image], control={"kind": "canny"}, segmenter="boxes")
    log_path = data / "webui.log"
    seen = len(log_path.read_text(errors="replace"))
    body = {"images": [b64_png(image)], "theme_yaml": theme, "seed": 4, "segmenter": "boxes", "stages": NO_RESTORE}
    started = time.time()
    response = requests.post(url + "/alien/process", json=body, auth=AUTH, timeout=900)
    print(f"1 image with canny control through Forge's ControlNet: {time.time() - started:.1f} s")
    assert response.status_code == 200, response.text
    result = response.json()["images"][0]
    assert result["status"] == "done", result["message"]
    manifest = result["manifest"]
    jobs = manifest["plan"]["jobs"]
    records = manifest["control"]["jobs"]
    print("control:", json.dumps(manifest["control"])[:1500])
    assert [(r["applied"], r["kind"], r["model"]) for r in records] == [(True, "canny", CONTROLNET)] * len(jobs)
    assert not (manifest.get("finish") or {}).get("applied"), manifest.get("finish")
    log = log_path.read_text(errors="replace")[seen:]
    model_file = data / "models" / "ControlNet" / f"{CONTROLNET}.safetensors"
    assert log.count(f"Current ControlNet ControlNetPatcher: {model_file}") == len(jobs), log[-5000:]
    assert log.count("ControlNet Method None patched.") == len(jobs), log[-5000:]  # in the UNet for sampling
    assert "Traceback" not in log, log[-5000:]
    after = b64_image(result["image"])
    infotexts = [job["infotext"] for job in json.loads(after.text["alien_filters"])["jobs"]]
    assert len(infotexts) == len(jobs) and all(f'ControlNet 0: "Module: None, Model: {CONTROLNET} [' in text
                                               for text in infotexts), infotexts
    assert_inpainted_part(image, after, manifest)


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_tab_preview_and_run_in_chromium(forge, tmp_path):
    """The default detector and SAM segmenter (restore unticked) through the tab, the quick theme."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    url, data = forge
    upload = tmp_path / "room.png"
    rooms([12])[0].save(upload)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(url + "/", timeout=120_000)
        page.get_by_role("tab", name="Alien Filters").click(timeout=120_000)
        page.locator("#alien_filters_files input[type=file]").set_input_files(str(upload))
        restore = page.locator("#alien_filters_stages label").filter(has_text="restore").locator("input")
        restore.uncheck()
        assert not restore.is_checked()
        try:
            started = time.time()
            page.locator("#alien_filters_preview").click()
            page.wait_for_function(
                "() => document.querySelector('#alien_filters_plan textarea').value.length > 0", timeout=600_000)
            page.locator("#alien_filters_sheet img").wait_for(timeout=60_000)
            print(f"Preview (OWLv2 + SAM vit_b): {time.time() - started:.1f} s;",
                  "plan:", page.locator("#alien_filters_plan textarea").input_value()[:120])
            started = time.time()
            page.locator("#alien_filters_run").click()
            status = "document.querySelector('#alien_filters_status textarea').value"
            page.wait_for_function(f"() => {status}.startsWith('done 1')", timeout=900_000)
            page.locator("#alien_filters_gallery img").nth(1).wait_for(timeout=60_000)
            print(f"Run: {time.time() - started:.1f} s;", page.locator("#alien_filters_status textarea").input_value())
            page.locator("#alien_filters_gallery img").nth(1).click()
            page.wait_for_function(
                "() => document.querySelector('#alien_filters_details').innerText.includes('seed')", timeout=60_000)
        except playwright_api.TimeoutError:
            page.screenshot(path=str(tmp_path / "failed.png"), full_page=True)
            status_text = page.locator("#alien_filters_status textarea").input_value()
            raise AssertionError(f"status {status_text!r}; console errors {errors}; see {tmp_path}") from None
        finally:
            shot = os.environ.get("ALIEN_FILTERS_SCREENSHOT")
            if shot:
                page.screenshot(path=shot, full_page=True)
            browser.close()
    manifest = json.loads((data / "outputs" / "alien-filters" / "room.json").read_text())
    print("stage seconds:", manifest["timings"], "models:", manifest["models"])
    assert manifest["models"]["segment"] == "sam_vit_b" and manifest["models"]["tag"].startswith("owlv2")
    assert manifest["models"]["inpaint"] == "webui-img2img" and len(manifest["plan"]["jobs"]) == 1
