"""Structure guidance and the finishing pass: what a theme asks for, checked against one spec of bounds.

``ControlSpec`` is one ControlNet unit (kind, model, weight, guidance window, preprocessor settings);
``FinishSpec`` is the optional low-denoise img2img over the whole restyled image. ``CONTROL_BOUNDS`` and
``FINISH_BOUNDS`` are the single place the limits live (themes are checked against them, the specs refuse anything
outside them), as ``SETTING_BOUNDS`` is for inpaint settings. WebUI-free: the WebUI's ControlNet glue and the
stand-alone diffusers pipelines both read these.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping

from .settings import Bound, InvalidSettingError, check_bounded

CONTROL_KINDS = ("canny", "depth")
DEFAULT_MODELS: dict[str, str] = {
    "canny": "control_v11p_sd15_canny",
    "depth": "control_v11f1p_sd15_depth",
}
"""Kind -> the ControlNet model used when a theme names none (the ControlNet 1.1 SD1.5 models; the stand-alone
inpainter finds them in the model registry under these names, the WebUI by the extension's model list)."""

CONTROL_BOUNDS: dict[str, Bound] = {
    "weight": Bound(float, 0.0, 2.0, "ControlNet weight (conditioning scale)"),
    "guidance_start": Bound(float, 0.0, 1.0, "Fraction of the steps at which the ControlNet starts"),
    "guidance_end": Bound(float, 0.0, 1.0, "Fraction of the steps at which the ControlNet stops"),
    "canny_low": Bound(int, 1, 255, "Canny low threshold (edges below it are dropped)"),
    "canny_high": Bound(int, 1, 255, "Canny high threshold (edges above it are kept)"),
}
FINISH_BOUNDS: dict[str, Bound] = {
    "denoising_strength": Bound(float, 0.0, 1.0, "Denoising strength of the finishing pass"),
    "steps": Bound(int, 1, 150, "Sampling steps of the finishing pass"),
}


def model_stem(name: str) -> str:
    """A ControlNet model name without the WebUI's ``" [hash]"`` suffix: 'control_v11p_sd15_canny [d14c016b]' ->
    'control_v11p_sd15_canny' (the ControlNet extension lists its models so)."""
    stem, bracket, rest = name.strip().rpartition(" [")
    return stem if bracket and rest.endswith("]") else name.strip()


class InvalidControlError(InvalidSettingError):
    """A control or finish value of the wrong type, outside its bounds, or inconsistent; the message names it."""


@dataclass(frozen=True)
class ControlSpec:
    """One ControlNet unit for a job (or the finishing pass). ``model`` empty means ``DEFAULT_MODELS[kind]``."""

    kind: str
    model: str = ""
    weight: float = 1.0
    guidance_start: float = 0.0
    guidance_end: float = 1.0
    canny_low: int = 100
    canny_high: int = 200

    def __post_init__(self) -> None:
        if self.kind not in CONTROL_KINDS:
            raise InvalidControlError(f"control.kind: must be one of {', '.join(CONTROL_KINDS)}, got {self.kind!r}")
        if not isinstance(self.model, str):
            raise InvalidControlError(f"control.model: must be a string, got {self.model!r}")
        object.__setattr__(self, "model", self.model.strip() or DEFAULT_MODELS[self.kind])
        for name in CONTROL_BOUNDS:
            check_bounded(CONTROL_BOUNDS, name, getattr(self, name), "control", "control.", InvalidControlError)
        if self.guidance_start >= self.guidance_end:
            raise InvalidControlError(f"control: guidance_start ({self.guidance_start:g}) must be below guidance_end "
                                      f"({self.guidance_end:g})")
        if self.canny_low > self.canny_high:
            raise InvalidControlError(f"control: canny_low ({self.canny_low}) must not exceed canny_high "
                                      f"({self.canny_high})")

    @property
    def preprocessor_key(self) -> tuple[Any, ...]:
        """What the control image depends on: specs with the same key share one control image per image."""
        return ("canny", self.canny_low, self.canny_high) if self.kind == "canny" else (self.kind,)

    def merged(self, overrides: Mapping[str, Any]) -> ControlSpec:
        """A copy with ``overrides`` applied; a new ``kind`` without a ``model`` gets that kind's default model."""
        overrides = dict(overrides)
        if "kind" in overrides and overrides["kind"] != self.kind and "model" not in overrides:
            overrides["model"] = ""
        return replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.kind != "canny":
            del data["canny_low"], data["canny_high"]
        return data

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class FinishSpec:
    """One low-denoise img2img over the whole restyled image, so that light and colour agree across objects.

    Its prompt is the theme's style prompt followed by ``prompt_suffix`` (which may hold ``{caption}``); its
    negative prompt the theme's. ``control`` is the unit it runs with (None: none); ``use_control`` says whether.
    """

    denoising_strength: float = 0.25
    steps: int = 20
    prompt_suffix: str = ""
    control: ControlSpec | None = None

    def __post_init__(self) -> None:
        for name in FINISH_BOUNDS:
            check_bounded(FINISH_BOUNDS, name, getattr(self, name), "finish", "finish.", InvalidControlError)
        if not isinstance(self.prompt_suffix, str):
            raise InvalidControlError(f"finish.prompt_suffix: must be a string, got {self.prompt_suffix!r}")

    @property
    def use_control(self) -> bool:
        return self.control is not None

    def prompt(self, style_prompt: str) -> str:
        """The finishing pass's prompt before its placeholders are filled: ``style_prompt``, then the suffix."""
        return ", ".join(p.strip() for p in (style_prompt, self.prompt_suffix) if p and p.strip())

    def to_dict(self) -> dict[str, Any]:
        return {
            "denoising_strength": self.denoising_strength,
            "steps": self.steps,
            "prompt_suffix": self.prompt_suffix,
            "use_control": self.use_control,
            "control": self.control.to_dict() if self.control else None,
        }


def control_record(spec: ControlSpec | None, applied: bool, reason: str | None = None) -> dict[str, Any] | None:
    """What a manifest says about a job's control: the spec, whether it ran, and why not (None without control)."""
    if spec is None:
        return None
    return {**spec.to_dict(), "applied": applied, **({"reason": reason} if reason else {})}
