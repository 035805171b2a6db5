"""Planning: tags + class masks + theme -> an ordered list of inpaint jobs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import masks
from .contracts import ClassMasks, InpaintJob, Tags
from .placeholders import fill_caption

if TYPE_CHECKING:
    from .theme import Rule, Theme


@dataclass
class Plan:
    """The jobs for one image, plus what the theme could not use."""

    jobs: list[InpaintJob]
    style_tags: list[str]
    unmatched_rules: list[str]
    """Rules of the theme whose classes have no mask in this image."""
    unruled_classes: list[str]
    """Classes with a mask that no rule covers: left alone."""
    dropped: list[tuple[str, str]]
    """(rule, reason) for rules that matched but produced no job (too small, taken by higher priorities)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "jobs": [job_to_dict(job) for job in self.jobs],
            "style_tags": self.style_tags,
            "unmatched_rules": self.unmatched_rules,
            "unruled_classes": self.unruled_classes,
            "dropped": [{"rule": rule, "reason": reason} for rule, reason in self.dropped],
        }


SPECK_FRACTION = 0.0002
"""Connected pieces of a class mask smaller than this fraction of the image are dropped as noise."""
HOLE_FRACTION = 0.002
"""Holes inside a class mask up to this fraction of the image are filled."""


def derive_seed(base: int, *parts: str) -> int:
    """A 31-bit seed from ``base`` and text parts: stable across runs, machines and Python versions."""
    digest = hashlib.sha256(json.dumps([int(base), *parts]).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def image_style_tags(tags: Tags, min_score: float) -> list[str]:
    """The image's style tags: the best one always, others from ``min_score`` up."""
    ranked = tags.style_tags()
    return ranked[:1] + [s for s in ranked[1:] if tags.styles[s] >= min_score]


def plan_jobs(tags: Tags, class_masks: ClassMasks, theme: Theme, seed: int, style_min_score: float = 0.25) -> Plan:
    """Turn class masks into exclusive, ordered inpaint jobs following ``theme``; deterministic for ``seed``."""
    style_tags = image_style_tags(tags, style_min_score)
    grouped: dict[str, list[str]] = {}
    rules: dict[str, Rule] = {}
    unruled: list[str] = []
    for cls in sorted(class_masks):
        rule = theme.rule_for(cls, style_tags)
        if rule is None:
            unruled.append(cls)
            continue
        grouped.setdefault(rule.name, []).append(cls)
        rules[rule.name] = rule
    rule_order = {rule.name: i for i, rule in enumerate(theme.rules)}
    names = sorted(grouped, key=lambda n: (rules[n].priority, rule_order[n]))
    shape = next(iter(class_masks.values())).shape if class_masks else (0, 0)
    image_area = shape[0] * shape[1]

    dropped: list[tuple[str, str]] = []
    grown: list[np.ndarray] = []
    for name in names:
        settings = theme.settings_for(rules[name])
        union = np.zeros(shape, dtype=bool)
        for cls in grouped[name]:
            union |= class_masks[cls]
        union = masks.fill_holes(union, int(HOLE_FRACTION * image_area))
        union = masks.drop_specks(union, max(1, int(SPECK_FRACTION * image_area)))
        grown.append(masks.grow(union, settings.mask_grow))
    exclusive = masks.resolve_overlaps(grown, [rules[n].priority for n in names])

    jobs: list[InpaintJob] = []
    for name, mask in zip(names, exclusive, strict=True):
        rule = rules[name]
        settings = theme.settings_for(rule)
        area = masks.area_fraction(mask)
        box = masks.bounding_box(mask, settings.crop_padding)
        if box is None:
            dropped.append((name, "no pixels left after overlaps with higher-priority rules"))
            continue
        if area < rule.min_area:
            dropped.append((name, f"mask covers {area:.4f} of the image, below min_area {rule.min_area}"))
            continue
        prompt, negative_prompt = rule_prompts(theme, rule, tags.caption)
        jobs.append(
            InpaintJob(
                index=len(jobs),
                rule=name,
                classes=tuple(grouped[name]),
                mask=mask,
                prompt=prompt,
                negative_prompt=negative_prompt,
                settings=settings,
                seed=derive_seed(seed, name),
                box=box,
                control=rule.control,
            )
        )
    present = set(class_masks)
    unmatched = [rule.name for rule in theme.rules if not present & set(rule.classes)]
    return Plan(jobs=jobs, style_tags=style_tags, unmatched_rules=unmatched, unruled_classes=unruled, dropped=dropped)


def job_to_dict(job: InpaintJob) -> dict[str, Any]:
    """JSON-ready description of a job (mask as RLE) for manifests and API responses."""
    return {
        "index": job.index,
        "rule": job.rule,
        "classes": list(job.classes),
        "prompt": job.prompt,
        "negative_prompt": job.negative_prompt,
        "settings": job.settings.to_dict(),
        "seed": job.seed,
        "box": list(job.box),
        "area": round(masks.area_fraction(job.mask), 6),
        "mask": masks.rle_encode(job.mask),
        **({"control": job.control.to_dict()} if job.control else {}),
    }


def rule_prompts(theme: Theme, rule: Rule, caption: str | None = None) -> tuple[str, str]:
    """The prompt and negative prompt a job of ``rule`` is inpainted with: the rule's, then the theme's, with
    ``{caption}`` filled from ``caption`` (dropped when None)."""
    prompt = _join(rule.prompt, theme.style_prompt)
    negative = _join(rule.negative_prompt, theme.negative_prompt)
    return fill_caption(prompt, caption), fill_caption(negative, caption)


def _join(*parts: str) -> str:
    return ", ".join(p.strip() for p in parts if p and p.strip())
