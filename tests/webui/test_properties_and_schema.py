"""Property tests beyond tests/core/test_masks_properties.py, and schemathesis against the /alien API.

Properties: planning gives pairwise disjoint jobs inside their boxes for any masks and priorities; discover gives
unique output names for any set of file names; decoding any bytes ends in an image or an ImageLoadError; an
allowed-roots check never returns a path outside the roots. Schemathesis generates valid and invalid requests
from the test app's OpenAPI schema (the real routes over the WebUI stand-in) and checks every answer against it.
"""

from __future__ import annotations

import atexit
import base64
import io
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from modules import shared
from PIL import Image
from schemathesis.checks import positive_data_acceptance

from alien_filters.batch.discovery import discover
from alien_filters.batch.imageio import ImageLoadError, decode_image_bytes
from alien_filters.batch.runner import REPORT_NAME, SUFFIXES
from alien_filters.core.contracts import Detection, Tags
from alien_filters.core.planning import plan_jobs
from alien_filters.themes import parse_theme
from alien_filters.webui.paths import PathNotAllowed, resolve_inside
from tests.webui.api_fixtures import make_app

quick = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CLASSES = ["bed", "lamp", "window", "table", "chair"]


# -- planning -------------------------------------------------------------------------------------------------------


@st.composite
def plans(draw):
    """Random class masks on one image, and a theme with a rule per class with random priority and grow."""
    shape = (draw(st.integers(4, 24)), draw(st.integers(4, 24)))
    present = draw(st.lists(st.sampled_from(CLASSES), min_size=1, max_size=len(CLASSES), unique=True))
    class_masks = {name: draw(arrays(bool, shape)) for name in present}
    lines = ["name: prop", "rules:"]
    for name in CLASSES:
        lines += [f"  - classes: [{name}]", f"    prompt: a new {name}",
                  f"    priority: {draw(st.integers(-3, 3))}",
                  f"    overrides: {{mask_grow: {draw(st.integers(-2, 3))}, crop_padding: {draw(st.integers(0, 4))}}}"]
    theme = parse_theme("\n".join(lines) + "\n", "prop.yaml")
    tags = Tags(objects=[Detection(name, 0.9, (0.0, 0.0, float(shape[1]), float(shape[0]))) for name in present])
    return tags, class_masks, theme, draw(st.integers(0, 2**32 - 1))


@given(plans())
@quick
def test_planned_jobs_are_disjoint_inside_their_boxes_and_deterministic(plan_input) -> None:
    tags, class_masks, theme, seed = plan_input
    plan = plan_jobs(tags, class_masks, theme, seed)
    owned = np.zeros(next(iter(class_masks.values())).shape, dtype=int)
    for job in plan.jobs:
        owned += job.mask
        x0, y0, x1, y1 = job.box
        outside = job.mask.copy()
        outside[y0:y1, x0:x1] = False
        assert job.mask.any() and not outside.any()
    assert owned.max(initial=0) <= 1, "a pixel is inpainted by two rules"
    again = plan_jobs(tags, class_masks, theme, seed)
    assert [(j.rule, j.seed, j.box) for j in again.jobs] == [(j.rule, j.seed, j.box) for j in plan.jobs]
    assert all((a.mask == b.mask).all() for a, b in zip(again.jobs, plan.jobs, strict=True))


# -- output names ---------------------------------------------------------------------------------------------------

name_parts = st.sampled_from(["a", "A", "b", "room 1", "x", "x.masks", "x.preview", "a_jpg", "a_png", "a_jpg_2",
                              "alien-filters-report", "été", "北京"])
extensions = st.sampled_from([".jpg", ".JPG", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"])
file_names = st.lists(st.tuples(st.sampled_from(["", "sub/", "sub/deeper/"]), name_parts, extensions)
                      .map(lambda t: t[0] + t[1] + t[2]), min_size=1, max_size=8, unique=True)


def discovered(names: list[str]) -> list:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name in names:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(b"x")
        items, problems = discover([root])
        assert not problems
        assert sorted(i.path.relative_to(root).as_posix() for i in items) == sorted(names)
        return items


@given(file_names)
@quick
def test_discovered_output_stems_are_unique(names: list[str]) -> None:
    stems = [item.rel_stem for item in discovered(names)]
    assert len(set(stems)) == len(stems)


@given(file_names)
@example(["x.jpg", "x.masks.jpg"])
@example(["alien-filters-report.png"])
@quick
def test_every_output_file_name_is_unique(names: list[str]) -> None:
    outputs = [item.rel_stem + suffix for item in discovered(names) for suffix in SUFFIXES.values()]
    assert len(set(outputs)) == len(outputs)
    assert REPORT_NAME not in outputs


# -- decoding anything ----------------------------------------------------------------------------------------------


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.arange(192, dtype=np.uint8).reshape(8, 8, 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.arange(192, dtype=np.uint8).reshape(8, 8, 3)).save(buffer, format="JPEG")
    return buffer.getvalue()


@st.composite
def damaged(draw) -> bytes:
    """A valid PNG or JPEG with random bytes overwritten, cut or appended."""
    data = bytearray(draw(st.sampled_from([_png(), _jpeg()])))
    for _ in range(draw(st.integers(1, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    data = data[: draw(st.integers(0, len(data)))]
    return bytes(data) + draw(st.binary(max_size=16))


@given(st.one_of(st.binary(max_size=256), damaged()))
@settings(max_examples=150, deadline=None)
def test_any_bytes_decode_to_rgb_or_a_named_error(data: bytes) -> None:
    try:
        image = decode_image_bytes(data, "upload.png", max_pixels=1_000_000)
    except ImageLoadError as exc:
        assert exc.path == "upload.png" and exc.problem
        return
    assert image.mode == "RGB" and image.width * image.height <= 1_000_000


# -- allowed roots --------------------------------------------------------------------------------------------------

segments = st.sampled_from(["inside", "deep", "..", ".", "out_link", "in_link", "", "~", "x\\..", "%2e%2e"])


@pytest.fixture(scope="module")
def roots_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("roots")
    root, outside = base / "root", base / "root-evil"  # a sibling whose name starts with the root's
    (root / "inside" / "deep").mkdir(parents=True)
    outside.mkdir()
    (root / "inside" / "out_link").symlink_to(outside, target_is_directory=True)
    (root / "inside" / "in_link").symlink_to(root / "inside" / "deep", target_is_directory=True)
    return root, outside


@given(st.lists(segments, min_size=1, max_size=6), st.sampled_from(["", "/", "root", "root-evil"]))
@quick
def test_resolved_paths_never_leave_the_roots(roots_tree, parts: list[str], start: str) -> None:
    root, _ = roots_tree
    prefix = {"": "", "/": "/", "root": str(root) + "/", "root-evil": str(root) + "-evil/"}[start]
    requested = prefix + "/".join(parts)
    try:
        found = resolve_inside(requested, [root])
    except PathNotAllowed as exc:
        assert exc.path == requested and exc.problem
        return
    real_root = Path(os.path.realpath(root))
    assert found == real_root or real_root in found.parents


# -- schemathesis over the /alien routes ----------------------------------------------------------------------------

API_ROOT = Path(tempfile.mkdtemp(prefix="alien-schemathesis-"))
atexit.register(shutil.rmtree, API_ROOT, ignore_errors=True)
(API_ROOT / "allowed").mkdir()
APP, _ = make_app(API_ROOT)
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
USER, PASSWORD = "alien", "ryuk-apples"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}


@pytest.fixture
def api_settings():
    """The webui_state fixture resets the options: set ours again (roots, output, body cap) and --api-auth."""
    make_app(API_ROOT)
    shared.cmd_opts.api_auth = f"{USER}:{PASSWORD}"


SCHEMA_CHECKED = settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
"""Derandomized: the same requests every run, so a failure is reproducible and an xfail is stable."""


def call_and_validate(case) -> None:
    """Every answer matches the schema (status, content type, body) and is never a server error; requests
    without credentials get 401, invalid ones 4xx. Not checked: that every schema-valid request succeeds, since
    the schema cannot say 'images or folder, not both' or which folders exist on the server."""
    case.call_and_validate(headers=AUTH, excluded_checks=[positive_data_acceptance])


@SCHEMA.exclude(path="/alien/process").parametrize()
@SCHEMA_CHECKED
def test_alien_routes_conform_to_their_openapi_schema(case, api_settings) -> None:
    call_and_validate(case)


@SCHEMA.include(path="/alien/process").parametrize()
@SCHEMA_CHECKED
def test_process_route_conforms_to_its_openapi_schema(case, api_settings) -> None:
    call_and_validate(case)
