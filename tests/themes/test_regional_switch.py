"""The theme's ``regional: true|false`` switch: parsed, checked, hashed only when off, and what the pipeline uses."""

from __future__ import annotations

import pytest

from alien_filters.themes import ThemeError, parse_theme

THEME = "name: t\n{extra}rules:\n  - {{classes: [bed], prompt: a bed}}\n"


def test_regional_defaults_to_on_and_can_be_switched_off():
    on, off = parse_theme(THEME.format(extra="")), parse_theme(THEME.format(extra="regional: false\n"))
    assert on.regional is True and off.regional is False
    assert "regional" not in on.to_dict() and off.to_dict()["regional"] is False
    assert on.hash() != off.hash() and parse_theme(THEME.format(extra="regional: true\n")).hash() == on.hash()


@pytest.mark.parametrize("value", ["yes please", "1", "[true]"])
def test_regional_must_be_a_boolean(value: str):
    with pytest.raises(ThemeError, match="regional: must be true or false") as info:
        parse_theme(THEME.format(extra=f"regional: {value}\n"), source="t.yaml")
    assert "t.yaml:2" in str(info.value)
