"""``{caption}`` in a theme's prompts: filled per image from the tagger's caption, dropped without one."""

from __future__ import annotations

import numpy as np

from alien_filters.core.contracts import Tags
from alien_filters.core.placeholders import fill_caption, unknown_placeholders, uses_caption
from alien_filters.core.planning import plan_jobs
from alien_filters.themes import parse_theme


def test_fill_replaces_the_placeholder_with_the_caption_on_one_line() -> None:
    filled = fill_caption("{caption}, dungeon light", "a hotel room\nwith  a bed")
    assert filled == "a hotel room with a bed, dungeon light"
    assert fill_caption("dungeon light", "a bed") == "dungeon light"


def test_without_a_caption_the_placeholder_goes_with_its_comma() -> None:
    assert fill_caption("{caption}, dungeon light", None) == "dungeon light"
    assert fill_caption("green glow, {caption}, candles", "") == "green glow, candles"
    assert fill_caption("{caption}", None) == ""


def test_other_braces_are_named_and_left_alone() -> None:
    assert unknown_placeholders("{caption}, {room} and {room}, {red|blue}") == ["{room}", "{red|blue}"]
    assert fill_caption("{room}, {caption}", "a bed") == "{room}, a bed"
    assert uses_caption("a", "b {caption}") and not uses_caption("a", "{room}")


def _plan(style_prompt: str, caption: str | None):
    theme = parse_theme(
        f"name: t\nstyle_prompt: '{style_prompt}'\nnegative_prompt: 'blurry, {{caption}}'\n"
        "rules:\n  - {name: bed, classes: [bed], prompt: 'a coffin bed'}\n", "t.yaml")
    mask = np.zeros((32, 32), dtype=bool)
    mask[8:24, 8:24] = True
    return plan_jobs(Tags(caption=caption), {"bed": mask}, theme, seed=1)


def test_each_images_jobs_get_its_own_caption() -> None:
    job = _plan("{caption}, slytherin dungeon", "a small bedroom with a window").jobs[0]
    assert job.prompt == "a coffin bed, a small bedroom with a window, slytherin dungeon"
    assert job.negative_prompt == "blurry, a small bedroom with a window"
    other = _plan("{caption}, slytherin dungeon", "a hotel room").jobs[0]
    assert other.prompt == "a coffin bed, a hotel room, slytherin dungeon"


def test_without_captions_no_braces_reach_the_model() -> None:
    job = _plan("{caption}, slytherin dungeon", None).jobs[0]
    assert job.prompt == "a coffin bed, slytherin dungeon"
    assert job.negative_prompt == "blurry"
