"""Placeholders a theme's prompts may hold, filled per image: ``{caption}`` is the image's caption.

A theme's style prompt (added to every rule's prompt), its rules' prompts and the finishing pass's prompt suffix
may say ``{caption}``; each image's jobs get the caption its tagger wrote. Where no caption was made (captions off,
or the tag stage did not run) the placeholder is dropped with the comma that joined it, so no literal braces reach
the model. Any other ``{name}`` is left as written (prompt syntaxes of other tools use braces) and ``check-theme``
warns about it.
"""

from __future__ import annotations

import re

CAPTION_PLACEHOLDER = "{caption}"
CAPTION_TOKENS = 30
"""The longest caption the captioners write, in tokens (``check-theme`` counts the placeholder at this length)."""
PLACEHOLDER = re.compile(r"\{([^{}\s]*)\}")


def fill_caption(text: str, caption: str | None) -> str:
    """``text`` with ``{caption}`` replaced by ``caption`` (one line); without a caption the placeholder goes."""
    if CAPTION_PLACEHOLDER not in text:
        return text
    line = " ".join((caption or "").split())
    filled = text.replace(CAPTION_PLACEHOLDER, line)
    if line:
        return filled
    return ", ".join(part.strip() for part in filled.split(",") if part.strip())


def unknown_placeholders(text: str) -> list[str]:
    """Placeholders in ``text`` that are not filled in (each once, in order), e.g. ``['{room}']``."""
    found: list[str] = []
    for name in PLACEHOLDER.findall(text):
        token = "{" + name + "}"
        if token != CAPTION_PLACEHOLDER and token not in found:
            found.append(token)
    return found


def uses_caption(*texts: str) -> bool:
    """Whether any of ``texts`` holds ``{caption}``."""
    return any(CAPTION_PLACEHOLDER in t for t in texts)
