"""README.md read as tests read it: its sections, fenced code blocks and shell command lines, so that tests can run
what the README shows and fail when the two drift apart."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def readme_text() -> str:
    return README.read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text of the ``## heading`` section, up to the next heading of the same level."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if match is None:
        raise AssertionError(f"{README}: no '## {heading}' section")
    return match.group(1)


def code_blocks(text: str, *languages: str) -> list[str]:
    """The bodies of the fenced code blocks in ``text`` whose language is one of ``languages``."""
    return [body for lang, body in FENCE.findall(text) if lang in languages]


@dataclass(frozen=True)
class ShellLine:
    """One command of a shell code block: its words and what its ``# ...`` comment says (empty when none)."""

    words: list[str]
    comment: str


def shell_lines(block: str) -> list[ShellLine]:
    """The commands of a shell block, backslash-continued lines joined, ``#`` comments split off."""
    lines = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        comment = re.search(r"(?:^|\s)#\s*(.*)$", line)
        if words:
            lines.append(ShellLine(words, comment.group(1).strip() if comment else ""))
    return lines
