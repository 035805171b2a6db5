"""Themes: YAML files that say what each kind of object in a room becomes, validated into typed objects.

A theme has a name, a description, a global style prompt and negative prompt, default inpaint settings and
ordered rules. For each object class the first rule (in file order) that names it, and whose ``when_style``
is empty or shares a tag with the image's styles, applies. Where masks of several rules overlap, the rule
with the higher ``priority`` owns the pixel. Built-in themes ship in ``data/themes``; users add their own
by dropping ``*.yaml`` files into a themes folder.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Collection, Iterator, Mapping

import yaml

from .inpaint_settings import InpaintSettings
from .vocabulary import Vocabulary, normalize_name

NAME_PATTERN = re.compile(r"[a-z0-9_-]+")

# InpaintSettings field -> (type, lowest, highest) accepted in theme files.
SETTING_LIMITS: dict[str, tuple[type, float, float]] = {
    "denoising_strength": (float, 0.0, 1.0),
    "steps": (int, 1, 150),
    "cfg_scale": (float, 1.0, 30.0),
    "mask_grow": (int, -64, 256),
    "mask_feather": (int, 0, 128),
    "crop_padding": (int, 0, 512),
}


class ThemeError(ValueError):
    """A theme that cannot be used: ``str()`` reads ``file:line: field: problem``."""

    def __init__(self, file: str, line: int | None, field: str | None, problem: str) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.problem}" if self.field else f"{where}: {self.problem}"


class UnknownThemeError(ThemeError, KeyError):
    """No theme of the requested name; the message lists the available ones."""


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
        }

    def hash(self) -> str:
        """sha256 (hex) of the content: the same for the same theme whatever its file's formatting or place."""
        content = self.to_dict()
        del content["source"]
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ----------------------------------------------------------------------------------------------- parsing

_THEME_KEYS = ("name", "description", "style_prompt", "negative_prompt", "defaults", "rules")
_RULE_KEYS = ("name", "classes", "prompt", "negative_prompt", "overrides", "min_area", "priority", "when_style")


# libyaml's composer is ~10x faster and gives the same marks; the pure-Python one is the fallback.
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_theme(text: str, source: str = "<inline>") -> Theme:
    """Validate theme YAML ``text``; ``source`` names it in errors. Raises ThemeError."""
    try:
        root = yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "unreadable YAML"
        if exc.context and not exc.context.startswith("while"):
            problem = f"{exc.context}, {problem}"  # e.g. "expected a single document in the stream, but found..."
        raise ThemeError(source, mark.line + 1 if mark else None, None, f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise ThemeError(source, None, None, f"YAML error: {exc}") from None
    if root is None:
        raise ThemeError(source, None, None, "the file is empty; expected a theme (a mapping with name and rules)")
    return _ThemeReader(source).theme(root)


def load_theme(path: Path) -> Theme:
    """Read and validate the theme file at ``path``. Raises ThemeError."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ThemeError(source, None, None, "file not found") from None
    except UnicodeDecodeError as exc:
        raise ThemeError(source, None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ThemeError(source, None, None, f"cannot read the file ({exc.strerror or exc})") from None
    return parse_theme(text, source)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    value = _construct(node)
    return "an empty value" if value is None else repr(value)


def _construct(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _bound(value: float) -> str:
    return f"{value:g}"


class _ThemeReader:
    """Turns a composed YAML node tree into a Theme, raising ThemeError at the offending node."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: yaml.Node, field_path: str | None, problem: str) -> ThemeError:
        return ThemeError(self.source, _line(node), field_path, problem)

    def theme(self, root: yaml.Node) -> Theme:
        items = self.mapping(root, "", _THEME_KEYS, required=("name", "rules"), what="the theme")
        name_node = items["name"][1]
        name = self.string(name_node, "name")
        if not NAME_PATTERN.fullmatch(name):
            raise self.fail(
                name_node, "name", f"must use only lowercase letters, digits, '_' and '-' ([a-z0-9_-]+), got {name!r}"
            )
        defaults = InpaintSettings()
        if "defaults" in items:
            defaults = defaults.merged(self.settings(items["defaults"][1], "defaults"))
        return Theme(
            name=name,
            description=self.optional_string(items, "description", ""),
            style_prompt=self.optional_string(items, "style_prompt", ""),
            negative_prompt=self.optional_string(items, "negative_prompt", ""),
            defaults=defaults,
            rules=self.rules(items["rules"][1]),
            source=self.source,
        )

    def rules(self, node: yaml.Node) -> tuple[Rule, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, "rules", f"must be a list of rules, got {_describe(node)}")
        if not node.value:
            raise self.fail(node, "rules", "must list at least one rule")
        rules: list[Rule] = []
        first_with_name: dict[str, int] = {}
        for i, item in enumerate(node.value):
            rule, name_node = self.rule(item, f"rules[{i}]")
            if rule.name in first_with_name:
                hint = "" if name_node is not None else " (the default name, made of its classes); give the rule a name"
                raise self.fail(
                    name_node or item,
                    f"rules[{i}].name",
                    f"'{rule.name}' is already used by rules[{first_with_name[rule.name]}]{hint}",
                )
            first_with_name[rule.name] = i
            rules.append(rule)
        return tuple(rules)

    def rule(self, node: yaml.Node, where: str) -> tuple[Rule, yaml.Node | None]:
        """The rule at ``node`` and the node of its name (None when the name defaults to its classes)."""
        items = self.mapping(node, f"{where}.", _RULE_KEYS, required=("classes", "prompt"), what=where)
        classes = self.names(items["classes"][1], f"{where}.classes", "class", required=True)
        prompt = self.string(items["prompt"][1], f"{where}.prompt")
        if not prompt:
            raise self.fail(items["prompt"][1], f"{where}.prompt", "must not be empty")
        name = "+".join(classes)
        name_node = items["name"][1] if "name" in items else None
        if name_node is not None:
            name = self.string(name_node, f"{where}.name")
            if not name:
                raise self.fail(name_node, f"{where}.name", "must not be empty")
        overrides = self.settings(items["overrides"][1], f"{where}.overrides") if "overrides" in items else {}
        min_area = 0.0
        if "min_area" in items:
            min_area = self.number(items["min_area"][1], f"{where}.min_area", float, 0.0, 1.0)
        priority = self.number(items["priority"][1], f"{where}.priority", int) if "priority" in items else 0
        when_style: tuple[str, ...] = ()
        if "when_style" in items:
            when_style = self.names(items["when_style"][1], f"{where}.when_style", "style tag", required=False)
        rule = Rule(
            name=name,
            classes=classes,
            prompt=prompt,
            negative_prompt=self.optional_string(items, "negative_prompt", "", prefix=f"{where}."),
            overrides=overrides,
            min_area=float(min_area),
            priority=int(priority),
            when_style=when_style,
        )
        return rule, name_node

    def settings(self, node: yaml.Node, where: str) -> dict[str, Any]:
        items = self.mapping(node, f"{where}.", tuple(SETTING_LIMITS), required=(), what=where)
        values: dict[str, Any] = {}
        for key, (_, value_node) in items.items():
            kind, low, high = SETTING_LIMITS[key]
            values[key] = self.number(value_node, f"{where}.{key}", kind, low, high)
        return values

    def mapping(
        self, node: yaml.Node, prefix: str, allowed: tuple[str, ...], required: tuple[str, ...], what: str
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """key -> (key node, value node), rejecting non-mappings, unknown and duplicate keys, missing keys."""
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, prefix.rstrip(".") or None, f"{what} must be a mapping, got {_describe(node)}")
        items: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = _construct(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                raise self.fail(key_node, prefix.rstrip(".") or None, f"keys must be words, got {_describe(key_node)}")
            if key not in allowed:
                raise self.fail(key_node, prefix + key, f"unknown key {key!r} (allowed: {', '.join(allowed)})")
            if key in items:
                raise self.fail(key_node, prefix + key, f"duplicate key {key!r} (first on line {_line(items[key][0])})")
            items[key] = (key_node, value_node)
        for key in required:
            if key not in items:
                raise self.fail(node, prefix + key, "required field is missing")
        return items

    def string(self, node: yaml.Node, where: str) -> str:
        value = _construct(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(value, str):
            raise self.fail(node, where, f"must be a string, got {_describe(node)}")
        return value.strip()

    def optional_string(
        self, items: dict[str, tuple[yaml.Node, yaml.Node]], key: str, default: str, prefix: str = ""
    ) -> str:
        if key not in items:
            return default
        node = items[key][1]
        if isinstance(node, yaml.ScalarNode) and _construct(node) is None:
            return default
        return self.string(node, prefix + key)

    def number(
        self, node: yaml.Node, where: str, kind: type, low: float = -math.inf, high: float = math.inf
    ) -> float | int:
        value = _construct(node) if isinstance(node, yaml.ScalarNode) else None
        accepted = (int,) if kind is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, accepted):
            noun = "an integer" if kind is int else "a number"
            raise self.fail(node, where, f"must be {noun}, got {_describe(node)}")
        if not low <= value <= high:
            raise self.fail(node, where, f"must be between {_bound(low)} and {_bound(high)}, got {value!r}")
        return kind(value)

    def names(self, node: yaml.Node, where: str, noun: str, required: bool) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, where, f"must be a list of {noun} names, got {_describe(node)}")
        if required and not node.value:
            raise self.fail(node, where, f"must list at least one {noun}")
        names: list[str] = []
        for i, item in enumerate(node.value):
            name = normalize_name(self.string(item, f"{where}[{i}]"))
            if not name:
                raise self.fail(item, f"{where}[{i}]", f"{noun} name must not be empty")
            if name in names:
                raise self.fail(item, f"{where}[{i}]", f"{noun} {name!r} is listed twice")
            names.append(name)
        return tuple(names)


# ----------------------------------------------------------------------------------------------- catalog


def builtin_themes_dir() -> Path:
    """The folder of the themes that ship with the package."""
    return Path(__file__).parent / "data" / "themes"


@dataclass
class ThemeCatalog:
    """Themes by name, and the errors of files that could not be loaded."""

    themes: dict[str, Theme] = field(default_factory=dict)
    errors: list[ThemeError] = field(default_factory=list)


def _theme_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".yaml", ".yml"))


def load_catalog(user_dir: Path | None = None) -> ThemeCatalog:
    """Built-in themes, then the ``*.yaml``/``*.yml`` files of ``user_dir`` (a user theme replaces a built-in
    of the same name). A broken file is reported in ``errors`` and the others still load; a missing
    ``user_dir`` counts as empty."""
    catalog = ThemeCatalog()
    _add_folder(catalog, builtin_themes_dir())
    if user_dir is not None:
        folder = Path(user_dir)
        if folder.is_dir():
            _add_folder(catalog, folder)
        elif folder.exists():
            catalog.errors.append(ThemeError(str(folder), None, None, "the themes folder is not a folder"))
    return catalog


def _add_folder(catalog: ThemeCatalog, folder: Path) -> None:
    loaded_here: dict[str, str] = {}
    for path in _theme_files(folder):
        try:
            theme = load_theme(path)
        except ThemeError as err:
            catalog.errors.append(err)
            continue
        if theme.name in loaded_here:
            catalog.errors.append(
                ThemeError(
                    str(path), None, "name", f"theme '{theme.name}' is already defined by {loaded_here[theme.name]}"
                )
            )
            continue
        loaded_here[theme.name] = str(path)
        catalog.themes[theme.name] = theme


def get_theme(name: str, user_dir: Path | None = None) -> Theme:
    """The theme called ``name`` (user themes first, then built-ins); UnknownThemeError lists the others."""
    catalog = load_catalog(user_dir)
    if name in catalog.themes:
        return catalog.themes[name]
    where = str(user_dir) if user_dir is not None else str(builtin_themes_dir())
    problem = f"no theme named {name!r}; available: {', '.join(sorted(catalog.themes)) or 'none'}"
    if catalog.errors:
        problem += f" ({len(catalog.errors)} theme file(s) could not be loaded; first: {catalog.errors[0]})"
    raise UnknownThemeError(where, None, None, problem)


# ----------------------------------------------------------------------------------------------- checks


def unknown_classes(theme: Theme, vocabulary: Vocabulary) -> list[str]:
    """Classes some rule names that the vocabulary knows neither as a class nor as a synonym (rule order)."""
    unknown: list[str] = []
    for rule in theme.rules:
        for name in rule.classes:
            if vocabulary.canonical(name) is None and name not in unknown:
                unknown.append(name)
    return unknown


def theme_warnings(theme: Theme, vocabulary: Vocabulary) -> list[str]:
    """Problems that do not stop a theme from loading: unknown classes or styles, rules that can never apply."""
    head = f"theme '{theme.name}' ({theme.source})"
    styles = {normalize_name(s) for s in vocabulary.styles}
    warnings: list[str] = []
    for i, rule in enumerate(theme.rules):
        for name in rule.classes:
            if vocabulary.canonical(name) is None:
                warnings.append(f"{head}: rule '{rule.name}' names class '{name}' that is not in the vocabulary")
            else:
                shadow = _shadowing_rule(theme.rules[:i], rule, name)
                if shadow is not None:
                    warnings.append(
                        f"{head}: rule '{rule.name}' never applies to class '{name}': "
                        f"rule '{shadow.name}' before it always matches first"
                    )
        for style in rule.when_style:
            if style not in styles:
                warnings.append(
                    f"{head}: rule '{rule.name}' is conditional on style '{style}' that is not in the vocabulary"
                )
    return warnings


def _shadowing_rule(earlier: tuple[Rule, ...], rule: Rule, name: str) -> Rule | None:
    """An earlier rule for ``name`` that matches whenever ``rule`` would."""
    for other in earlier:
        if name in other.classes and (
            not other.when_style or (rule.when_style and set(rule.when_style) <= set(other.when_style))
        ):
            return other
    return None


def with_canonical_classes(theme: Theme, vocabulary: Vocabulary) -> Theme:
    """A copy of ``theme`` whose rules name canonical classes (synonyms replaced; unknown names kept), so that
    ``rule_for`` matches the class names detectors and segmenters report."""
    rules = []
    for rule in theme.rules:
        names = dict.fromkeys(vocabulary.canonical(c) or c for c in rule.classes)
        rules.append(replace(rule, classes=tuple(names)))
    return replace(theme, rules=tuple(rules))
