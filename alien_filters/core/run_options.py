"""What a run asks for beyond the theme: which model each stage uses, and setting overrides, turned into the
options the pipeline runs with. The command line, the tab and the API all go through these rules."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from .errors import AlienFiltersError
from .pipeline import PipelineOptions
from .settings import InpaintSettings
from .theme import Theme


@dataclass(frozen=True)
class StageChoices:
    """Which model each stage uses (command-line ``--restorer``, ``--detector``, ``--segmenter``)."""

    RESTORERS: ClassVar[tuple[str, ...]] = ("swinir", "none")
    DETECTORS: ClassVar[tuple[str, ...]] = ("auto", "owlvit", "owlv2")
    SEGMENTERS: ClassVar[tuple[str, ...]] = ("sam_vit_b", "sam_vit_l", "sam_vit_h", "boxes")

    restorer: str = "swinir"
    detector: str = "auto"
    """auto: OWLv2 when the installed transformers has it (>= 4.35, e.g. Forge), else OWL-ViT (WebUI 1.10)."""
    segmenter: str = "sam_vit_b"
    tile: int = 0
    """SwinIR tile size in pixels (0: untiled)."""

    def __post_init__(self) -> None:
        for field_name, allowed in (("restorer", self.RESTORERS), ("detector", self.DETECTORS),
                                    ("segmenter", self.SEGMENTERS)):
            value = getattr(self, field_name)
            if value not in allowed:
                raise InvalidChoiceError(f"{field_name} must be one of {', '.join(allowed)}, got {value!r}")

    def pipeline_options(self, options: PipelineOptions) -> PipelineOptions:
        """The options the pipeline runs with: segmenter 'boxes' means detection boxes become the masks."""
        if self.segmenter == "boxes" and options.segment:
            return dataclasses.replace(options, segment=False)
        return options


class InvalidChoiceError(AlienFiltersError, ValueError):
    """A stage choice that does not exist; the message lists the ones that do."""


def with_overrides(theme: Theme, overrides: Mapping[str, Any]) -> Theme:
    """``theme`` with InpaintSettings ``overrides`` applied to its defaults and to every rule (they win)."""
    if not overrides:
        return theme
    unknown = set(overrides) - set(InpaintSettings.field_names())
    if unknown:
        raise ValueError(f"unknown inpaint settings in overrides: {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(InpaintSettings.field_names())}")
    rules = tuple(dataclasses.replace(r, overrides={**dict(r.overrides), **dict(overrides)}) for r in theme.rules)
    return dataclasses.replace(theme, defaults=theme.defaults.merged(overrides), rules=rules)
