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
    installed = {"PyYAML", "scipy", "joblib", "threadpoolctl"}
    monkeypatch.setattr(launch, "is_installed", lambda name: name in installed)
    runpy.run_path(str(ROOT / "install.py"), run_name="__main__")
    assert launch.pip_commands == [('install --no-deps "segment-anything==1.0"',
                                    "segment-anything==1.0 for Alien Filters"),
                                   ('install --no-deps "scikit-learn>=1.3,<1.6"',
                                    "scikit-learn>=1.3,<1.6 for Alien Filters")]
    launch.pip_commands.clear()
    installed |= {"segment-anything", "scikit-learn"}
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


def test_the_tab_loads_without_the_reports_libraries_and_says_what_is_missing(tmp_path):
    """Neither WebUI ships scikit-learn: until install.py has put it in, the extension must still load (tab, routes)
    and the report section must name what it lacks instead of the script failing to load."""
    import os
    import subprocess

    code = f"""
import sys
sys.modules["sklearn"] = None  # what an environment without scikit-learn gives: ImportError on import
sys.path.insert(0, {str(Path(__file__).parent / "stub")!r})
from tests.webui.test_extension import load_script, ROOT
from modules import script_callbacks, shared
load_script(ROOT / "scripts" / "alien_filters_ext.py")
script_callbacks.ui_settings_callback()
tabs = script_callbacks.ui_tabs_callback()
assert [t for _, t, _ in tabs] == ["Alien Filters"]
from alien_filters.webui.report_tab import ReportActions
from alien_filters.webui.service import AlienService
summary, path, preview = ReportActions(AlienService(lambda options, choices: None)).run("", "x", "y", "alien")
assert summary.startswith("❌ the dataset report needs sklearn") and path is None, summary
print("ok")
"""
    env = {**os.environ, "ALIEN_WEBUI_STUB_DATA": str(tmp_path), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stdout + result.stderr[-3000:]
