"""The theme model: rules that say what each kind of object becomes, and the theme that orders them.

For each object class the first rule (in file order) that names it, and whose ``when_style`` is empty or shares a
tag with the image's styles, applies. Where masks of several rules overlap, the rule with the higher ``priority``
owns the pixel. Reading themes from YAML, the catalog of theme files and their lint live in ``alien_filters.themes``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Collection, Iterator, Mapping

from .control import ControlSpec, FinishSpec
from .settings import InpaintSettings
from .vocabulary import Vocabulary, normalize_name

NAME_PATTERN = re.compile(r"[a-z0-9_-]+")


class FrozenMapping(Mapping[str, Any]):
    """A read-only, hashable mapping (used for rule overrides so that rules stay hashable)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data = dict(data or {})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._data.items())))

    def __repr__(self) -> str:
        return f"FrozenMapping({self._data!r})"


@dataclass(frozen=True)
class Rule:
    """What the objects of some classes become: prompt, settings overrides and overlap priority."""

    name: str
    classes: tuple[str, ...]
    prompt: str
    negative_prompt: str = ""
    overrides: Mapping[str, Any] = field(default_factory=FrozenMapping)
    """A subset of InpaintSettings fields replacing the theme's defaults for this rule."""
    min_area: float = 0.0
    """Masks smaller than this fraction of the image are left alone."""
    priority: int = 0
    """Where masks overlap, the rule with the higher priority owns the pixel."""
    when_style: tuple[str, ...] = ()
    """When not empty, the rule applies only to images with one of these style tags."""
    control: ControlSpec | None = None
    """The rule's resolved ControlNet unit (the theme's ``control:`` merged with the rule's; None: no guidance)."""

    def __post_init__(self) -> None:
        unknown = set(self.overrides) - set(InpaintSettings.field_names())
        if unknown:
            raise ValueError(f"rule '{self.name}': overrides name unknown settings: {', '.join(sorted(unknown))}")
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "when_style", tuple(self.when_style))
        object.__setattr__(self, "overrides", FrozenMapping(self.overrides))

    def applies_to(self, class_name: str, style_tags: Collection[str]) -> bool:
        """True when the rule names ``class_name`` and its style condition holds for ``style_tags``."""
        if normalize_name(class_name) not in self.classes:
            return False
        return not self.when_style or bool(set(self.when_style) & {normalize_name(s) for s in style_tags})

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "classes": list(self.classes),
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "overrides": dict(self.overrides),
            "min_area": self.min_area,
            "priority": self.priority,
            "when_style": list(self.when_style),
            **({"control": self.control.to_dict()} if self.control else {}),
        }


@dataclass(frozen=True)
class Theme:
    """A validated theme. ``style_prompt`` and ``negative_prompt`` are meant to be added to every rule's."""

    name: str
    description: str
    style_prompt: str
    negative_prompt: str
    defaults: InpaintSettings
    rules: tuple[Rule, ...]
    source: str = "<inline>"
    control: ControlSpec | None = None
    """The theme's default ControlNet unit, already merged into each rule's ``control`` by the parser."""
    finish: FinishSpec | None = None
    """The optional finishing pass over the whole restyled image (None: off)."""
    regional: bool = True
    """Merge overlapping jobs into regional diffusion calls (core.call_groups) where the inpainter can."""

    def settings_for(self, rule: Rule) -> InpaintSettings:
        """The theme's default settings with ``rule``'s overrides applied."""
        return self.defaults.merged(rule.overrides)

    def rule_for(self, class_name: str, style_tags: Collection[str]) -> Rule | None:
        """The first rule in file order that names ``class_name`` and whose style condition holds."""
        return next((r for r in self.rules if r.applies_to(class_name, style_tags)), None)

    def classes(self) -> set[str]:
        """Every class some rule names."""
        return {c for rule in self.rules for c in rule.classes}

    def to_dict(self) -> dict[str, Any]:
        """Everything in the theme, JSON-ready."""
        return {
            "name": self.name,
            "description": self.description,
            "style_prompt": self.style_prompt,
            "negative_prompt": self.negative_prompt,
            "defaults": self.defaults.to_dict(),
            "rules": [r.to_dict() for r in self.rules],
            "source": self.source,
            **({"control": self.control.to_dict()} if self.control else {}),
            **({"finish": self.finish.to_dict()} if self.finish else {}),
            **({} if self.regional else {"regional": False}),
        }

    def hash(self) -> str:
        """sha256 (hex) of the content: the same for the same theme whatever its file's formatting or place (a
        theme without control or finish hashes as it did before they existed)."""
        content = self.to_dict()
        del content["source"]
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def with_canonical_classes(theme: Theme, vocabulary: Vocabulary) -> Theme:
    """A copy of ``theme`` whose rules name canonical classes (synonyms replaced; unknown names kept), so that
    ``rule_for`` matches the class names detectors and segmenters report."""
    rules = []
    for rule in theme.rules:
        names = dict.fromkeys(vocabulary.canonical(c) or c for c in rule.classes)
        rules.append(replace(rule, classes=tuple(names)))
    return replace(theme, rules=tuple(rules))


def without_control(theme: Theme) -> Theme:
    """A copy of ``theme`` with no structure guidance: no rule's ControlNet unit, none on the finishing pass (which
    stays as the theme has it). Its hash differs from the theme's, so a batch tells the two runs apart."""
    finish = replace(theme.finish, control=None) if theme.finish is not None else None
    return replace(theme, control=None, finish=finish, rules=tuple(replace(r, control=None) for r in theme.rules))
