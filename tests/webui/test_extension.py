"""The extension as the WebUI loads it: scripts/alien_filters_ext.py imported by path with the extension root
on sys.path only during the import, callbacks run, the tab built, routes answering; and install.py."""

from __future__ import annotations

import importlib.util
import runpy
import sys
from pathlib import Path

import gradio as gr
import launch
from fastapi import FastAPI
from fastapi.testclient import TestClient
from modules import script_callbacks, shared

ROOT = Path(__file__).resolve().parents[2]


def load_script(path: Path):
    """modules/script_loading.load_module with the A1111 sys.path dance around it."""
    saved = list(sys.path)
    sys.path.insert(0, str(ROOT))
    try:
        spec = importlib.util.spec_from_file_location(path.name, str(path))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
    return module


def test_script_registers_settings_tab_and_routes():
    load_script(ROOT / "scripts" / "alien_filters_ext.py")
    script_callbacks.ui_settings_callback()
    assert "alien_filters_allowed_roots" in shared.opts.data_labels
    tabs = script_callbacks.ui_tabs_callback()
    assert [(title, elem_id) for _, title, elem_id in tabs] == [("Alien Filters", "alien_filters")]
    assert isinstance(tabs[0][0], gr.Blocks)
    app = FastAPI()
    script_callbacks.app_started_callback(None, app)
    client = TestClient(app)
    assert client.get("/alien/version").status_code == 200
    shared.cmd_opts.api_auth = "u:p"
    assert client.get("/alien/themes").status_code == 401
    assert client.get("/alien/themes", auth=("u", "p")).status_code == 200


def test_cancel_of_a_running_job_presses_the_webuis_interrupt(webui_state):
    module = load_script(ROOT / "scripts" / "alien_filters_ext.py")
    service = module._service()
    assert service is module._service(), "one service per process, across Reload UI"
    service.registry.on_cancel(None)
    assert webui_state.interrupted


def test_install_only_installs_what_is_missing(monkeypatch):
    launch.pip_commands.clear()
    installed = {"PyYAML", "scipy"}
    monkeypatch.setattr(launch, "is_installed", lambda name: name in installed)
    runpy.run_path(str(ROOT / "install.py"), run_name="__main__")
    assert launch.pip_commands == [('install --no-deps "segment-anything==1.0"',
                                    "segment-anything==1.0 for Alien Filters")]
    launch.pip_commands.clear()
    installed.add("segment-anything")
    runpy.run_path(str(ROOT / "install.py"), run_name="__main__")
    assert launch.pip_commands == []


def test_install_never_touches_what_the_webui_pins():
    """The pins of requirements_versions.txt (WebUI v1.10.1) and Forge: install.py must name none of them."""
    pinned = {"torch", "torchvision", "xformers", "numpy", "pillow", "gradio", "fastapi", "pydantic", "transformers",
              "accelerate", "safetensors", "spandrel", "httpx", "open-clip-torch", "diffusers", "huggingface-hub",
              "setuptools", "protobuf", "einops", "kornia", "omegaconf", "scikit-image"}
    requirements = runpy.run_path(str(ROOT / "install.py"), run_name="not_main")["REQUIREMENTS"]
    for name, spec in requirements:
        assert name.lower() not in pinned and spec.split("=")[0].split("<")[0].split(">")[0].lower() not in pinned
