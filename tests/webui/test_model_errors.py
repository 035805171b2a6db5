"""A first run with a model not on disk and no network: the tab's Status, the API and folder jobs say which file is
missing, its URL and where to put it (never a bare "Error" or a 500); a download shows its progress in the WebUI."""

from __future__ import annotations

import http.server
import re
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from modules import errors, shared

from alien_filters.webui import factory, runtime
from alien_filters.webui.service import AlienService
from alien_filters.webui.ui import STAGES, Selection, TabActions
from tests.support.rooms import room_image, write_rooms
from tests.webui.api_fixtures import b64_png, make_app
from tests.webui.missing_models import named_model_file, without_models

CONFIG = ("alien", "", STAGES, "auto", "sam_vit_b", 7)
MIB = 1 << 20


@pytest.fixture
def offline(tmp_path: Path, monkeypatch):
    """(app, service over the real WebUI factory, our empty models folder, a folder with two photos)."""
    (tmp_path / "allowed").mkdir()
    app, service = make_app(tmp_path)
    service.stages_factory = factory.build_webui_stages
    models = without_models(tmp_path, monkeypatch)
    photos = tmp_path / "allowed" / "photos"
    write_rooms(photos, 2, nested=False)
    return app, service, models, photos


def test_preview_and_run_show_the_missing_model_in_the_status(offline, capsys):
    _, service, models, photos = offline
    actions = TabActions(service)
    sheet, tags, plan, status = actions.preview("", "Server folder", None, str(photos), *CONFIG)
    assert (sheet, tags, plan) == (None, "", "") and status.startswith("❌ Could not download")
    named_model_file(status, models)
    gallery, selection, run_status = actions.run("task(r1)", "Server folder", None, str(photos), "", *CONFIG)
    assert gallery == [] and isinstance(selection, Selection) and run_status == status
    assert errors.reported == [], "a missing model is no unexpected error"
    console, message = capsys.readouterr().err, status.removeprefix("❌ ")
    assert f"Alien Filters: Preview failed: {message}" in console and f"Alien Filters: Run failed: {message}" in console


def test_unexpected_errors_come_back_in_words_with_the_traceback_on_the_console(offline):
    _, service, _, photos = offline

    def broken(options, choices):
        raise KeyError("boom")

    service.stages_factory = broken
    *_, status = TabActions(service).preview("", "Server folder", None, str(photos), *CONFIG)
    assert status == "❌ Preview failed unexpectedly (KeyError: 'boom'); the console has the details"
    assert errors.reported == ["Alien Filters: Preview failed"]


def test_the_api_answers_503_naming_the_model_and_documents_it(offline):
    app, _, models, _ = offline
    client = TestClient(app)
    image, _ = room_image(1, size=(160, 128), n_objects=2)
    response = client.post("/alien/process", json={"images": [b64_png(image)], "stages": {"inpaint": False}})
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["error"] == "Service Unavailable" and body["message"].startswith("Could not download")
    named_model_file(body["message"], models)
    documented = app.openapi()["paths"]["/alien/process"]["post"]["responses"]
    assert documented["503"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert errors.reported == []


def test_a_folder_job_fails_with_the_message(offline):
    app, service, models, _ = offline
    client = TestClient(app)
    response = client.post("/alien/process", json={"folder": "photos"})
    assert response.status_code == 200, response.text
    job = service.registry.wait(response.json()["job_id"], 60)
    assert job.state == "failed" and job.error.startswith("Could not download")
    named_model_file(job.error, models)
    assert client.get(f"/alien/jobs/{job.id}").json()["error"] == job.error
    assert errors.reported == []


class _SlowModelServer(http.server.BaseHTTPRequestHandler):
    """Answers every file with 3 MiB, one MiB at a time; after the first two it records what the WebUI's progress text
    (``shared.state.textinfo``, what the progress bar and /sdapi/v1/progress show) says once the client has them."""

    seen: list[str]

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self.send_response(200)
        self.send_header("Content-Length", str(3 * MIB))
        self.end_headers()
        for sent in (1, 2, 3):
            self.wfile.write(b"\0" * MIB)
            self.wfile.flush()
            if sent == 3:  # the client may be done before this thread looks again
                return
            deadline = time.time() + 10
            while f": {sent}.00MB of" not in str(shared.state.textinfo) and time.time() < deadline:
                time.sleep(0.01)
            self.seen.append(str(shared.state.textinfo))


@pytest.fixture
def model_server():
    seen: list[str] = []
    handler = type("Handler", (_SlowModelServer,), {"seen": seen})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()
    httpd.server_close()


def test_a_first_run_download_shows_its_progress_in_the_webui_and_the_console(tmp_path, monkeypatch, model_server,
                                                                              capfd):
    endpoint, seen = model_server
    (tmp_path / "allowed").mkdir()
    make_app(tmp_path)
    models = without_models(tmp_path, monkeypatch, hf_endpoint=endpoint)
    photos = tmp_path / "allowed" / "photos"
    write_rooms(photos, 1, nested=False)
    tag_only = ("alien", "", ["tag"], "auto", "sam_vit_b", 7)  # the first model to fetch: the detector, on HF
    *_, status = TabActions(AlienService(factory.build_webui_stages)).preview(
        "task(download)", "Server folder", None, str(photos), *tag_only)
    assert "expected" in status and "got 3145728" in status  # the served bytes are no model: refused, named
    named_model_file(status, models)
    shown = [re.fullmatch(r"Alien Filters: downloading (\S+): ([\d.]+\w?B) of 3\.00MB \((\d+)%\)", s) for s in seen]
    assert seen and all(shown), seen
    percents: dict[str, list[int]] = {}  # per file (a detector whose config has no published size gets it whole)
    for match in shown:
        percents.setdefault(match.group(1), []).append(int(match.group(3)))
    assert set(map(tuple, percents.values())) == {(33, 66)}, seen
    assert f"{shown[0].group(1)}:" in capfd.readouterr().err, "tqdm's bar on the console"


def test_download_text_without_a_known_size(webui_state):
    runtime.report_download("config.json", 3 * MIB // 2, None)
    assert webui_state.textinfo == "Alien Filters: downloading config.json: 1.50MB"
