"""Streaming tag statistics: class frequencies, style distribution, co-occurrence and theme coverage.

Memory grows with the number of distinct classes, styles and rules, never with the number of images.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from ..core.contracts import Tags
from ..core.planning import image_style_tags
from ..core.theme import Theme, with_canonical_classes
from ..core.vocabulary import load_vocabulary
from .collect import TagRecord


@dataclass
class TagStats:
    """Add records one at a time with :meth:`add`; :meth:`summary` gives the numbers of the report.

    Theme coverage is estimated from tags: a rule fires on an image when a class it owns there (the first
    rule naming it whose style condition holds, as in planning) was detected and those classes' boxes cover
    at least the rule's ``min_area``. Boxes are larger than masks, so this is an upper bound."""

    theme: Theme | None = None
    style_min_score: float = 0.25
    images: int = 0
    class_images: Counter[str] = field(default_factory=Counter)
    class_score_sum: Counter[str] = field(default_factory=Counter)
    top_style: Counter[str] = field(default_factory=Counter)
    style_images: Counter[str] = field(default_factory=Counter)
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    rule_images: Counter[str] = field(default_factory=Counter)
    rule_too_small: Counter[str] = field(default_factory=Counter)
    uncovered: Counter[str] = field(default_factory=Counter)
    no_objects: int = 0

    def __post_init__(self) -> None:
        if self.theme is not None:  # rules must name the canonical classes taggers report, as in the pipeline
            self.theme = with_canonical_classes(self.theme, load_vocabulary())

    def add(self, record: TagRecord) -> None:
        self.images += 1
        classes = sorted(record.classes)
        if not classes:
            self.no_objects += 1
        for name in classes:
            self.class_images[name] += 1
            self.class_score_sum[name] += record.classes[name]
        self.pairs.update(combinations(classes, 2))
        styles = image_style_tags(Tags(styles=record.styles), self.style_min_score)
        if styles:
            self.top_style[styles[0]] += 1
        self.style_images.update(styles)
        if self.theme is not None:
            self._coverage(record, styles)

    def _coverage(self, record: TagRecord, styles: list[str]) -> None:
        assert self.theme is not None
        areas: dict[str, float] = {}
        for name in record.classes:
            rule = self.theme.rule_for(name, styles)
            if rule is None:
                self.uncovered[name] += 1
            else:
                areas[rule.name] = areas.get(rule.name, 0.0) + record.areas.get(name, 0.0)
        min_area = {rule.name: rule.min_area for rule in self.theme.rules}
        for rule_name, area in areas.items():
            if area >= min_area[rule_name]:
                self.rule_images[rule_name] += 1
            else:
                self.rule_too_small[rule_name] += 1

    def top_classes(self, limit: int) -> list[str]:
        """The ``limit`` most frequent classes, most frequent first (ties by name)."""
        ranked = sorted(self.class_images.items(), key=lambda kv: (-kv[1], kv[0]))
        return [name for name, _ in ranked[:limit]]

    def cooccurrence(self, classes: list[str]) -> list[list[int]]:
        """Images holding both classes, for every pair of ``classes``; the diagonal is each class's count."""
        return [[self.class_images[a] if a == b else self.pairs[tuple(sorted((a, b)))] for b in classes]
                for a in classes]

    def summary(self, heatmap_classes: int = 20) -> dict[str, Any]:
        """JSON-ready numbers: frequencies, styles, co-occurrence of the most frequent classes, coverage."""
        n = self.images
        top = self.top_classes(heatmap_classes)
        data: dict[str, Any] = {
            "images": n,
            "images_without_objects": self.no_objects,
            "classes": [
                {"class": name, "images": count, "fraction": _fraction(count, n),
                 "mean_score": round(self.class_score_sum[name] / count, 4)}
                for name, count in sorted(self.class_images.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "styles": [
                {"style": name, "top_style_images": self.top_style[name], "images": self.style_images[name],
                 "fraction": _fraction(self.style_images[name], n)}
                for name in sorted(self.style_images, key=lambda s: (-self.top_style[s], -self.style_images[s], s))
            ],
            "style_min_score": self.style_min_score,
            "cooccurrence": {"classes": top, "images": self.cooccurrence(top)},
            "theme": self._theme_summary(),
        }
        return data

    def _theme_summary(self) -> dict[str, Any] | None:
        if self.theme is None:
            return None
        n = self.images
        rules = [
            {"rule": rule.name, "classes": list(rule.classes), "when_style": list(rule.when_style),
             "min_area": rule.min_area, "images": self.rule_images[rule.name],
             "fraction": _fraction(self.rule_images[rule.name], n), "too_small": self.rule_too_small[rule.name]}
            for rule in self.theme.rules
        ]
        uncovered = [
            {"class": name, "images": count, "fraction": _fraction(count, n)}
            for name, count in sorted(self.uncovered.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        return {"name": self.theme.name, "hash": self.theme.hash(), "rules": rules, "uncovered": uncovered,
                "rules_never_firing": [r["rule"] for r in rules if r["images"] == 0]}


def _fraction(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0
