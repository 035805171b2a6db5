"""The vocabulary: hotel-interior object classes (with synonyms) and interior-style tags.

Taggers and detectors are prompted from it, segmenters name their masks with its class names, and theme
rules are checked against it. The data lives in ``data/vocabulary.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .errors import AlienFiltersError

DEFAULT_PATH = Path(__file__).parent.parent / "data" / "vocabulary.yaml"
DEFAULT_QUERY_TEMPLATE = "a photo of {article} {name}"
DEFAULT_STYLE_TEMPLATE = "a photo of {article} {style} hotel room interior"


class VocabularyError(AlienFiltersError, ValueError):
    """A vocabulary file that cannot be used; the message names the file and the problem."""

    def __init__(self, file: str, problem: str) -> None:
        super().__init__(f"{file}: {problem}")
        self.file = file
        self.problem = problem


def normalize_name(name: str) -> str:
    """Lower-case, ``_`` as space, single spaces: the form class and style names are compared in."""
    return " ".join(name.replace("_", " ").lower().split())


def article(word: str) -> str:
    """The indefinite article for ``word`` ("a" or "an", by its first letter)."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def fill_template(template: str, key: str, value: str) -> str:
    """``template`` with ``{article}`` and ``{<key>}`` filled in for ``value``."""
    return template.format(article=article(value), **{key: value})


@dataclass(frozen=True)
class ObjectClass:
    """One kind of object: its canonical name, other names for it, and the text a detector is prompted with."""

    name: str
    synonyms: tuple[str, ...] = ()
    query: str = ""
    threshold: float | None = None
    """Detection score threshold for this class (None: the detector's default)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "synonyms", tuple(self.synonyms))
        if not self.query:
            object.__setattr__(self, "query", fill_template(DEFAULT_QUERY_TEMPLATE, "name", self.name))


@dataclass(frozen=True)
class Vocabulary:
    """Object classes and style tags, with look-ups by any name a detector or user may use."""

    classes: tuple[ObjectClass, ...]
    styles: tuple[str, ...]
    query_template: str = DEFAULT_QUERY_TEMPLATE
    style_template: str = DEFAULT_STYLE_TEMPLATE
    _index: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "styles", tuple(self.styles))
        object.__setattr__(self, "_index", _name_index(self.classes))

    def class_names(self) -> list[str]:
        """Canonical class names in file order."""
        return [c.name for c in self.classes]

    def canonical(self, name: str) -> str | None:
        """The class that ``name`` (a class name or synonym, any case, ``_`` or space) refers to, else None."""
        return self._index.get(normalize_name(name))

    def queries(self) -> list[tuple[str, str]]:
        """(detector query, class name) for every class and every synonym."""
        pairs: list[tuple[str, str]] = []
        for cls in self.classes:
            pairs.append((cls.query, cls.name))
            pairs.extend((fill_template(self.query_template, "name", s), cls.name) for s in cls.synonyms)
        return pairs

    def thresholds(self) -> dict[str, float]:
        """Per-class detection thresholds set in the file (classes without one use the detector's default)."""
        return {c.name: c.threshold for c in self.classes if c.threshold is not None}

    def style_prompts(self) -> list[tuple[str, str]]:
        """(zero-shot prompt, style tag) for every style, e.g. ("a photo of a rustic hotel room interior", "rustic")."""
        return [(fill_template(self.style_template, "style", s), s) for s in self.styles]


def _name_index(classes: tuple[ObjectClass, ...]) -> dict[str, str]:
    """Normalized name or synonym -> class name; ValueError when a name is used twice."""
    index: dict[str, str] = {}
    for cls in classes:
        for name in (cls.name, *cls.synonyms):
            key = normalize_name(name)
            if not key:
                raise ValueError(f"class '{cls.name}' has an empty name or synonym")
            if key in index:
                owner = index[key]
                raise ValueError(
                    f"'{name}' is used twice: by class '{owner}' and by class '{cls.name}'"
                    if owner != cls.name
                    else f"'{name}' is listed twice for class '{cls.name}'"
                )
            index[key] = cls.name
    return index


def load_vocabulary(path: Path | None = None) -> Vocabulary:
    """Read and validate a vocabulary file (default: the package's own); cached per path."""
    return _load_cached(str(Path(path).resolve()) if path is not None else str(DEFAULT_PATH))


@lru_cache(maxsize=8)
def _load_cached(path: str) -> Vocabulary:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VocabularyError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise VocabularyError(path, f"cannot read the file ({exc})") from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else "?"
        raise VocabularyError(path, f"line {line}: YAML syntax error: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise VocabularyError(path, f"YAML error: {exc}") from None
    try:
        return _parse(data)
    except ValueError as exc:
        raise VocabularyError(path, str(exc)) from None


_TOP_KEYS = {"query_template", "style_template", "classes", "styles"}
_CLASS_KEYS = {"name", "synonyms", "query", "threshold"}


def _parse(data: Any) -> Vocabulary:
    if not isinstance(data, dict):
        raise ValueError("expected a mapping with keys 'classes' and 'styles'")
    _check_keys(data, _TOP_KEYS, "")
    query_template = _text(data.get("query_template", DEFAULT_QUERY_TEMPLATE), "query_template")
    style_template = _text(data.get("style_template", DEFAULT_STYLE_TEMPLATE), "style_template")
    _check_template(query_template, "query_template", "name")
    _check_template(style_template, "style_template", "style")
    raw_classes = data.get("classes")
    if not isinstance(raw_classes, list) or not raw_classes:
        raise ValueError("classes: must be a non-empty list of classes")
    classes = tuple(_parse_class(item, f"classes[{i}]", query_template) for i, item in enumerate(raw_classes))
    raw_styles = data.get("styles")
    if not isinstance(raw_styles, list) or not raw_styles:
        raise ValueError("styles: must be a non-empty list of style tags")
    styles = tuple(normalize_name(_text(s, f"styles[{i}]")) for i, s in enumerate(raw_styles))
    repeated = sorted({s for s in styles if styles.count(s) > 1})
    if repeated:
        raise ValueError(f"styles: listed more than once: {', '.join(repeated)}")
    return Vocabulary(classes, styles, query_template, style_template)


def _parse_class(item: Any, where: str, query_template: str) -> ObjectClass:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict):
        raise ValueError(f"{where}: must be a class name or a mapping with 'name', 'synonyms', 'query'")
    _check_keys(item, _CLASS_KEYS, f"{where}.")
    if "name" not in item:
        raise ValueError(f"{where}.name: required field is missing")
    name = normalize_name(_text(item["name"], f"{where}.name"))
    synonyms = item.get("synonyms") or []
    if not isinstance(synonyms, list):
        raise ValueError(f"{where}.synonyms: must be a list of names, got {synonyms!r}")
    syn = tuple(normalize_name(_text(s, f"{where}.synonyms[{i}]")) for i, s in enumerate(synonyms))
    query = _text(item.get("query", fill_template(query_template, "name", name)), f"{where}.query")
    threshold = item.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                  or not 0.0 < threshold <= 1.0):
        raise ValueError(f"{where}.threshold: must be a number in (0, 1], got {threshold!r}")
    return ObjectClass(name=name, synonyms=syn, query=query,
                       threshold=float(threshold) if threshold is not None else None)


def _check_keys(data: dict, allowed: set[str], prefix: str) -> None:
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise ValueError(f"{prefix}{unknown[0]}: unknown key (allowed: {', '.join(sorted(allowed))})")


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: must be a non-empty string, got {value!r}")
    return value.strip()


def _check_template(template: str, where: str, key: str) -> None:
    try:
        fill_template(template, key, "x")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"{where}: bad template {template!r} (use {{article}} and {{{key}}}): {exc}") from None
    if "{" + key + "}" not in template:
        raise ValueError(f"{where}: template {template!r} must contain {{{key}}}")
