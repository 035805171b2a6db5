"""The report's Captions section: word and phrase counts, lengths, one example per cluster, per-image rows; on by
default when BLIP is on disk, and reused from a batch's manifests (``process --captions``) without loading a model."""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path

import pytest

import alien_filters.stages.factory as factory
from alien_filters import cli
from alien_filters.report.captions import CaptionStats, captions_html
from tests.report.test_cli import run
from tests.support.builders_captioning import BLIP_DIR, write_blip
from tests.support.builders_detectors import (
    CLIP_DIR,
    OWLV2_DIR,
    OWLVIT_DIR,
    owlv2_available,
    write_clip,
    write_owlv2,
    write_owlvit,
)
from tests.support.report_rooms import write_group

CAPTIONS = {
    "a.jpg": "a hotel room with a large bed and a lamp",
    "b.jpg": "a hotel room with two beds",
    "c.jpg": "the bathroom of a hotel room",
    "d.jpg": None,
}
CLUSTERS = [{"kind": "tags", "clusters": [
    {"cluster": 0, "representatives": ["d.jpg", "b.jpg"], "members": ["d.jpg", "b.jpg", "a.jpg"]},
    {"cluster": 1, "representatives": ["c.jpg"], "members": ["c.jpg"]},
]}]


def stats() -> CaptionStats:
    found = CaptionStats()
    for path, caption in CAPTIONS.items():
        found.add(path, caption)
    return found


def test_counts_leave_stop_words_out_and_phrases_are_adjacent_content_words():
    summary = stats().summary(CLUSTERS)
    assert summary["images_with_caption"] == 3 and summary["images_without_caption"] == 1
    words = {w["word"]: w["count"] for w in summary["words"]}
    assert words["hotel"] == 3 and words["room"] == 3 and words["bed"] == 1
    assert not {"a", "the", "with", "and", "of", "two"} & set(words), "stop words are not counted"
    phrases = {p["phrase"]: p["count"] for p in summary["phrases"]}
    assert phrases == {"hotel room": 3, "large bed": 1}, "'bed and lamp' has a stop word between: no phrase"
    assert summary["words"][0] == {"word": "hotel", "count": 3}, "most frequent first, ties by name"


def test_lengths_examples_and_rows():
    found = stats()
    summary = found.summary(CLUSTERS)
    assert summary["length_words"] == {"min": 6, "median": 6, "max": 10, "mean": 7.33,
                                       "histogram": {"6": 2, "10": 1}}
    assert summary["examples"] == [
        {"kind": "tags", "cluster": 0, "path": "b.jpg", "caption": CAPTIONS["b.jpg"]},  # d.jpg has none
        {"kind": "tags", "cluster": 1, "path": "c.jpg", "caption": CAPTIONS["c.jpg"]},
    ]
    assert found.rows(list(CAPTIONS)) == [{"path": p, "caption": c} for p, c in CAPTIONS.items()]


def test_html_section_and_no_section_without_captions():
    html = captions_html(stats().summary(CLUSTERS))
    assert 'id="captions"' in html and "hotel room" in html and "6 to 10 words" in html
    assert "a hotel room with two beds" in html
    nothing = CaptionStats()
    nothing.add("x.jpg", None)
    assert nothing.summary(CLUSTERS) is None and captions_html(None) == ""
    assert captions_html(CaptionStats(captions={"x": "<b>&"}, lengths=Counter({2: 1})).summary([])).count("<b>&") == 0


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    write_owlvit(root / OWLVIT_DIR)
    if owlv2_available():  # the report's detector is auto: OWLv2 where transformers has it
        write_owlv2(root / OWLV2_DIR)
    write_clip(root / CLIP_DIR)
    write_blip(root / BLIP_DIR)
    return root


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    write_group(root, "room", ["bed", "lamp", "window"], 3, seed=7)
    return root


def report(photos: Path, out: Path, models: Path, *extra: str) -> dict:
    assert run("report", photos, "--out", out, "--models-dir", models, "--device", "cpu", "--offline", *extra) == 0
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_report_captions_by_default_when_blip_is_there_then_from_cache(models, photos, tmp_path, monkeypatch):
    out = tmp_path / "report"
    data = report(photos, out, models)
    assert data["tagger"].endswith("+blip_base") and data["tag_sources"]["tagger"] == 3
    assert data["captions"]["images_with_caption"] == 3 and len(data["images"]) == 3
    assert all(row["caption"] for row in data["images"])
    assert data["captions"]["examples"] and "Captions" in (out / "report.html").read_text(encoding="utf-8")
    off = report(photos, tmp_path / "off", models, "--captions", "off")
    assert off["captions"] is None and "images" not in off and not off["tagger"].endswith("blip_base")

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded although every tag is cached")

    monkeypatch.setattr(factory, "build_tagger", refuse)
    monkeypatch.setattr("alien_filters.report.embed.ClipImageEmbedder.from_folder", refuse)
    again = report(photos, out, models)
    assert again["tag_sources"]["cache"] == 3 and again["images"] == data["images"]


def test_a_report_after_a_captioned_batch_reuses_its_captions_and_loads_no_model(models, photos, tmp_path,
                                                                                   monkeypatch):
    batch = tmp_path / "batch"
    previous = signal.getsignal(signal.SIGINT)
    try:
        assert cli.main(["process", str(photos), "--out", str(batch), "--models-dir", str(models), "--captions",
                         "--dry-run", "--no-restore", "--segmenter", "boxes", "--detector", "owlvit", "--device",
                         "cpu", "--offline", "--no-preview"]) == cli.EXIT_OK
    finally:
        signal.signal(signal.SIGINT, previous)
    sidecars = {p.name.removesuffix(".caption"): p.read_text(encoding="utf-8").strip()
                for p in batch.rglob("*.caption")}
    assert len(sidecars) == 3

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded although the batch's manifests hold every caption")

    monkeypatch.setattr(factory, "build_tagger", refuse)
    data = report(photos, tmp_path / "report", models, "--manifests", str(batch), "--no-embeddings")
    assert data["tag_sources"] == {"cache": 0, "manifest": 3, "tagger": 0}
    assert {Path(r["path"]).stem: r["caption"] for r in data["images"]} == sidecars
