"""Streaming tag statistics over hand-made records: exact frequencies, styles, co-occurrence and coverage."""

from __future__ import annotations

import random
import tracemalloc

import pytest

from alien_filters.report.collect import TagRecord
from alien_filters.report.stats import TagStats
from alien_filters.report.store import RecordStore
from alien_filters.themes import parse_theme

THEME = """name: coverage-test
rules:
  - {name: sleep, classes: [bed, pillow], prompt: a coffin bed}
  - {name: lamp-classic, classes: [lamp], prompt: candelabra, when_style: [classic]}
  - {name: lamp, classes: [lamp], prompt: floating candles}
  - {name: big-window, classes: [window], prompt: the dark lake, min_area: 0.3}
  - {name: unused, classes: [clock], prompt: pocket watches}
"""


def record(name: str, classes: dict[str, float], areas: dict[str, float], styles: dict[str, float]) -> TagRecord:
    return TagRecord(f"/photos/{name}.jpg", name * 8, classes, areas, styles, "tagger")


RECORDS = [
    record("r1", {"bed": 0.9, "lamp": 0.8, "window": 0.7}, {"bed": 0.4, "lamp": 0.05, "window": 0.5},
           {"classic": 0.6, "modern": 0.3}),
    record("r2", {"lamp": 0.6, "window": 0.9, "television": 0.5}, {"lamp": 0.02, "window": 0.1, "television": 0.2},
           {"modern": 0.8, "classic": 0.1}),
    record("r3", {"bed": 0.5, "television": 0.7, "plant": 0.4}, {"bed": 0.3, "television": 0.1, "plant": 0.05},
           {"rustic": 0.5, "classic": 0.3, "modern": 0.2}),
    record("r4", {}, {}, {}),
]


@pytest.fixture(scope="module")
def summary() -> dict:
    stats = TagStats(parse_theme(THEME, "coverage-test.yaml"))
    for rec in RECORDS:
        stats.add(rec)
    return stats.summary()


def test_frequencies_are_counted_per_image_most_frequent_first(summary):
    assert summary["images"] == 4
    assert summary["images_without_objects"] == 1
    assert [(c["class"], c["images"], c["fraction"], c["mean_score"]) for c in summary["classes"]] == [
        ("bed", 2, 0.5, 0.7), ("lamp", 2, 0.5, 0.7), ("television", 2, 0.5, 0.6), ("window", 2, 0.5, 0.8),
        ("plant", 1, 0.25, 0.4),
    ]


def test_style_distribution_counts_the_top_style_and_styles_above_the_threshold(summary):
    assert [(s["style"], s["top_style_images"], s["images"]) for s in summary["styles"]] == [
        ("classic", 1, 2), ("modern", 1, 2), ("rustic", 1, 1),
    ]


def test_cooccurrence_counts_images_holding_both_classes(summary):
    cooc = summary["cooccurrence"]
    assert cooc["classes"] == ["bed", "lamp", "television", "window", "plant"]
    assert cooc["images"] == [
        [2, 1, 1, 1, 1],
        [1, 2, 1, 2, 0],
        [1, 1, 2, 1, 1],
        [1, 2, 1, 2, 0],
        [1, 0, 1, 0, 1],
    ]


def test_heatmap_keeps_only_the_most_frequent_classes():
    stats = TagStats()
    for rec in RECORDS:
        stats.add(rec)
    assert stats.summary(heatmap_classes=2)["cooccurrence"] == {"classes": ["bed", "lamp"], "images": [[2, 1], [1, 2]]}


def test_theme_coverage_follows_style_conditions_and_min_area(summary):
    theme = summary["theme"]
    fired = {r["rule"]: (r["images"], r["too_small"]) for r in theme["rules"]}
    assert fired == {"sleep": (2, 0), "lamp-classic": (1, 0), "lamp": (1, 0), "big-window": (1, 1), "unused": (0, 0)}
    assert [(u["class"], u["images"]) for u in theme["uncovered"]] == [("television", 2), ("plant", 1)]
    assert theme["rules_never_firing"] == ["unused"]


def test_no_theme_means_no_coverage():
    stats = TagStats()
    stats.add(RECORDS[0])
    assert stats.summary()["theme"] is None


def test_rule_naming_a_synonym_covers_the_canonical_class():
    theme = parse_theme("name: syn\nrules:\n  - {classes: [tv], prompt: a crystal ball}\n", "syn.yaml")
    stats = TagStats(theme)
    stats.add(RECORDS[1])
    summary = stats.summary()["theme"]
    assert summary["rules"][0]["images"] == 1
    assert "television" not in {u["class"] for u in summary["uncovered"]}


def _random_record(rng: random.Random, i: int, pool: list[str]) -> TagRecord:
    classes = {name: round(rng.random(), 3) for name in rng.sample(pool, 8)}
    return TagRecord(f"/photos/set/{i:06d}.jpg", f"{i:064x}", classes, {c: 0.01 for c in classes},
                     {"modern": rng.random(), "classic": rng.random()}, "cache")


def test_thousands_of_records_stream_through_in_bounded_memory(tmp_path):
    rng = random.Random(0)
    pool = [f"class {i}" for i in range(30)]
    stats = TagStats(parse_theme(THEME, "coverage-test.yaml"))
    tracemalloc.start()
    try:
        with RecordStore(tmp_path / "rows") as store:
            for i in range(500):  # warm up: every class, pair and counter key exists afterwards
                rec = _random_record(rng, i, pool)
                stats.add(rec)
                store.add(rec)
            before = tracemalloc.get_traced_memory()[0]
            for i in range(500, 5000):
                rec = _random_record(rng, i, pool)
                stats.add(rec)
                store.add(rec)
            growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert stats.images == 5000 and store.count == 5000
    # 4,500 more records (each ~1.5 KB as Python objects) must not be kept: allow a few buffers' worth
    assert growth < 64 * 1024, f"memory grew by {growth} bytes over 4500 records"
    assert store.tag_matrix().shape == (5000, 30)
