"""Prompt length in CLIP tokens, counted offline with the BPE vocabulary that open_clip_torch ships.

Stable Diffusion 1.x reads prompts through CLIP's text encoder: 77 positions, 75 for the prompt between its
start and end tokens. The stand-alone inpainter (diffusers) drops what comes after; the WebUI encodes longer
prompts in chunks of 75, each apart from the others. Themes are checked so that a rule reads as one prompt.
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Callable

from ..core.placeholders import CAPTION_PLACEHOLDER, CAPTION_TOKENS
from ..core.planning import rule_prompts
from ..core.theme import Theme

CLIP_PROMPT_TOKENS = 75
"""Prompt tokens CLIP reads in one pass (77 positions less the start and end tokens)."""


@functools.lru_cache(maxsize=1)
def clip_token_counter() -> Callable[[str], int] | None:
    """A function giving a text's CLIP token count; None when open_clip_torch is not installed."""
    if importlib.util.find_spec("open_clip") is None:
        return None
    from open_clip.tokenizer import SimpleTokenizer

    tokenizer = SimpleTokenizer()
    return lambda text: len(tokenizer.encode(text))


def long_prompt_warnings(theme: Theme, count_tokens: Callable[[str], int]) -> list[str]:
    """One warning per rule whose prompt or negative prompt (the theme's appended) exceeds CLIP's 75 tokens; a
    ``{caption}`` counts as the longest caption (:data:`CAPTION_TOKENS`)."""
    warnings = []
    for rule in theme.rules:
        raw = (rule.prompt + theme.style_prompt, rule.negative_prompt + theme.negative_prompt)
        for kind, text, unfilled in zip(("prompt", "negative prompt"), rule_prompts(theme, rule), raw, strict=True):
            captions = unfilled.count(CAPTION_PLACEHOLDER)
            tokens = count_tokens(text) + CAPTION_TOKENS * captions
            if tokens > CLIP_PROMPT_TOKENS:
                counted = f" (each {CAPTION_PLACEHOLDER} counted as {CAPTION_TOKENS})" if captions else ""
                warnings.append(
                    f"theme '{theme.name}' ({theme.source}): rule '{rule.name}': {kind} with the theme's is {tokens} "
                    f"CLIP tokens{counted}; only the first {CLIP_PROMPT_TOKENS} count in one pass (the stand-alone "
                    "inpainter drops the rest): shorten the rule's or the theme's")
    return warnings
