"""A WebUI with a ControlNet: sd-webui-controlnet (A1111) or Forge's built-in one, from ``tests/webui/stub_controlnet``.

``install_controlnet(flavour, models_dir)`` puts the flavour's modules on ``sys.path`` as the WebUI's script loader
leaves them, lists ``models_dir`` as the extension does at start-up, and fills the img2img tab's script runner as the
WebUI does: another extension's always-on script (arguments 0-1) and the ControlNet script with three units (2-4).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from modules import scripts

STAND_INS = Path(__file__).parent / "stub_controlnet"
MODULES = ("internal_controlnet", "lib_controlnet", "controlnet_script")


class OtherExtension(scripts.Script):
    """Another extension's always-on img2img script: it records every processing it touches."""

    def __init__(self) -> None:
        self.touched: list[Any] = []

    def title(self):
        return "Some other extension"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def process(self, p, *args):
        self.touched.append(p)


@dataclass
class InstalledControlNet:
    flavour: str
    script: Any
    other: OtherExtension
    external_code: ModuleType
    models_dir: Path
    runs: list[dict] = field(default_factory=list)

    def write_model(self, stem: str) -> Path:
        """A model file in models/ControlNet (the stand-ins only list it; its bytes give its hash)."""
        path = self.models_dir / f"{stem}.safetensors"
        path.write_bytes(stem.encode() * 40000)
        return path


def install_controlnet(flavour: str, models_dir: Path, model_stems: tuple[str, ...] = ()) -> InstalledControlNet:
    models_dir.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(STAND_INS / flavour))
    from tests.webui.stub_controlnet import common

    common.runs.clear()
    script_module = importlib.import_module("controlnet_script")
    if flavour == "a1111":
        external_code = importlib.import_module("internal_controlnet.external_code")
        external_code.cn_models_dir = models_dir
        script = script_module.Script()
    else:
        external_code = importlib.import_module("lib_controlnet.external_code")
        importlib.import_module("lib_controlnet.global_state").controlnet_dir = models_dir
        script = script_module.ControlNetForForgeOfficial()
    installed = InstalledControlNet(flavour, script, OtherExtension(), external_code, models_dir, common.runs)
    for stem in model_stems:
        installed.write_model(stem)
    if flavour == "a1111":
        external_code.update_cn_models()  # at start-up, as scripts/controlnet.py does on import
    else:
        importlib.import_module("lib_controlnet.global_state").update_controlnet_filenames()
    runner = scripts.ScriptRunner()
    installed.other.args_from, installed.other.args_to = 0, 2
    script.args_from, script.args_to = 2, 5
    runner.scripts += [installed.other, script]
    runner.alwayson_scripts += [installed.other, script]
    scripts.scripts_img2img = runner
    return installed


def uninstall_controlnet(flavour: str) -> None:
    scripts.scripts_img2img = None
    sys.path.remove(str(STAND_INS / flavour))
    for name in list(sys.modules):
        if name.split(".")[0] in MODULES:
            del sys.modules[name]
