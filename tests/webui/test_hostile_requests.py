"""Hostile requests to the /alien routes (the real API over the WebUI stand-in).

Every one gets a 4xx with a JSON message, starts no work, writes nothing outside the allowed roots, and the
server keeps serving. The roots hold photos; next to them lie a secret folder and a sibling whose name starts
with the root's name; symlinks inside the roots point out of them.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from modules import shared
from PIL import Image

from tests.support.bad_inputs import png_claiming, snapshot
from tests.support.rooms import room_image, write_rooms
from tests.webui.api_fixtures import b64_png, make_app

MAX_MB = 1


@pytest.fixture
def root(tmp_path: Path) -> Path:
    allowed = tmp_path / "allowed"
    write_rooms(allowed / "photos", 2)
    write_rooms(tmp_path / "secret", 1, nested=False)
    write_rooms(tmp_path / "allowed-evil", 1, nested=False)  # shares the root's name as a prefix
    (allowed / "escape").symlink_to(tmp_path / "secret", target_is_directory=True)
    (allowed / "leaky").mkdir()
    (allowed / "leaky" / "room.jpg").symlink_to(tmp_path / "secret" / "room_000.jpg")
    return tmp_path


@pytest.fixture
def app_service(root: Path):
    return make_app(root, max_mb=MAX_MB)


@pytest.fixture
def client(app_service) -> TestClient:
    return TestClient(app_service[0])


@pytest.fixture
def guarded(root: Path, client: TestClient, app_service):
    """After the test: nothing changed outside the roots, no job started, and the server still answers."""
    outside = {name: snapshot(root / name) for name in ("secret", "allowed-evil")}
    top = sorted(p.name for p in root.iterdir())
    yield
    assert {name: snapshot(root / name) for name in outside} == outside
    assert sorted(p.name for p in root.iterdir()) == top
    assert app_service[1].registry.list() == []
    assert client.get("/alien/version").status_code == 200


def assert_refused(response, status: int | None = None, *words: str) -> dict:
    """A 4xx answered as our JSON error, whose message holds ``words``."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    if status is not None:
        assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] and body["message"], body
    assert all(word in body["message"] for word in words), body["message"]
    return body


ESCAPES = [
    ("../secret", "'..' is not allowed"),
    ("photos/../../secret", "'..' is not allowed"),
    ("..\\secret", "'..' is not allowed"),
    ("/etc", "outside the allowed roots"),
    ("/", "outside the allowed roots"),
    ("~", "outside the allowed roots"),
    ("{root}/secret", "outside the allowed roots"),
    ("{root}/allowed-evil", "outside the allowed roots"),
    ("escape", "outside the allowed roots"),
    ("escape/sub", "outside the allowed roots"),
    ("photos\x00/../../secret", "invalid path"),
]


@pytest.mark.parametrize(("value", "problem"), ESCAPES, ids=[e[0].replace("\x00", "NUL") for e in ESCAPES])
@pytest.mark.parametrize("field", ["folder", "output_folder"])
def test_path_fields_cannot_leave_the_roots(client, root, guarded, field, value, problem) -> None:
    value = value.format(root=root)
    body = {"folder": value} if field == "folder" else {"folder": "photos", "output_folder": value}
    assert_refused(client.post("/alien/process", json=body), 403, problem)


def test_folder_with_a_file_linking_out_is_refused(client, guarded) -> None:
    assert_refused(client.post("/alien/process", json={"folder": "leaky"}), 403, "room.jpg", "outside")


def finish_jobs(service) -> None:
    """Let every job started by a request end (a running job holds the queue lock the next test needs)."""
    for job in service.registry.list():
        service.registry.wait(job.id, timeout=60)


def test_default_output_folder_linking_out_is_refused(client, root, app_service) -> None:
    (root / "allowed" / "out").mkdir()
    (root / "allowed" / "out" / "photos").symlink_to(root / "secret", target_is_directory=True)
    before = snapshot(root / "secret")
    try:
        assert_refused(client.post("/alien/process", json={"folder": "photos"}), 403, "outside the allowed roots")
    finally:
        finish_jobs(app_service[1])
    assert snapshot(root / "secret") == before


def test_symlinked_folder_inside_the_output_tree_is_not_written_through(client, root, app_service) -> None:
    out = root / "allowed" / "themed"
    out.mkdir()
    (out / "floor2").symlink_to(root / "secret", target_is_directory=True)
    before = snapshot(root / "secret")
    response = client.post("/alien/process", json={"folder": "photos", "output_folder": "themed",
                                                   "stages": {"inpaint": False}})
    finish_jobs(app_service[1])
    assert snapshot(root / "secret") == before, "the job wrote through the link, outside the roots"
    if response.status_code != 200:
        assert_refused(response, 403, "floor2")


def test_oversized_bodies_are_refused_before_reading_them_whole(client, guarded) -> None:
    big = base64.b64encode(b"\0" * (MAX_MB * 1024 * 1024)).decode()
    assert_refused(client.post("/alien/process", json={"images": [big]}), 413, "larger than")

    def chunks():
        yield b'{"images": ["'
        for _ in range(400):
            yield b"QUFB" * 1024
        yield b'"]}'

    streamed = client.post("/alien/process", content=chunks(), headers={"content-type": "application/json"})
    assert_refused(streamed, 413, "larger than")
    lying = client.post("/alien/process", content=b'{"images": []}',
                        headers={"content-type": "application/json", "content-length": str(10**12)})
    assert lying.status_code in (400, 413)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


NOT_BASE64 = ["not base64!", "QUJD=extra", "data:image/png;base64,%%%", "\u00e9t\u00e9"]


@pytest.mark.parametrize("data", NOT_BASE64)
def test_text_that_is_not_base64_is_refused_naming_the_image(client, guarded, data) -> None:
    good = b64_png(Image.new("RGB", (16, 16)))
    response = client.post("/alien/process", json={"images": [good, data], "names": ["ok.png", "bad.png"]})
    assert_refused(response, 400, "bad.png", "not valid base64")


NOT_IMAGES = [
    pytest.param(b64(b"Guest list for room 217"), "not an image", id="text"),
    pytest.param(b64(b"<html><body>404</body></html>"), "HTML", id="html"),
    pytest.param("", "empty", id="empty"),
    pytest.param(b64(png_claiming(1_000_000, 1_000_000)), "too large", id="bomb-10^6x10^6"),
    pytest.param("data:image/png;base64," + b64(b"\x89PNG\r\n\x1a\n" + b"\0" * 40), "damaged", id="bad-png"),
]


@pytest.mark.parametrize(("data", "problem"), NOT_IMAGES)
def test_base64_that_is_no_image_is_a_4xx_naming_the_image(client, guarded, data, problem) -> None:
    response = client.post("/alien/process", json={"images": [data], "names": ["upload.png"]})
    assert_refused(response, None, "upload.png", problem)


def test_base64_that_is_no_image_never_reaches_the_pipeline(client, guarded) -> None:
    """What holds today: such an image is reported failed with its problem, and nothing is processed."""
    response = client.post("/alien/process", json={"images": [b64(b"Guest list")], "names": ["upload.png"]})
    assert response.status_code in (200, 422)
    if response.status_code == 200:
        (entry,) = response.json()["images"]
        assert entry["status"] == "failed" and "not an image" in entry["message"] and entry["image"] is None


MALFORMED = [
    pytest.param(b'{"images": [', None, id="truncated"),
    pytest.param(b"", None, id="empty-body"),
    pytest.param(b"[]", None, id="list"),
    pytest.param(b"null", None, id="null"),
    pytest.param(b"42", None, id="number"),
    pytest.param(b"{'images': []}", None, id="single-quotes"),
    pytest.param(b'{"images": ["\xff\xfe"]}', None, id="not-utf8"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, None, id="nested-100000-deep"),
]


@pytest.mark.parametrize(("body", "status"), MALFORMED)
def test_malformed_json_is_a_4xx(client, guarded, body, status) -> None:
    assert_refused(client.post("/alien/process", content=body, headers={"content-type": "application/json"}), status)


WRONG_TYPES = [
    ({"images": "abc"}, "images"),
    ({"images": [["nested"]]}, "images"),
    ({"images": ["x"], "seed": "abc"}, "seed"),
    ({"images": ["x"], "seed": {"a": 1}}, "seed"),
    ({"images": ["x"], "stages": "all"}, "stages"),
    ({"images": ["x"], "stages": {"inpaint": "perhaps"}}, "inpaint"),
    ({"images": ["x"], "overrides": 5}, "overrides"),
    ({"images": ["x"], "return_previews": "maybe"}, "return_previews"),
    ({"images": ["x"], "names": {"a": 1}}, "names"),
    ({"folder": ["photos"]}, "folder"),
    # what pydantic 1 alone would coerce (1.5 -> 1, 5 -> "5", "7" -> 7, 1 -> True): refused on both stacks
    ({"folder": "photos", "seed": 1.5}, "seed"),
    ({"folder": "photos", "seed": "7"}, "seed"),
    ({"folder": "photos", "overrides": {"steps": 2.5}}, "steps"),
    ({"folder": 5}, "folder"),
    ({"folder": "photos", "theme": 3}, "theme"),
    ({"images": ["x"], "names": [7]}, "names"),
    ({"folder": "photos", "stages": {"inpaint": 1}}, "inpaint"),
    ({"folder": "photos", "save_masks": "yes"}, "save_masks"),
]


@pytest.mark.parametrize(("body", "field"), WRONG_TYPES, ids=[w[1] + "-" + type(list(w[0].values())[-1]).__name__
                                                               for w in WRONG_TYPES])
def test_wrong_types_are_422_naming_the_field(client, guarded, body, field) -> None:
    assert_refused(client.post("/alien/process", json=body), 422, field)


ABSURD = [
    ({"folder": "photos", "overrides": {"steps": 10**9}}, "steps"),
    ({"folder": "photos", "overrides": {"steps": -5}}, "steps"),
    ({"folder": "photos", "overrides": {"mask_grow": 10**6}}, "mask_grow"),
    ({"folder": "photos", "overrides": {"crop_padding": 10**6}}, "crop_padding"),
    ({"folder": "photos", "overrides": {"mask_feather": 10**6}}, "mask_feather"),
    ({"folder": "photos", "overrides": {"cfg_scale": 1e308}}, "cfg_scale"),
    ({"folder": "photos", "overrides": {"denoising_strength": -1}}, "denoising_strength"),
    ({"folder": "photos", "seed": 10**30}, "seed"),
    ({"folder": "photos", "seed": -1}, "seed"),
    ({"folder": "photos", "limit": 0}, "limit"),
]


@pytest.mark.parametrize(("body", "field"), ABSURD, ids=[a[1] for a in ABSURD])
def test_absurd_numbers_are_422_naming_the_field(client, guarded, body, field) -> None:
    assert_refused(client.post("/alien/process", json=body), 422, field)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused(client, guarded, literal) -> None:
    for field in ('"seed"', '"overrides": {"cfg_scale"'):
        close = "}" if "overrides" in field else ""
        body = f'{{"folder": "photos", {field}: {literal}{close}}}'.encode()
        assert_refused(client.post("/alien/process", content=body, headers={"content-type": "application/json"}), 422)


UNKNOWN = [
    ({"folder": "photos", "out_dir": "/etc"}, "out_dir"),
    ({"folder": "photos", "stages": {"inpaint": True, "upload": True}}, "upload"),
    ({"folder": "photos", "overrides": {"sampler": "Euler"}}, "sampler"),
    ({"folder": "photos", "__class__": "x"}, "__class__"),
]


@pytest.mark.parametrize(("body", "field"), UNKNOWN, ids=[u[1] for u in UNKNOWN])
def test_unknown_fields_are_422_naming_them(client, guarded, body, field) -> None:
    assert_refused(client.post("/alien/process", json=body), 422, field)


BAD_CREDENTIALS = [
    pytest.param({}, id="missing"),
    pytest.param({"Authorization": "Basic " + b64(b"alien:wrong")}, id="wrong-password"),
    pytest.param({"Authorization": "Basic " + b64(b"ryuk:apples")}, id="wrong-user"),
    pytest.param({"Authorization": "Basic " + b64(b"alien")}, id="no-colon"),
    pytest.param({"Authorization": "Basic !!!"}, id="not-base64"),
    pytest.param({"Authorization": "Bearer apples"}, id="bearer"),
    pytest.param({"Authorization": "Basic " + "A" * 8000}, id="huge"),
    pytest.param({"Authorization": "Basic " + b64(b"alien:apples\x00")}, id="nul-suffix"),
    pytest.param({"Authorization": "Basic " + b64(b"alien:apple")}, id="prefix-of-password"),
]


@pytest.mark.parametrize("headers", BAD_CREDENTIALS)
def test_missing_or_wrong_credentials_are_401_before_any_work(client, root, guarded, headers) -> None:
    shared.cmd_opts.api_auth = "alien:apples"
    image, _ = room_image(0, size=(64, 48), n_objects=1)
    for method, path, body in [("POST", "/alien/process", {"folder": "photos"}),
                               ("POST", "/alien/process", {"images": [b64_png(image)]}),
                               ("GET", "/alien/themes", None), ("GET", "/alien/jobs/x", None)]:
        response = client.request(method, path, json=body, headers=headers)
        assert_refused(response, 401)
        assert response.headers["WWW-Authenticate"] == "Basic"
    good = {"Authorization": "Basic " + b64(b"alien:apples")}
    assert client.get("/alien/themes", headers=good).status_code == 200
    assert not (root / "allowed" / "out").exists()
    shared.cmd_opts.api_auth = None  # the guard's last look goes without credentials


@pytest.mark.parametrize("headers", BAD_CREDENTIALS)
def test_without_api_auth_an_authorization_header_is_ignored(client, guarded, headers) -> None:
    assert shared.cmd_opts.api_auth is None
    response = client.get("/alien/themes", headers=headers)
    assert response.status_code == 200, response.text
    assert "alien" in {theme["name"] for theme in response.json()["themes"]}


def test_openapi_schema_declares_http_basic_on_every_route(client) -> None:
    schema = client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert [(s["type"], s["scheme"]) for s in schemes.values()] == [("http", "basic")]
    operations = [op for path, item in schema["paths"].items() if path.startswith("/alien") for op in item.values()]
    assert operations and all(op["security"] == [{name: []} for name in schemes] for op in operations)


def test_route_parameters_with_traversal_are_404(client, guarded) -> None:
    for path in ["/alien/themes/..%2F..%2Fetc%2Fpasswd", "/alien/themes/%2e%2e", "/alien/themes/%00",
                 "/alien/jobs/..%2F..%2Fetc", "/alien/jobs/%00/cancel", "/alien/themes/" + "a" * 5000]:
        response = client.get(path) if "cancel" not in path else client.post(path)
        assert response.status_code == 404, (path, response.text)
        assert json.loads(response.text)


def test_theme_fields_are_names_not_paths(client, guarded) -> None:
    for theme in ["../../secret/theme", "/etc/passwd", "alien\x00.yaml"]:
        assert_refused(client.post("/alien/process", json={"folder": "photos", "theme": theme}), 404, "no theme")
    assert_refused(client.post("/alien/process", json={"folder": "photos", "theme_yaml": "!!python/object:os.system"
                                                                                           " ['echo hacked']"}), 422)


def test_the_server_still_processes_after_a_volley_of_hostile_requests(client, root) -> None:
    for body in [b'{"images": [', b"[]", json.dumps({"folder": "../secret"}).encode(),
                 json.dumps({"images": ["%%%"]}).encode(), json.dumps({"folder": "photos", "seed": -1}).encode()]:
        response = client.post("/alien/process", content=body, headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500
    image, _ = room_image(2, size=(96, 64), n_objects=2)
    response = client.post("/alien/process", json={"images": [b64_png(image)], "overrides": {"steps": 2}})
    assert response.status_code == 200 and response.json()["images"][0]["status"] == "done"
