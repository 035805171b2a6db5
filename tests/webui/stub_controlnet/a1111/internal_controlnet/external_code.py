"""sd-webui-controlnet's external code API (internal_controlnet/external_code.py and args.py at 56cec5b), the part an
extension calls: ControlNetUnit with exactly the real field names and defaults, get_models, find_cn_script,
is_cn_script, get_all_units_in_processing.

The real unit is a pydantic model that IGNORES unknown fields; this one refuses them (TypeError), so a misspelt field
fails a test instead of being dropped. Its validators are the real ones: module must be a known preprocessor, model
must be a string, weight in [0, 2], guidance_start <= guidance_end, both in [0, 1].
"""

from __future__ import annotations

from copy import copy
from typing import Any

from tests.webui.stub_controlnet.models import list_models

FIELDS: dict[str, Any] = {
    "is_ui": False, "input_mode": "simple", "batch_images": None, "output_dir": "", "loopback": False,
    "enabled": False, "module": "none", "model": "None", "weight": 1.0, "image": None,
    "resize_mode": "Crop and Resize", "low_vram": False, "processor_res": -1, "threshold_a": -1, "threshold_b": -1,
    "guidance_start": 0.0, "guidance_end": 1.0, "pixel_perfect": False, "control_mode": "Balanced",
    "inpaint_crop_input_image": True, "hr_option": "Both", "save_detected_map": True, "advanced_weighting": None,
    "effective_region_mask": None, "pulid_mode": "Fidelity", "union_control_type": "Unknown",
    "ipadapter_input": None, "mask": None, "batch_mask_dir": None, "animatediff_batch": False,
    "batch_modifiers": list, "batch_image_files": list, "batch_keyframe_idx": None,
}
PREPROCESSORS = ("none", "canny", "depth_midas", "inpaint_global_harmonious")

cn_models_dir = None
"""The models/ControlNet folder (tests set it; get_models(update=True) reads it again)."""
cn_models: dict[str, str] = {}
cn_models_names: dict[str, str] = {}


class ControlNetUnit:
    def __init__(self, **values: Any) -> None:
        unknown = sorted(set(values) - set(FIELDS))
        if unknown:
            raise TypeError(f"ControlNetUnit has no field(s) {unknown}")
        for name, default in FIELDS.items():
            setattr(self, name, values.get(name, default() if callable(default) else default))
        if self.module not in PREPROCESSORS:
            raise ValueError(f"module({self.module}) not found in supported modules.")
        if not isinstance(self.model, str):
            raise ValueError(f"model({self.model}) not found in supported models.")
        if not 0.0 <= self.weight <= 2.0:
            raise ValueError(f"weight {self.weight} not in [0, 2]")
        for name in ("guidance_start", "guidance_end"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} {getattr(self, name)} not in [0, 1]")
        if self.guidance_start > self.guidance_end:
            raise ValueError(f"guidance_start({self.guidance_start}) > guidance_end({self.guidance_end})")

    @classmethod
    def from_dict(cls, values: dict) -> ControlNetUnit:
        return ControlNetUnit(**copy(values))


def update_cn_models() -> None:
    found = list_models(cn_models_dir)
    cn_models.clear()
    cn_models.update({"None": None, **found})
    cn_models_names.clear()
    for name_and_hash in found:
        cn_models_names[name_and_hash.rsplit(" [", 1)[0].lower()] = name_and_hash


def get_models(update: bool = False) -> list[str]:
    if update:
        update_cn_models()
    return list(cn_models_names.values())


def find_cn_script(script_runner):
    if script_runner is None:
        return None
    for script in script_runner.alwayson_scripts:
        if is_cn_script(script):
            return script


def is_cn_script(script) -> bool:
    return script.title().lower() == "controlnet"


def to_processing_unit(unit):
    if isinstance(unit, dict):
        return ControlNetUnit.from_dict(unit)
    assert isinstance(unit, ControlNetUnit)
    return unit


def get_all_units_in_processing(p) -> list[ControlNetUnit]:
    cn_script = find_cn_script(p.scripts)
    if not cn_script:
        return []
    args = p.script_args[cn_script.args_from:cn_script.args_to]
    return [to_processing_unit(a) for a in args if isinstance(a, (ControlNetUnit, dict))]

