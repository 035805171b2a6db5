"""Opt-in: structure guidance inside the real WebUI v1.10.1 with the real sd-webui-controlnet (marker ``real_webui``).

Needs WEBUI_DIR and WEBUI_PYTHON (see test_real_webui.py) and CONTROLNET_DIR: a checkout of
Mikubill/sd-webui-controlnet (tested at 56cec5b2958edf3b1807b7e7b2b1b5186dbd2f81, 2024-07-25) whose requirements are
installed in WEBUI_PYTHON's environment (its install.py, as the WebUI runs it). The suite copies the checkout into
the data folder's extensions/, writes a random-weight SD1.5-sized ControlNet as
models/ControlNet/control_v11p_sd15_canny.safetensors (built with the extension's own class) and an inpainting
checkpoint whose UNet has SD1.5's sizes (a ControlNet's outputs are added to the UNet's features), starts the WebUI
and runs /alien/process with a theme whose every rule asks for canny control. The processing really ran the
ControlNet: the extension logs that it loaded the model and hooked the UNet once per job, the manifest records the
unit as applied, and the WebUI's infotext carries the unit ("ControlNet 0"). About 5 minutes on 2 CPU cores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.webui.test_real_webui import (
    AUTH,
    FLAGS,
    WEBUI_DIR,
    WEBUI_PYTHON,
    control_theme,
    install_extension,
    write_models,
)

CONTROLNET_DIR = os.environ.get("CONTROLNET_DIR")
CONTROLNET_COMMIT = "56cec5b2958edf3b1807b7e7b2b1b5186dbd2f81"
MODEL = "control_v11p_sd15_canny"

pytestmark = [
    pytest.mark.real_webui,
    pytest.mark.skipif(not (WEBUI_DIR and WEBUI_PYTHON and CONTROLNET_DIR),
                       reason="set WEBUI_DIR, WEBUI_PYTHON and CONTROLNET_DIR to run"),
]
requests = pytest.importorskip("requests")

from tests.webui.real_host import ROOT, b64_image, b64_png, run, started_host  # noqa: E402


@pytest.fixture(scope="module")
def webui_with_controlnet(tmp_path_factory):
    data = tmp_path_factory.mktemp("webui-controlnet-data")
    commit = subprocess.run(["git", "-C", CONTROLNET_DIR, "rev-parse", "HEAD"], capture_output=True, text=True)
    print("sd-webui-controlnet at", commit.stdout.strip() or "(not a git checkout)")
    shutil.copytree(CONTROLNET_DIR, data / "extensions" / "sd-webui-controlnet",
                    ignore=shutil.ignore_patterns(".git", "__pycache__"))
    install_extension(data)
    write_models(data)  # our models where a user keeps them (and the tiny checkpoint, not used here)
    ckpt = data / "models" / "Stable-diffusion" / "sd15-sized-inpainting.safetensors"
    print(run([WEBUI_PYTHON, ROOT / "tests" / "webui" / "real_webui_checkpoint.py", WEBUI_DIR, ckpt, data / "hf",
               "--full-unet"]).stdout.strip())
    cn_model = data / "models" / "ControlNet" / f"{MODEL}.safetensors"
    print(run([WEBUI_PYTHON, ROOT / "tests" / "webui" / "real_webui_controlnet.py", WEBUI_DIR, CONTROLNET_DIR,
               cn_model]).stdout.strip())
    with started_host(WEBUI_PYTHON, WEBUI_DIR, data, [*FLAGS, "--ckpt", str(ckpt), "--api-auth", ":".join(AUTH)]) \
            as url:
        yield url, data


def test_a_job_really_runs_the_controlnet(webui_with_controlnet):
    from tests.support.rooms import room_image

    url, data = webui_with_controlnet
    image = b64_png(room_image(5, size=(192, 160), n_objects=2)[0])
    body = {"images": [image], "seed": 1, "overrides": {"steps": 2}, "detector": "owlvit", "segmenter": "boxes",
            "theme_yaml": control_theme()}
    response = requests.post(url + "/alien/process", json=body, auth=AUTH, timeout=1800)
    assert response.status_code == 200, response.text
    result = response.json()["images"][0]
    assert result["status"] == "done", result["message"]
    manifest = result["manifest"]
    jobs = manifest["plan"]["jobs"]
    assert jobs, "the random-weight detector found nothing to inpaint in this image"
    records = manifest["control"]["jobs"]
    print("control records:", json.dumps(records)[:2000])
    assert [r["applied"] for r in records] == [True] * len(jobs), records
    assert all(r["model"] == MODEL and r["kind"] == "canny" for r in records)
    log = (data / "webui.log").read_text(errors="replace")
    assert f"Loading model: {MODEL} [" in log, log[-5000:]
    assert log.count("ControlNet Hooked - Time") == len(jobs), log[-5000:]
    assert "Error running process" not in log and "Traceback" not in log, log[-5000:]
    parameters = b64_image(result["image"]).text["parameters"]
    assert f"ControlNet 0: \"Module: none, Model: {MODEL} [" in parameters, parameters


def test_seconds_per_job_with_and_without_control(webui_with_controlnet):
    """The cost of a unit inside the WebUI: the same image, seed and plan with every rule's control off, then on, after
    the first test loaded the ControlNet (both warm). Written to benchmarks/results/webui-controlnet.json."""
    import time

    import yaml

    from alien_filters.batch.atomic import write_json
    from benchmarks.instrument import load_average, machine_info
    from tests.support.rooms import room_image

    url, _ = webui_with_controlnet
    image = b64_png(room_image(6, size=(192, 160), n_objects=2)[0])
    guided = control_theme()
    plain = yaml.safe_load(guided)
    for rule in plain["rules"]:
        rule["control"] = False
    seconds = {}
    for name, theme in (("without", yaml.safe_dump(plain, sort_keys=False)), ("with", guided)):
        body = {"images": [image], "seed": 2, "overrides": {"steps": 2}, "detector": "owlvit", "segmenter": "boxes",
                "theme_yaml": theme}
        start = time.perf_counter()
        response = requests.post(url + "/alien/process", json=body, auth=AUTH, timeout=1800)
        wall = time.perf_counter() - start
        result = response.json()["images"][0]
        assert result["status"] == "done", result["message"]
        jobs = len(result["manifest"]["plan"]["jobs"])
        assert jobs, "the random-weight detector found nothing to inpaint in this image"
        seconds[name] = {"jobs": jobs, "inpaint_seconds": result["manifest"]["timings"]["inpaint"],
                         "per_job": result["manifest"]["timings"]["inpaint"] / jobs, "request_seconds": wall}
    assert seconds["with"]["jobs"] == seconds["without"]["jobs"]
    ratio = seconds["with"]["per_job"] / seconds["without"]["per_job"]
    record = {"what": "seconds per inpaint job inside the real A1111 v1.10.1 (CPU) with sd-webui-controlnet 56cec5b: "
                      "the same image, plan and seed with every rule's canny unit off, then on; SD1.5-sized UNet and "
                      "ControlNet with random weights, 512 px crops, steps 2",
              "seconds": seconds, "ratio_with_to_without": ratio, "load_average": load_average(),
              "machine": machine_info("cpu")}
    print("control cost:", json.dumps(record))
    write_json(ROOT / "benchmarks" / "results" / "webui-controlnet.json", record)
