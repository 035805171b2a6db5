"""The dataset report end to end on generated rooms whose classes are known exactly (ColourTagger double)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alien_filters.batch.runner import BatchRunner, BatchSettings
from alien_filters.core.pipeline import PipelineOptions, Stages
from alien_filters.report.collect import LazyTagger, StageUnavailable
from alien_filters.report.run import ReportOptions, run_report
from alien_filters.themes import parse_theme
from tests.support.doubles import ColourSegmenter, ColourTagger, ResizeRestorer
from tests.support.report_rooms import write_bad_files, write_group

GROUP_A = ["bed", "lamp", "window", "table"]
GROUP_B = ["chair", "curtain", "plant"]
THEME = """name: report-test
rules:
  - {classes: [bed], prompt: a coffin bed}
  - {classes: [lamp], prompt: floating candles}
  - {name: chair-classic, classes: [chair], prompt: a throne, when_style: [classic]}
  - {name: huge-window, classes: [window], prompt: the dark lake, min_area: 0.9}
  - {classes: [clock], prompt: pocket watches}
"""


@dataclass
class ColourHistogramEmbedder:
    """A 64-bin colour histogram of the image: a real (if simple) image embedding."""

    name: str = "colour-histogram"
    calls: int = 0

    def embed(self, image: Image.Image) -> np.ndarray:
        self.calls += 1
        bins = np.asarray(image.convert("RGB").resize((64, 64))) // 64
        index = bins[..., 0] * 16 + bins[..., 1] * 4 + bins[..., 2]
        return np.bincount(index.ravel(), minlength=64).astype(np.float32) / index.size


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("photos")
    group_a = write_group(root / "suites", "a", GROUP_A, 4, seed=0)
    group_b = write_group(root / "lobby", "b", GROUP_B, 3, seed=100)
    bad = write_bad_files(root / "broken")
    return {"root": root, "a": group_a, "b": group_b, "bad": bad}


@pytest.fixture(scope="module")
def theme():
    return parse_theme(THEME, "report-test.yaml")


@pytest.fixture(scope="module")
def first(photos, theme, tmp_path_factory):
    tagger, embedder = ColourTagger(), ColourHistogramEmbedder()
    out = tmp_path_factory.mktemp("report")
    result = run_report([photos["root"]], tagger, ReportOptions(out, theme), embedder)
    return {"result": result, "tagger": tagger, "embedder": embedder, "out": out}


def test_every_image_is_tagged_once_and_bad_files_are_named(first, photos):
    assert first["tagger"].calls == 7 and first["embedder"].calls == 7
    data = first["result"].data
    assert data["tag_sources"] == {"cache": 0, "manifest": 0, "tagger": 7}
    problems = {Path(b["path"]).name: b["problem"] for b in data["bad_files"]}
    assert problems == {"empty.jpg": "empty file (0 bytes)", "notes.png": "not an image (the file holds text)",
                        "truncated.jpg": problems["truncated.jpg"]}
    assert "truncated" in problems["truncated.jpg"]
    page = first["result"].html_path.read_text(encoding="utf-8")
    for name in problems:
        assert name in page


def test_frequencies_and_cooccurrence_are_exact(first):
    stats = first["result"].data["stats"]
    assert stats["images"] == 7
    assert {c["class"]: c["images"] for c in stats["classes"]} == {**dict.fromkeys(GROUP_A, 4),
                                                                   **dict.fromkeys(GROUP_B, 3)}
    cooc = stats["cooccurrence"]
    assert cooc["classes"] == ["bed", "lamp", "table", "window", "chair", "curtain", "plant"]
    expected = [[4] * 4 + [0] * 3] * 4 + [[0] * 4 + [3] * 3] * 3
    assert cooc["images"] == expected
    assert [(s["style"], s["top_style_images"]) for s in stats["styles"]] == [("modern", 7)]


def test_theme_coverage_is_exact(first):
    coverage = first["result"].data["stats"]["theme"]
    fired = {r["rule"]: (r["images"], r["too_small"]) for r in coverage["rules"]}
    # chair-classic needs the classic style (the images are modern); no window box covers 90% of an image
    assert fired == {"bed": (4, 0), "lamp": (4, 0), "chair-classic": (0, 0), "huge-window": (0, 4), "clock": (0, 0)}
    assert [(u["class"], u["images"]) for u in coverage["uncovered"]] == [
        ("table", 4), ("chair", 3), ("curtain", 3), ("plant", 3)]
    assert coverage["rules_never_firing"] == ["chair-classic", "huge-window", "clock"]


@pytest.mark.parametrize("kind", ["tags", "embeddings"])
def test_two_groups_of_rooms_make_two_clusters_with_the_right_members(first, photos, kind):
    clustering = next(c for c in first["result"].data["clusters"] if c["kind"] == kind)
    assert clustering["k"] == 2
    assert len(clustering["silhouettes"]) >= 2  # k was chosen among several candidates
    members = [sorted(c["members"]) for c in clustering["clusters"]]
    assert members == [sorted(map(str, photos["a"])), sorted(map(str, photos["b"]))]
    assert [t["class"] for t in clustering["clusters"][0]["top_tags"]] == sorted(GROUP_A)
    assert [t["class"] for t in clustering["clusters"][1]["top_tags"]] == sorted(GROUP_B)


def test_report_json_holds_the_same_numbers(first):
    on_disk = json.loads(first["result"].json_path.read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(first["result"].data))
    assert on_disk["format"] == "alien-filters/report@1"


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_is_self_contained(first):
    page = first["result"].html_path.read_text(encoding="utf-8")
    parser = _Collect()
    parser.feed(page)
    names = [tag for tag, _ in parser.tags]
    assert "script" not in names and "link" not in names and "iframe" not in names
    sources = [attrs["src"] for tag, attrs in parser.tags if tag == "img"]
    assert sources and all(src.startswith(("data:image/svg+xml;base64,", "data:image/jpeg;base64,")) for src in sources)
    assert not any("href" in attrs for _, attrs in parser.tags)
    assert "url(" not in page and "@import" not in page and "@font-face" not in page
    # charts: frequencies, styles, co-occurrence, coverage and per clustering a silhouette curve and a scatter plot
    assert sum(src.startswith("data:image/svg") for src in sources) == 8
    assert sum(src.startswith("data:image/jpeg") for src in sources) == 4  # a contact sheet per cluster


def test_second_run_reuses_cached_tags_and_embeddings(first, photos, theme):
    tagger, embedder = ColourTagger(), ColourHistogramEmbedder()
    again = run_report([photos["root"]], tagger, ReportOptions(first["out"], theme), embedder)
    assert tagger.calls == 0 and embedder.calls == 0
    assert again.data["tag_sources"] == {"cache": 7, "manifest": 0, "tagger": 0}
    assert again.data["stats"] == first["result"].data["stats"]
    assert again.data["clusters"] == first["result"].data["clusters"]


def test_cached_report_never_builds_a_lazy_tagger(first, photos, theme):
    def refuse() -> ColourTagger:
        raise AssertionError("the tagger was built although every tag is cached")

    lazy = LazyTagger("colour-tagger-double", refuse)
    result = run_report([photos["root"] / "suites"], lazy, ReportOptions(first["out"], theme))
    assert lazy.built is None and result.data["tag_sources"]["cache"] == 4


def test_a_tagger_that_cannot_load_stops_the_report_with_its_reason(photos, tmp_path):
    def missing() -> ColourTagger:
        raise FileNotFoundError("models/owlvit: no such folder")

    with pytest.raises(StageUnavailable, match="cannot load detector: models/owlvit: no such folder"):
        run_report([photos["root"] / "lobby"], LazyTagger("detector", missing), ReportOptions(tmp_path))


def test_tags_from_batch_manifests_are_reused(photos, theme, tmp_path):
    batch_out = tmp_path / "batch"
    stages = Stages(ResizeRestorer(), ColourTagger(), ColourSegmenter(), None)
    settings = BatchSettings(out_dir=batch_out, options=PipelineOptions(inpaint=False), save_previews=False)
    BatchRunner(stages, theme, settings).run([photos["root"] / "suites", photos["root"] / "lobby"])
    tagger = ColourTagger()
    result = run_report([photos["root"]], tagger, ReportOptions(tmp_path / "report", theme, manifests=(batch_out,)))
    assert tagger.calls == 0
    assert result.data["tag_sources"] == {"cache": 0, "manifest": 7, "tagger": 0}
    assert {c["class"]: c["images"] for c in result.data["stats"]["classes"]} == {**dict.fromkeys(GROUP_A, 4),
                                                                                  **dict.fromkeys(GROUP_B, 3)}


def test_a_failing_tagger_names_the_image_and_the_report_goes_on(photos, tmp_path):
    class Flaky(ColourTagger):
        def tag(self, image):
            if self.calls == 1:
                self.calls += 1
                raise RuntimeError("CUDA error: device-side assert")
            return super().tag(image)

    result = run_report([photos["root"] / "lobby"], Flaky(), ReportOptions(tmp_path))
    assert result.data["stats"]["images"] == 2
    assert [(Path(b["path"]).name, b["problem"]) for b in result.data["bad_files"]] == [
        ("b_1.png", "tagging failed: RuntimeError: CUDA error: device-side assert")]


def test_interrupted_report_covers_the_images_so_far(photos, tmp_path):
    tagger = ColourTagger()
    result = run_report([photos["root"] / "suites"], tagger, ReportOptions(tmp_path),
                        interrupted=lambda: tagger.calls >= 2)
    assert result.interrupted and result.data["interrupted"]
    assert result.data["stats"]["images"] == 2 and result.html_path.exists()


def test_a_folder_without_images_still_gives_a_report(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_report([tmp_path / "empty", tmp_path / "missing"], ColourTagger(), ReportOptions(tmp_path / "out"))
    assert result.data["stats"]["images"] == 0 and result.data["clusters"] == []
    assert [b["problem"] for b in result.data["bad_files"]] == ["no such file or folder"]
    assert "Files that could not be used (1)" in result.html_path.read_text(encoding="utf-8")


def test_damaged_cache_entries_are_tagged_again(photos, tmp_path):
    run_report([photos["root"] / "lobby"], ColourTagger(), ReportOptions(tmp_path))
    entries = sorted((tmp_path / ".alien-cache").rglob("*.json"))
    assert len(entries) == 3
    entries[0].write_text('{"tags": {"objects": 5}, "size": [1]}', encoding="utf-8")
    entries[1].write_text("{not json", encoding="utf-8")
    tagger = ColourTagger()
    result = run_report([photos["root"] / "lobby"], tagger, ReportOptions(tmp_path))
    assert tagger.calls == 2
    assert result.data["tag_sources"] == {"cache": 1, "manifest": 0, "tagger": 2}
