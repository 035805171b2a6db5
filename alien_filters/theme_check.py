"""What ``check-theme`` and the tab's editor say about a theme that loads: vocabulary and prompt-length warnings."""

from __future__ import annotations

from .prompt_tokens import clip_token_counter, long_prompt_warnings
from .themes import Theme, theme_warnings
from .vocabulary import load_vocabulary

UNCHECKED_LENGTHS = "prompt lengths not checked (needs open_clip_torch)"


def check_theme(theme: Theme) -> tuple[list[str], list[str]]:
    """``(warnings, notes)``: problems that do not stop the theme from loading, and what could not be checked."""
    warnings = theme_warnings(theme, load_vocabulary())
    count_tokens = clip_token_counter()
    if count_tokens is None:
        return warnings, [UNCHECKED_LENGTHS]
    return warnings + long_prompt_warnings(theme, count_tokens), []
