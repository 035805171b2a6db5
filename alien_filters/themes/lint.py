"""What ``check-theme`` and the tab's editor say about a theme that loads: classes and styles the vocabulary does not
know, rules that can never apply, and prompts past CLIP's 75 tokens."""

from __future__ import annotations

from ..core.placeholders import unknown_placeholders, uses_caption
from ..core.theme import Rule, Theme
from ..core.vocabulary import Vocabulary, load_vocabulary, normalize_name
from .control_lint import control_warnings
from .prompt_tokens import clip_token_counter, long_prompt_warnings

UNCHECKED_LENGTHS = "prompt lengths not checked (needs open_clip_torch)"


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
    return warnings + placeholder_warnings(theme) + control_warnings(theme)


def theme_uses_caption(theme: Theme) -> bool:
    """Whether some prompt of ``theme`` holds ``{caption}`` (its jobs then want the tagger's caption)."""
    finish = theme.finish.prompt_suffix if theme.finish is not None else ""
    return uses_caption(theme.style_prompt, theme.negative_prompt, finish,
                        *(text for rule in theme.rules for text in (rule.prompt, rule.negative_prompt)))


def placeholder_warnings(theme: Theme) -> list[str]:
    """Braces in prompts that Alien Filters does not fill (only ``{caption}`` is): they reach the model as written."""
    head = f"theme '{theme.name}' ({theme.source})"
    texts = [("style_prompt", theme.style_prompt), ("negative_prompt", theme.negative_prompt)]
    if theme.finish is not None:
        texts.append(("finish.prompt_suffix", theme.finish.prompt_suffix))
    for rule in theme.rules:
        texts += [(f"rule '{rule.name}' prompt", rule.prompt), (f"rule '{rule.name}' negative_prompt",
                                                                 rule.negative_prompt)]
    return [f"{head}: {where} holds {token}, which is not filled in (only {{caption}} is): it reaches the model as "
            "written" for where, text in texts for token in unknown_placeholders(text)]


def _shadowing_rule(earlier: tuple[Rule, ...], rule: Rule, name: str) -> Rule | None:
    """An earlier rule for ``name`` that matches whenever ``rule`` would."""
    for other in earlier:
        if name in other.classes and (
            not other.when_style or (rule.when_style and set(rule.when_style) <= set(other.when_style))
        ):
            return other
    return None


def check_theme(theme: Theme) -> tuple[list[str], list[str]]:
    """``(warnings, notes)``: problems that do not stop the theme from loading, and what could not be checked."""
    warnings = theme_warnings(theme, load_vocabulary())
    count_tokens = clip_token_counter()
    if count_tokens is None:
        return warnings, [UNCHECKED_LENGTHS]
    return warnings + long_prompt_warnings(theme, count_tokens), []
