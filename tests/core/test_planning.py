"""Planning: class masks + theme -> exclusive, ordered, seeded jobs."""

from __future__ import annotations

import numpy as np
import pytest

from alien_filters.core.contracts import Tags
from alien_filters.core.planning import derive_seed, plan_jobs
from alien_filters.themes import parse_theme

THEME = """
name: test
description: two rules that overlap
style_prompt: emerald glow
negative_prompt: blurry
defaults: {mask_grow: 0, crop_padding: 2}
rules:
  - name: table
    classes: [table, desk]
    prompt: oak table with apples
    negative_prompt: plastic
    priority: 50
  - name: wall
    classes: [wall]
    prompt: stone wall
    priority: 0
  - name: fancy bed
    classes: [bed]
    prompt: silk bed
    when_style: [luxury]
  - name: bed
    classes: [bed]
    prompt: plain bed
  - name: tiny lamp
    classes: [lamp]
    prompt: lamp
    min_area: 0.5
  - name: window
    classes: [window]
    prompt: lake window
"""


def box(shape, y0, y1, x0, x1):
    mask = np.zeros(shape, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


@pytest.fixture
def theme():
    return parse_theme(THEME, "test.yaml")


def test_overlap_goes_to_higher_priority_and_jobs_are_exclusive(theme):
    shape = (40, 60)
    masks = {"table": box(shape, 10, 30, 10, 30), "wall": box(shape, 0, 40, 0, 60)}
    plan = plan_jobs(Tags(styles={"modern": 1.0}), masks, theme, seed=7)
    by_rule = {job.rule: job for job in plan.jobs}
    assert [job.rule for job in plan.jobs] == ["wall", "table"]  # low priority first, objects painted last
    assert by_rule["table"].mask.sum() == 400
    assert by_rule["wall"].mask.sum() == 40 * 60 - 400
    assert not (by_rule["table"].mask & by_rule["wall"].mask).any()
    assert by_rule["table"].box == (8, 8, 32, 32)  # padded by crop_padding=2
    assert by_rule["table"].prompt == "oak table with apples, emerald glow"
    assert by_rule["table"].negative_prompt == "plastic, blurry"


def test_classes_of_one_rule_share_a_job(theme):
    shape = (40, 60)
    masks = {"table": box(shape, 0, 10, 0, 10), "desk": box(shape, 20, 30, 20, 30)}
    plan = plan_jobs(Tags(), masks, theme, seed=1)
    assert len(plan.jobs) == 1
    assert plan.jobs[0].classes == ("desk", "table")
    assert plan.jobs[0].mask.sum() == 200


def test_style_conditional_rule(theme):
    masks = {"bed": box((20, 20), 0, 10, 0, 10)}
    luxury = plan_jobs(Tags(styles={"luxury": 0.8, "modern": 0.2}), masks, theme, seed=1)
    modern = plan_jobs(Tags(styles={"modern": 0.9, "luxury": 0.1}), masks, theme, seed=1)
    assert luxury.jobs[0].rule == "fancy bed" and luxury.style_tags == ["luxury"]
    assert modern.jobs[0].rule == "bed"


def test_unruled_unmatched_and_dropped_are_reported(theme):
    shape = (40, 40)
    masks = {"lamp": box(shape, 0, 4, 0, 4), "toilet": box(shape, 10, 20, 10, 20)}
    plan = plan_jobs(Tags(), masks, theme, seed=1)
    assert plan.jobs == []
    assert plan.unruled_classes == ["toilet"]
    assert plan.dropped[0][0] == "tiny lamp" and "below min_area 0.5" in plan.dropped[0][1]
    assert set(plan.unmatched_rules) == {"table", "wall", "fancy bed", "bed", "window"}


def test_specks_dropped_and_holes_filled(theme):
    shape = (100, 100)
    window = box(shape, 10, 60, 10, 60)
    window[30:33, 30:33] = False  # a small hole
    window[90, 90] = True  # a speck
    plan = plan_jobs(Tags(), {"window": window}, theme, seed=1)
    assert plan.jobs[0].mask.sum() == 50 * 50


def test_plan_is_deterministic_for_a_seed_and_seeds_differ_by_rule(theme):
    shape = (40, 60)
    masks = {"table": box(shape, 10, 30, 10, 30), "wall": box(shape, 0, 40, 0, 60)}
    a = plan_jobs(Tags(), masks, theme, seed=3)
    b = plan_jobs(Tags(), masks, theme, seed=3)
    c = plan_jobs(Tags(), masks, theme, seed=4)
    assert [j.seed for j in a.jobs] == [j.seed for j in b.jobs]
    assert [j.seed for j in a.jobs] != [j.seed for j in c.jobs]
    assert a.jobs[0].seed != a.jobs[1].seed
    assert derive_seed(3, "table") == derive_seed(3, "table") < 2**31


def test_grow_applies_rule_settings(theme):
    grown = parse_theme(THEME.replace("mask_grow: 0", "mask_grow: 2"), "g.yaml")
    plan = plan_jobs(Tags(), {"window": box((40, 40), 10, 20, 10, 20)}, grown, seed=1)
    mask = plan.jobs[0].mask
    assert mask[8:22, 10:20].all() and not mask[7, 15] and mask.sum() > 100


def test_plan_to_dict_round_trips_masks(theme):
    from alien_filters.core.masks import rle_decode

    masks = {"table": box((30, 30), 5, 15, 5, 15)}
    data = plan_jobs(Tags(), masks, theme, seed=1).to_dict()
    assert np.array_equal(rle_decode(data["jobs"][0]["mask"]), masks["table"])
    assert data["jobs"][0]["settings"]["crop_padding"] == 2
