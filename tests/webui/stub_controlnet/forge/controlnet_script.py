"""Forge's built-in ControlNet script (extensions-builtin/sd_forge_controlnet/scripts/controlnet.py at dfdcbab) as far
as a unit's life goes: process() takes the enabled units from its arguments, picks the input image as
get_input_data does (an all-dark ``image`` with ``image_fg`` None fails there, as in Forge), crops it with the A1111
mask, and looks its model up by name (KeyError when not listed); process_before_every_sampling() patches the
generation's "UNet", postprocess() drops it (Forge patches a per-generation clone)."""

from __future__ import annotations

import numpy as np
from lib_controlnet import global_state
from lib_controlnet.external_code import ControlNetUnit
from modules import scripts

from tests.webui.stub_controlnet import common


class ControlNetForForgeOfficial(scripts.Script):
    sorting_priority = 10

    def title(self):
        return "ControlNet"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def get_enabled_units(self, units):
        units = [ControlNetUnit(**unit) if isinstance(unit, dict) else unit for unit in units]
        assert all(isinstance(unit, ControlNetUnit) for unit in units)
        return [x for x in units if x.enabled]

    def process(self, p, *args, **kwargs):
        self.current_params = {}
        for i, unit in enumerate(self.get_enabled_units(args)):
            if global_state.get_preprocessor(unit.module) is None:
                raise KeyError(unit.module)
            unit_image = unit.image
            unit_image_fg = unit.image_fg[:, :, 3] if unit.image_fg is not None else None
            if unit_image is None:
                image = np.asarray(p.init_images[0])
            elif (unit_image < 5).all() and (unit_image_fg > 5).any():
                image = unit_image_fg
            else:
                image = unit_image
            control = common.control_for(p, np.asarray(image))
            filename = global_state.get_controlnet_filename(unit.model)
            p.extra_generation_params[f"ControlNet {i}"] = f"Module: {unit.module}, Model: {unit.model}"
            self.current_params[i] = (common.Hook(control, unit.weight), unit, filename)
            print(f"Current ControlNet ControlNetPatcher: {filename}")

    def process_before_every_sampling(self, p, *args, **kwargs):
        for i, unit in enumerate(self.get_enabled_units(args)):
            hook, unit, _ = self.current_params[i]
            hook.hook()
            common.runs.append({"flavour": "forge", "unit": unit, "control": hook.control})
            print(f"ControlNet Method {unit.module} patched.")

    def postprocess(self, p, processed, *args):
        for hook, _, _ in getattr(self, "current_params", {}).values():
            hook.restore()
        self.current_params = {}
