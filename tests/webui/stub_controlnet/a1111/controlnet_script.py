"""sd-webui-controlnet's img2img script (scripts/controlnet.py at 56cec5b) as far as a unit's life goes: process()
reads the enabled units from ``p.script_args`` through the external code, refuses a model it does not list ("model not
found"), crops the unit's image with the A1111 mask (inpaint_crop_input_image), hooks the "UNet" (latest_network),
writes "ControlNet 0" into the infotext and logs "ControlNet Hooked"; postprocess() restores the UNet."""

from __future__ import annotations

import numpy as np
from internal_controlnet import external_code
from modules import scripts

from tests.webui.stub_controlnet import common


class Script(scripts.Script):
    def __init__(self) -> None:
        self.latest_network = None
        self.enabled_units = []

    def title(self):
        return "ControlNet"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def process(self, p, *args, **kwargs):
        if self.latest_network is not None:
            self.latest_network.restore()
        self.enabled_units = [u for u in external_code.get_all_units_in_processing(p) if u.enabled]
        for i, unit in enumerate(self.enabled_units):
            p.extra_generation_params[f"ControlNet {i}"] = (
                f"Module: {unit.module}, Model: {unit.model}, Weight: {unit.weight}, "
                f"Guidance Start: {unit.guidance_start}, Guidance End: {unit.guidance_end}")
        for unit in self.enabled_units:
            if external_code.cn_models.get(unit.model) is None:
                raise RuntimeError(f"model not found: {unit.model}")
            image = np.asarray(unit.image)
            control = common.control_for(p, image, crop=unit.inpaint_crop_input_image)
            self.latest_network = common.Hook(control, unit.weight)
            self.latest_network.hook()
            common.runs.append({"flavour": "sd-webui-controlnet", "unit": unit, "control": control})
        if self.enabled_units:
            print("ControlNet Hooked - Time = 0.0")

    def postprocess(self, p, processed, *args):
        if self.latest_network is None:
            return
        if self.enabled_units and getattr(self.enabled_units[0], "save_detected_map", False):
            processed.images.append(processed.images[0].copy())  # the detected map, after the results
        self.latest_network.restore()
        self.latest_network = None
