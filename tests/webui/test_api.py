"""/alien routes through FastAPI's TestClient: auth, path escapes, body cap, unknown fields, jobs, cancel."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from modules import processing, script_callbacks, shared

from alien_filters.core.masks import rle_decode
from alien_filters.core.settings import SETTING_BOUNDS
from alien_filters.themes import ThemeError, parse_theme
from tests.support.rooms import room_image, write_rooms
from tests.webui.api_fixtures import b64_png, decode, make_app

ROUTES = [("POST", "/alien/process"), ("GET", "/alien/jobs/x"), ("POST", "/alien/jobs/x/cancel"),
          ("GET", "/alien/themes"), ("GET", "/alien/themes/alien"), ("GET", "/alien/schema"),
          ("GET", "/alien/version")]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "allowed").mkdir()
    return tmp_path


@pytest.fixture
def app_service(root):
    return make_app(root)


@pytest.fixture
def client(app_service):
    return TestClient(app_service[0])


def assert_json_error(response, status: int, text: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert text in body["message"], body
    assert body["error"]
    return body


def test_version_schema_and_themes(client):
    assert client.get("/alien/version").json()["name"] == "alien-filters"
    schema = client.get("/alien/schema").json()
    assert schema["additionalProperties"] is False
    assert all(prop.get("description") for prop in schema["properties"].values())
    themes = client.get("/alien/themes").json()
    assert "alien" in [t["name"] for t in themes["themes"]]
    theme = client.get("/alien/themes/alien").json()
    assert theme["theme"]["name"] == "alien" and len(theme["hash"]) == 64
    assert_json_error(client.get("/alien/themes/nope"), 404, "no theme named 'nope'")


@pytest.mark.parametrize("method,path", ROUTES)
def test_api_auth_guards_every_route(client, method, path):
    shared.cmd_opts.api_auth = "alice:s3cret:x,bob:pw"
    response = client.request(method, path, json={})
    body = assert_json_error(response, 401, "Incorrect username or password")
    assert response.headers["WWW-Authenticate"] == "Basic" and body["error"] == "Unauthorized"
    assert client.request(method, path, json={}, auth=("bob", "wrong")).status_code == 401
    assert client.request(method, path, json={}, auth=("bob", "pw")).status_code != 401
    assert client.request(method, path, json={}, auth=("alice", "s3cret:x")).status_code != 401


def test_unknown_fields_are_rejected_with_a_message(client):
    response = client.post("/alien/process", json={"images": [], "colour": "green"})
    body = assert_json_error(response, 422, "colour")
    assert body["detail"]
    nested = client.post("/alien/process", json={"folder": "x", "stages": {"inpaint": True, "paint": 1}})
    assert_json_error(nested, 422, "paint")
    bad_override = client.post("/alien/process", json={"folder": "x", "overrides": {"steps": 0}})
    assert_json_error(bad_override, 422, "steps")


def test_images_or_folder_exactly_one(client):
    assert_json_error(client.post("/alien/process", json={}), 422, "either 'images'")
    assert_json_error(client.post("/alien/process", json={"images": ["x"], "folder": "y"}), 422, "either 'images'")


def test_body_size_cap(root):
    app, _ = make_app(root, max_mb=1)
    client = TestClient(app)
    big = {"images": ["A" * (1024 * 1024 + 10)]}
    assert_json_error(client.post("/alien/process", json=big), 413, "larger than 1048576 bytes")

    def chunks():
        yield b'{"images": ["'
        for _ in range(300):
            yield b"A" * 4096
        yield b'"]}'

    chunked = client.post("/alien/process", content=chunks(), headers={"content-type": "application/json"})
    assert chunked.status_code == 413


@pytest.mark.parametrize("folder", ["../secret", "allowed/../../secret", "/etc", "escape"])
def test_path_escapes_are_forbidden(client, root, folder):
    (root / "secret").mkdir()
    (root / "allowed" / "escape").symlink_to(root / "secret", target_is_directory=True)
    if folder.startswith("allowed/"):
        folder = str(root / folder)
    assert_json_error(client.post("/alien/process", json={"folder": folder}), 403, folder)


def test_symlinked_file_pointing_out_is_forbidden(client, root):
    photos = root / "allowed" / "photos"
    write_rooms(photos, 1, nested=False)
    (root / "secret.jpg").write_bytes((photos / "room_000.jpg").read_bytes())
    (photos / "link.jpg").symlink_to(root / "secret.jpg")
    assert_json_error(client.post("/alien/process", json={"folder": str(photos)}), 403, "link.jpg")


def test_output_folder_outside_roots_is_forbidden(client, root):
    (root / "allowed" / "photos").mkdir()
    response = client.post("/alien/process", json={"folder": "photos", "output_folder": str(root)})
    assert_json_error(response, 403, "outside the allowed roots")


def test_missing_folder_and_bad_theme(client, root):
    assert_json_error(client.post("/alien/process", json={"folder": "nothing-here"}), 404, "no such folder")
    (root / "allowed" / "photos").mkdir()
    bad_yaml = client.post("/alien/process", json={"folder": "photos", "theme_yaml": "name: x\nrules: 3\n"})
    assert_json_error(bad_yaml, 422, "<request>")
    unknown = client.post("/alien/process", json={"folder": "photos", "theme": "nope"})
    assert_json_error(unknown, 404, "no theme named 'nope'")


def test_base64_images_answer_with_results_and_manifests(client):
    image, objects = room_image(3, size=(192, 160), n_objects=2)
    response = client.post("/alien/process", json={
        "images": [b64_png(image), "not base64!"], "names": ["room.png", "broken.png"], "seed": 5,
        "stages": {"restore": True, "tag": True, "segment": True, "inpaint": True},
        "overrides": {"steps": 4}, "return_previews": True})
    assert response.status_code == 400  # the broken one is named before any work starts
    assert "broken.png" in response.json()["message"]

    response = client.post("/alien/process", json={
        "images": [b64_png(image)], "names": ["room.png"], "seed": 5, "overrides": {"steps": 4},
        "return_previews": True})
    assert response.status_code == 200, response.text
    (result,) = response.json()["images"]
    assert result["status"] == "done" and result["name"] == "room.png" and result["preview"]
    manifest = result["manifest"]
    assert manifest["seed"] == 5 and manifest["models"]["inpaint"] == "webui-img2img"
    assert {j["settings"]["steps"] for j in manifest["plan"]["jobs"]} == {4}
    assert {o.label for o in objects} <= set(manifest["masks"])
    final = decode(result["image"])
    assert final.shape[:2] == tuple(manifest["working_size"][::-1])
    union = np.zeros(final.shape[:2], dtype=bool)
    for rle in manifest["masks"].values():
        union |= rle_decode(rle)
    assert processing.calls, "inpainting went through the WebUI's img2img"
    assert all(p.is_api and p.scripts is None for p in processing.calls)
    assert union.any() and len(processing.calls) == len(manifest["plan"]["jobs"])


def test_regional_is_asked_for_but_the_webui_makes_one_img2img_call_per_job(client):
    image, _ = room_image(2, size=(192, 160), n_objects=3)
    response = client.post("/alien/process", json={"images": [b64_png(image)], "regional": True,
                                                   "overrides": {"steps": 4}})
    assert response.status_code == 200, response.text
    manifest = response.json()["images"][0]["manifest"]
    jobs = manifest["plan"]["jobs"]
    assert manifest["options"]["regional"] is True and jobs
    assert manifest["calls"]["regional"] is False and "one call per job" in manifest["calls"]["why"]
    assert [call["jobs"] for call in manifest["calls"]["calls"]] == [[job["index"]] for job in jobs]
    assert len(processing.calls) == len(jobs)
    assert client.post("/alien/process", json={"images": [b64_png(image)], "regional": "yes"}).status_code == 422


def test_dry_run_images_have_no_result_image(client):
    image, _ = room_image(1, size=(160, 128), n_objects=2)
    response = client.post("/alien/process", json={"images": [b64_png(image)], "stages": {"inpaint": False}})
    (result,) = response.json()["images"]
    assert result["status"] == "planned" and result["image"] is None and result["manifest"]["plan"]
    assert processing.calls == []


def wait_for(client, job_id: str, states=("done", "failed", "cancelled", "interrupted"), timeout=60) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/alien/jobs/{job_id}").json()
        if job["state"] in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job['state']}")


def test_folder_job_lifecycle(client, root):
    photos = root / "allowed" / "photos"
    write_rooms(photos, 3)
    response = client.post("/alien/process", json={"folder": "photos", "overrides": {"steps": 2}})
    assert response.status_code == 200 and response.json()["images"] == []
    job = wait_for(client, response.json()["job_id"])
    assert job["state"] == "done" and job["progress"] == 1.0 and job["total"] == 3
    assert sorted(r["status"] for r in job["results"]) == ["done"] * 3
    assert [r["restore_fallback"] for r in job["results"]] == [None] * 3, "restored, not only resized"
    out = Path(job["output_folder"])
    assert out == root / "allowed" / "out" / "photos"
    for r in job["results"]:
        assert (out / r["outputs"]["result"]).is_file() and (out / r["outputs"]["manifest"]).is_file()
    assert_json_error(client.get("/alien/jobs/unknown"), 404, "no job 'unknown'")


def test_cancel_stops_a_running_job_and_records_where(client, root, webui_state):
    photos = root / "allowed" / "photos"
    write_rooms(photos, 3)
    job_id: dict = {}
    known = threading.Event()

    def cancel_during_first_sampling(params):
        if not job_id.get("sent"):
            job_id["sent"] = True
            assert known.wait(10)
            client.post(f"/alien/jobs/{job_id['id']}/cancel")

    script_callbacks.on_cfg_denoiser(cancel_during_first_sampling)
    response = client.post("/alien/process", json={"folder": "photos", "overrides": {"steps": 2}})
    job_id["id"] = response.json()["job_id"]
    known.set()
    job = wait_for(client, job_id["id"])
    assert job["state"] == "cancelled" and job["stopped_at"]
    assert [r["status"] for r in job["results"]] == ["interrupted"]


def _theme_accepts(name: str, value: float) -> bool:
    text = f"name: bounds\nstyle_prompt: s\ndefaults:\n  {name}: {value!r}\nrules:\n  - classes: [bed]\n    prompt: p\n"
    try:
        parse_theme(text)
    except ThemeError:
        return False
    return True


@pytest.mark.parametrize("name", list(SETTING_BOUNDS))
def test_api_refuses_exactly_the_setting_values_a_theme_may_not_hold(client, name):
    bound = SETTING_BOUNDS[name]
    step = 1 if bound.kind is int else 0.01
    low, high = (int(bound.low), int(bound.high)) if bound.kind is int else (bound.low, bound.high)
    for value, allowed in ((low, True), (high, True), (low - step, False), (high + step, False)):
        assert _theme_accepts(name, value) is allowed, (name, value)
        response = client.post("/alien/process", json={"folder": "no-such-folder", "overrides": {name: value}})
        if allowed:
            assert_json_error(response, 404, "no-such-folder")
        else:
            assert_json_error(response, 422, name)


def test_relative_folders_are_looked_up_in_every_root(client, root):
    """As with the default roots (outputs, alien-filters/inputs): a relative folder is found in the second root, a
    relative output folder that exists nowhere yet is made in the first."""
    outputs, inputs = root / "allowed", root / "inputs"
    shared.opts.set("alien_filters_allowed_roots", f"{outputs}\n{inputs}")
    write_rooms(inputs / "rooms", 2, nested=False)
    response = client.post("/alien/process", json={"folder": "rooms", "output_folder": "themed/rooms",
                                                   "overrides": {"steps": 2}})
    assert response.status_code == 200, response.text
    job = wait_for(client, response.json()["job_id"])
    assert job["state"] == "done" and job["total"] == 2
    assert Path(job["folder"]) == inputs / "rooms" and Path(job["output_folder"]) == outputs / "themed" / "rooms"
    assert sorted(p.name for p in (outputs / "themed" / "rooms").glob("*.png")) == ["room_000.png", "room_001.png"]
    assert_json_error(client.post("/alien/process", json={"folder": "rooms/../../secret"}), 403, "'..'")


def test_control_false_plans_no_controlnet_unit(client):
    image, _ = room_image(3, size=(192, 160), n_objects=3)
    theme = ("name: guided\ncontrol: {kind: canny}\n"
             "rules:\n  - {classes: [bed, window, door, table, lamp, chair, sofa, wardrobe], prompt: stone}\n")
    plans = {}
    for control in (True, False):
        response = client.post("/alien/process", json={"images": [b64_png(image)], "theme_yaml": theme,
                                                       "control": control, "stages": {"inpaint": False}})
        assert response.status_code == 200, response.text
        plans[control] = response.json()["images"][0]["manifest"]["plan"]["jobs"]
    assert plans[True] and all(job["control"]["kind"] == "canny" for job in plans[True])
    assert [j["rule"] for j in plans[False]] == [j["rule"] for j in plans[True]]
    assert not any("control" in job for job in plans[False])
    assert client.post("/alien/process", json={"images": [b64_png(image)], "control": "no"}).status_code == 422
