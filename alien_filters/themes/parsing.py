"""Reading themes: YAML text or files validated into :class:`alien_filters.core.theme.Theme`, every problem
reported as ``file:line: field: problem``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from ..core.control import CONTROL_BOUNDS, CONTROL_KINDS, FINISH_BOUNDS, ControlSpec, FinishSpec, InvalidControlError
from ..core.errors import AlienFiltersError
from ..core.settings import SETTING_BOUNDS, InpaintSettings
from ..core.theme import NAME_PATTERN, Rule, Theme
from ..core.vocabulary import normalize_name


class ThemeError(AlienFiltersError, ValueError):
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


_THEME_KEYS = ("name", "description", "style_prompt", "negative_prompt", "defaults", "control", "finish", "regional",
               "rules")


_RULE_KEYS = ("name", "classes", "prompt", "negative_prompt", "overrides", "min_area", "priority", "when_style",
              "control")
_CONTROL_KEYS = ("kind", "model", *CONTROL_BOUNDS)
_FINISH_KEYS = (*FINISH_BOUNDS, "prompt_suffix", "use_control")


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
        self.control: ControlSpec | None = None
        """The theme's ``control:``, read before the rules that merge their own over it."""

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
        if "control" in items:
            self.control = self.control_block(items["control"][1], "control", None)
        finish = self.finish(items["finish"][1]) if "finish" in items else None
        return Theme(
            name=name,
            description=self.optional_string(items, "description", ""),
            style_prompt=self.optional_string(items, "style_prompt", ""),
            negative_prompt=self.optional_string(items, "negative_prompt", ""),
            defaults=defaults,
            rules=self.rules(items["rules"][1]),
            source=self.source,
            control=self.control,
            finish=finish,
            regional=self.regional(items["regional"][1]) if "regional" in items else True,
        )

    def regional(self, node: yaml.Node) -> bool:
        """``regional: true|false``: merge overlapping jobs into regional calls (core.call_groups)."""
        value = _construct(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(value, bool):
            raise self.fail(node, "regional", f"must be true or false, got {_describe(node)}")
        return value

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
            control=self.rule_control(items["control"][1], f"{where}.control") if "control" in items else self.control,
        )
        return rule, name_node

    def rule_control(self, node: yaml.Node, where: str) -> ControlSpec | None:
        """A rule's ``control:``: false/off (none), true/on (the theme's), or a mapping merged over the theme's."""
        value = _construct(node) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(value, bool):
            if value and self.control is None:
                raise self.fail(node, where, "true means the theme's control, but the theme has no control: block; "
                                             "give a mapping with at least kind (canny or depth)")
            return self.control if value else None
        return self.control_block(node, where, self.control)

    def control_block(self, node: yaml.Node, where: str, base: ControlSpec | None) -> ControlSpec:
        """A ``control:`` mapping, merged over ``base`` (kind required without one)."""
        items = self.mapping(node, f"{where}.", _CONTROL_KEYS, required=() if base else ("kind",), what=where)
        values: dict[str, Any] = {}
        if "kind" in items:
            kind_node = items["kind"][1]
            values["kind"] = self.string(kind_node, f"{where}.kind")
            if values["kind"] not in CONTROL_KINDS:
                raise self.fail(kind_node, f"{where}.kind",
                                f"must be one of {', '.join(CONTROL_KINDS)}, got {values['kind']!r}")
        if "model" in items:
            values["model"] = self.string(items["model"][1], f"{where}.model")
        for key in CONTROL_BOUNDS:
            if key in items:
                kind, low, high, _ = CONTROL_BOUNDS[key]
                values[key] = self.number(items[key][1], f"{where}.{key}", kind, low, high)
        try:
            return base.merged(values) if base else ControlSpec(**values)
        except InvalidControlError as exc:
            raise self.fail(node, where, str(exc).removeprefix("control: ").removeprefix("control.")) from None

    def finish(self, node: yaml.Node) -> FinishSpec:
        """The ``finish:`` block; ``use_control: true`` runs it with the theme's control (canny defaults without)."""
        items = self.mapping(node, "finish.", _FINISH_KEYS, required=(), what="finish")
        values: dict[str, Any] = {}
        for key in FINISH_BOUNDS:
            if key in items:
                kind, low, high, _ = FINISH_BOUNDS[key]
                values[key] = self.number(items[key][1], f"finish.{key}", kind, low, high)
        values["prompt_suffix"] = self.optional_string(items, "prompt_suffix", "", prefix="finish.")
        if "use_control" in items:
            use_node = items["use_control"][1]
            use = _construct(use_node) if isinstance(use_node, yaml.ScalarNode) else None
            if not isinstance(use, bool):
                raise self.fail(use_node, "finish.use_control", f"must be true or false, got {_describe(use_node)}")
            values["control"] = (self.control or ControlSpec("canny")) if use else None
        return FinishSpec(**values)

    def settings(self, node: yaml.Node, where: str) -> dict[str, Any]:
        items = self.mapping(node, f"{where}.", tuple(SETTING_BOUNDS), required=(), what=where)
        values: dict[str, Any] = {}
        for key, (_, value_node) in items.items():
            kind, low, high, _ = SETTING_BOUNDS[key]
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
