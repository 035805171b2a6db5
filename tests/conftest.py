"""Shared fixtures: generated rooms, the built-in alien theme and the colour-reading stage doubles."""

from __future__ import annotations

from pathlib import Path

import pytest

from alien_filters.core.pipeline import Stages
from alien_filters.core.theme import Theme
from alien_filters.themes import get_theme
from tests.support.doubles import ColourSegmenter, ColourTagger, PaintInpainter, ResizeRestorer
from tests.support.rooms import write_rooms


@pytest.fixture(scope="session")
def alien_theme() -> Theme:
    return get_theme("alien")


@pytest.fixture
def double_stages() -> Stages:
    return Stages(ResizeRestorer(), ColourTagger(), ColourSegmenter(), PaintInpainter())


@pytest.fixture
def rooms_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rooms"
    write_rooms(folder, 4)
    return folder
