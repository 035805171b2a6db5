"""Prompt lengths in CLIP tokens: the built-in themes fit, long rules are named."""

from __future__ import annotations

import pytest

from alien_filters.themes import builtin_themes_dir, get_theme, parse_theme
from alien_filters.themes.prompt_tokens import CLIP_PROMPT_TOKENS, clip_token_counter, long_prompt_warnings


@pytest.fixture(scope="module")
def count_tokens():
    counter = clip_token_counter()
    assert counter is not None, "open_clip_torch is a test dependency"
    return counter


def test_counts_clip_bpe_tokens(count_tokens) -> None:
    assert count_tokens("") == 0
    assert count_tokens("a red apple") == 3
    assert count_tokens("time-turner") == 3, "CLIP splits on the hyphen"
    assert count_tokens("apple, " * 40) == 80


@pytest.mark.parametrize("name", sorted(p.stem for p in builtin_themes_dir().glob("*.yaml")))
def test_every_builtin_rule_fits_in_one_clip_pass(name: str, count_tokens) -> None:
    assert long_prompt_warnings(get_theme(name), count_tokens) == []


def test_rules_over_the_limit_are_named_with_their_count(count_tokens) -> None:
    words = " ".join(["apples"] * 50)
    theme = parse_theme(
        "name: long\nstyle_prompt: " + " ".join(["candles"] * 30) + "\n"
        "rules:\n"
        "  - {name: table, classes: [table], prompt: " + words + "}\n"
        "  - {name: bed, classes: [bed], prompt: hay bed, negative_prompt: " + " ".join(["plastic"] * 80) + "}\n",
        "long.yaml")
    warnings = long_prompt_warnings(theme, count_tokens)
    assert len(warnings) == 2
    assert "rule 'table': prompt with the theme's is 81 CLIP tokens" in warnings[0]
    assert "rule 'bed': negative prompt with the theme's is 80 CLIP tokens" in warnings[1]
    assert all(f"first {CLIP_PROMPT_TOKENS}" in w for w in warnings)


def test_a_caption_placeholder_counts_as_the_longest_caption(count_tokens) -> None:
    words = " ".join(["apples"] * 50)
    theme = parse_theme("name: c\nstyle_prompt: '{caption}'\nrules:\n  - {name: t, classes: [table], prompt: "
                        + words + "}\n", "c.yaml")
    (warning,) = long_prompt_warnings(theme, count_tokens)
    assert "rule 't': prompt with the theme's is 80 CLIP tokens (each {caption} counted as 30)" in warning
    short = parse_theme("name: c\nstyle_prompt: '{caption}'\nrules:\n  - {name: t, classes: [table], prompt: x}\n",
                        "c.yaml")
    assert long_prompt_warnings(short, count_tokens) == []
