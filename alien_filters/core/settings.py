"""Inpainting settings shared by themes, plans and inpainters, with the one spec of their bounds.

``SETTING_BOUNDS`` is the single place the limits live: theme files are checked against it (``check-theme``), the
API's request schema is built from it (422 for the same values), and :class:`InpaintSettings` refuses anything
outside it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping, NamedTuple

from .errors import AlienFiltersError


class Bound(NamedTuple):
    """A setting's type and inclusive range, and what it means."""

    kind: type
    low: float
    high: float
    description: str


SETTING_BOUNDS: dict[str, Bound] = {
    "denoising_strength": Bound(float, 0.0, 1.0, "Denoising strength, 0 to 1"),
    "steps": Bound(int, 1, 150, "Sampling steps"),
    "cfg_scale": Bound(float, 1.0, 30.0, "Classifier-free guidance scale"),
    "mask_grow": Bound(int, -64, 256, "Pixels to grow (negative: shrink) each mask"),
    "mask_feather": Bound(int, 0, 128, "Pixels of feathering inside each mask's edge"),
    "crop_padding": Bound(int, 0, 512, "Pixels of context around each mask ('only masked' padding)"),
    "regional_min_scale": Bound(float, 0.5, 1.0, "Regional calls: the least detail a job may keep, as a fraction "
                                "of its own crop's scale (D)"),
}


class InvalidSettingError(AlienFiltersError, ValueError):
    """A setting of the wrong type or outside its bounds; the message names it and the range."""


def check_bounded(bounds: Mapping[str, Bound], name: str, value: Any, what: str, prefix: str = "",
                  error: type[InvalidSettingError] = InvalidSettingError) -> None:
    """Raise ``error`` unless ``value`` suits ``bounds[name]``: the one check of every bounded value (inpaint
    settings, ControlNet units, the finishing pass). ``what`` names the kind of setting, ``prefix`` the block."""
    if name not in bounds:
        raise error(f"unknown {what} setting {name!r}; known: {', '.join(bounds)}")
    bound = bounds[name]
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not numeric or (bound.kind is int and not isinstance(value, int)):
        raise error(f"{prefix}{name}: must be {'an integer' if bound.kind is int else 'a number'}, got {value!r}")
    if not bound.low <= value <= bound.high:  # NaN fails this too
        raise error(f"{prefix}{name}: must be between {bound.low:g} and {bound.high:g}, got {value!r}")


def check_setting(name: str, value: Any) -> None:
    """Raise InvalidSettingError unless ``value`` suits setting ``name`` (a key of SETTING_BOUNDS)."""
    check_bounded(SETTING_BOUNDS, name, value, "inpaint")


@dataclass(frozen=True)
class InpaintSettings:
    """How one mask is inpainted. Pixel values refer to the working image; every field within SETTING_BOUNDS."""

    denoising_strength: float = 0.75
    steps: int = 20
    cfg_scale: float = 7.0
    mask_grow: int = 8
    mask_feather: int = 4
    crop_padding: int = 32
    regional_min_scale: float = 0.5
    """D: a regional call renders this job at no less than D x the scale of its own crop (core.call_groups)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            check_setting(f.name, getattr(self, f.name))

    def merged(self, overrides: Mapping[str, Any]) -> InpaintSettings:
        """A copy with ``overrides`` applied (keys must be field names)."""
        return replace(self, **dict(overrides))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
