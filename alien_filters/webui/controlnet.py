"""Structure guidance inside the WebUI: a job's ControlNet unit, run by the ControlNet this WebUI has.

A1111: the sd-webui-controlnet extension, through its external code API (``internal_controlnet.external_code``:
``ControlNetUnit``, ``get_models``). Forge: its built-in ControlNet (``lib_controlnet.external_code.ControlNetUnit``,
``lib_controlnet.global_state``). Both register an always-on img2img script titled "ControlNet". A job's processing
gets a ScriptRunner of its OWN that holds a copy of that one script with the job's unit as its only argument: no
other extension's script touches our processing (without control ``p.scripts`` is None), and the img2img tab's
script and units are left as they are.

The unit's image is the control image of the WHOLE working image, made once per image by ``core.guidance`` (module
"none": the extension does not preprocess it again, per job, as ADetailer's units do). The extension crops it with
the WebUI's own "Only masked" crop region (``inpaint_crop_input_image``), the very crop the WebUI inpaints.
"""

from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
from modules import scripts
from PIL import Image

from ..core.control import ControlSpec
from ..core.errors import AlienFiltersError

A1111 = "sd-webui-controlnet"
FORGE = "Forge's built-in ControlNet"
NOT_INSTALLED = ("no ControlNet in this WebUI (install the sd-webui-controlnet extension; Forge has it built in): "
                 "jobs run without structure guidance")


class ControlNetFailed(AlienFiltersError, RuntimeError):
    """The ControlNet script took our unit but could not apply it (a model it cannot load, ...); the WebUI's
    console has its traceback."""


@dataclass(frozen=True)
class ControlNet:
    """The ControlNet of this WebUI: which one (``flavour``), its img2img script and its modules."""

    flavour: str
    script: Any
    external_code: ModuleType
    global_state: ModuleType | None = None
    """Forge's ``lib_controlnet.global_state`` (its model list); None for sd-webui-controlnet."""

    def models(self, refresh: bool = False) -> list[str]:
        """The extension's model names ("name [hash]"), read from disk again when ``refresh``."""
        if self.global_state is not None:
            if refresh:
                self.global_state.update_controlnet_filenames()
            return [name for name in self.global_state.get_all_controlnet_names() if name != "None"]
        return list(self.external_code.get_models(update=refresh))

    def resolve(self, name: str) -> str | None:
        """The extension's name of model ``name`` (its full "name [hash]" or just the file name's stem, any case);
        None when the extension has no such model, also after reading its model folders again."""
        wanted = name.strip().lower()
        for refresh in (False, True):
            for model in self.models(refresh):
                if wanted in (model.lower(), model.rsplit(" [", 1)[0].lower()):
                    return model
        return None

    def unit(self, spec: ControlSpec, model: str, image: np.ndarray) -> Any:
        """The extension's own ControlNetUnit for ``spec`` with the whole-image control ``image`` (H, W, 3 uint8)."""
        fields: dict[str, Any] = dict(enabled=True, model=model, weight=spec.weight, image=image,
                                      guidance_start=spec.guidance_start, guidance_end=spec.guidance_end,
                                      save_detected_map=False)  # no detected map appended to the result images
        if self.flavour == FORGE:
            if not (image >= 5).any():  # Forge reads an all-dark image as "take image_fg"; give it an empty one
                fields["image_fg"] = np.zeros((*image.shape[:2], 4), dtype=np.uint8)
            return self.external_code.ControlNetUnit(module="None", **fields)
        return self.external_code.ControlNetUnit(module="none", inpaint_crop_input_image=True, **fields)


def find_controlnet() -> ControlNet | None:
    """The ControlNet of this WebUI: the always-on img2img script titled "ControlNet" and its external code
    (Forge's ``lib_controlnet`` first, then sd-webui-controlnet's); None when there is none or it is disabled."""
    runner = scripts.scripts_img2img
    script = next((s for s in getattr(runner, "alwayson_scripts", None) or [] if s.title().lower() == "controlnet"),
                  None)
    if script is None:
        return None
    try:
        return ControlNet(FORGE, script, importlib.import_module("lib_controlnet.external_code"),
                          importlib.import_module("lib_controlnet.global_state"))
    except ImportError:
        pass
    try:
        return ControlNet(A1111, script, importlib.import_module("internal_controlnet.external_code"))
    except ImportError:
        return None


def unavailable(controlnet: ControlNet | None, spec: ControlSpec) -> str | None:
    """Why ``spec`` cannot run in this WebUI (None when it can)."""
    if controlnet is None:
        return NOT_INSTALLED
    if controlnet.resolve(spec.model) is None:
        listed = ", ".join(controlnet.models()) or "none"
        return (f"ControlNet model {spec.model!r} not found by {controlnet.flavour} (models/ControlNet; it lists: "
                f"{listed}): jobs asking for it run without structure guidance")
    return None


@dataclass
class AttachedUnit:
    """A unit attached to one processing: the script copy that runs it, and whether its ``process`` went through
    (the WebUI's ScriptRunner reports a script's exception on the console and goes on without it)."""

    controlnet: ControlNet
    script: Any
    model: str
    error: BaseException | None = None
    ran: bool = False
    _original: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._original = self.script.process
        self.script.process = self._process

    def _process(self, p: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._original(p, *args, **kwargs)
        except Exception as exc:
            self.error = exc
            raise
        finally:
            self.ran = True

    def check(self, what: str) -> None:
        """ControlNetFailed unless the unit's script ran through for ``what`` (a job, the finishing pass)."""
        if self.error is not None or not self.ran:
            cause = f"{type(self.error).__name__}: {self.error}" if self.error else "its script did not run"
            raise ControlNetFailed(f"{what}: {self.controlnet.flavour} could not apply ControlNet model "
                                   f"{self.model!r} ({cause}); the WebUI's console has the details")

    def release(self) -> None:
        """Undo what a generation that raised left hooked: sd-webui-controlnet unhooks the UNet in its
        ``postprocess``, which such a generation never reaches (Forge patches a per-generation clone)."""
        network = getattr(self.script, "latest_network", None)
        if network is not None:
            network.restore()
            self.script.latest_network = None


def attach(controlnet: ControlNet, p: Any, spec: ControlSpec, control_image: Image.Image) -> AttachedUnit:
    """Give processing ``p`` its own ScriptRunner holding only the ControlNet script, with ``spec``'s unit (on
    ``control_image``, the whole image's) as the script's one argument. ``p.is_api`` must already be set."""
    model = controlnet.resolve(spec.model)
    if model is None:
        raise ControlNetFailed(unavailable(controlnet, spec) or f"ControlNet model {spec.model!r} not found")
    unit = controlnet.unit(spec, model, np.array(control_image.convert("RGB"), dtype=np.uint8))
    script = copy.copy(controlnet.script)  # the img2img tab's script keeps its own argument range and state
    script.args_from, script.args_to = 0, 1
    attached = AttachedUnit(controlnet, script, model)
    runner = scripts.ScriptRunner()
    runner.scripts.append(script)
    runner.alwayson_scripts.append(script)
    p.scripts = runner
    p.script_args = [unit]
    return attached
