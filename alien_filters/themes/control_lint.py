"""What ``check-theme`` says about a theme's structure guidance that loads but is likely a mistake: a ControlNet
model trained on another kind of control image, a model name only one of the two inpainters can find, a finishing
pass strong enough to undo the rules' work."""

from __future__ import annotations

from ..core.control import CONTROL_KINDS, DEFAULT_MODELS, ControlSpec, model_stem
from ..core.theme import Theme

FINISH_DENOISE_WARNING = 0.5
"""A finishing pass above this denoising strength repaints more than light and colour."""
_KIND_WORDS = {"canny": ("canny",), "depth": ("depth", "midas", "zoe")}


def control_warnings(theme: Theme) -> list[str]:
    """Warnings about ``theme``'s ``control:`` and ``finish:`` blocks (each unit once, by where it is used)."""
    head = f"theme '{theme.name}' ({theme.source})"
    units: dict[ControlSpec, list[str]] = {}
    for rule in theme.rules:
        if rule.control is not None:
            units.setdefault(rule.control, []).append(f"rule '{rule.name}'")
    if theme.finish is not None and theme.finish.control is not None:
        units.setdefault(theme.finish.control, []).append("finish")
    warnings = [f"{head}: {', '.join(where)}: {problem}" for spec, where in units.items()
                for problem in _unit_problems(spec)]
    if theme.finish is not None and theme.finish.denoising_strength > FINISH_DENOISE_WARNING:
        warnings.append(f"{head}: finish.denoising_strength {theme.finish.denoising_strength:g} repaints the whole "
                        f"image past light and colour (above {FINISH_DENOISE_WARNING:g} it can undo what the rules "
                        "made); 0.2-0.4 is the usual range")
    return warnings


def _unit_problems(spec: ControlSpec) -> list[str]:
    model = spec.model.lower()
    problems = []
    for other in CONTROL_KINDS:
        if other != spec.kind and any(word in model for word in _KIND_WORDS[other]):
            problems.append(f"control kind {spec.kind} with model '{spec.model}', which looks trained on {other} "
                            f"images: the model gets {spec.kind} images it does not understand")
    if model_stem(spec.model) not in DEFAULT_MODELS.values() and "/" not in spec.model and "\\" not in spec.model:
        problems.append(f"ControlNet model '{spec.model}' is not in the model registry: the stand-alone inpainter "
                        "needs a path to a diffusers folder here; inside the WebUI the ControlNet extension looks it "
                        "up among its models")
    return problems
