"""The alien theme as YAML with a canny ControlNet unit on every rule, so that every job carries one."""

from __future__ import annotations

from pathlib import Path

import yaml

ALIEN = Path(__file__).resolve().parents[2] / "alien_filters" / "data" / "themes" / "alien.yaml"


def alien_with_canny(weight: float) -> str:
    """The built-in alien theme, renamed ``alien-canny``, every rule's control a canny unit of ``weight``."""
    theme = yaml.safe_load(ALIEN.read_text(encoding="utf-8"))
    theme["name"] = "alien-canny"
    for rule in theme["rules"]:
        rule["control"] = {"kind": "canny", "weight": weight}
    return yaml.safe_dump(theme, sort_keys=False)
