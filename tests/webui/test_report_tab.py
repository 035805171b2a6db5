"""The tab's Dataset report section: allowed roots, the WebUI's queue lock and progress, Interrupt, errors."""

from __future__ import annotations

from html import unescape
from pathlib import Path

import pytest
from modules import call_queue, progress
from modules import shared as webui_shared

from alien_filters.core.pipeline import Stages
from alien_filters.webui.report_tab import ReportActions
from alien_filters.webui.service import AlienService
from tests.support.doubles import ColourTagger
from tests.support.report_rooms import write_group
from tests.webui.api_fixtures import make_app


class LockCheckingTagger(ColourTagger):
    """Tags like ColourTagger and records, per image, whether the WebUI's queue lock was held."""

    def __init__(self) -> None:
        super().__init__()
        self.lock_held: list[bool] = []

    def tag(self, image):
        free = call_queue.queue_lock.acquire(blocking=False)
        if free:
            call_queue.queue_lock.release()
        self.lock_held.append(not free)
        return super().tag(image)


@pytest.fixture
def tagger() -> LockCheckingTagger:
    return LockCheckingTagger()


@pytest.fixture
def actions(tmp_path: Path, tagger) -> ReportActions:
    (tmp_path / "allowed").mkdir()
    make_app(tmp_path)
    built: list = []

    def stages(options, choices) -> Stages:
        built.append(options)
        return Stages(tagger=tagger if options.tag else None)

    report = ReportActions(AlienService(stages))
    report.built = built  # type: ignore[attr-defined]
    return report


def test_report_of_a_server_folder_under_the_queue_lock(actions, tagger, tmp_path):
    write_group(tmp_path / "allowed" / "photos", "room", ["bed", "window"], 2, seed=3)
    summary, html_path, preview = actions.run("task(r1)", "photos\n\n", "reports/one", "cyberpunk")
    assert summary.startswith("2 images, 0 bad file(s), 2 classes"), summary
    assert Path(html_path) == tmp_path / "allowed" / "reports" / "one" / "report.html"
    assert tagger.lock_held == [True, True]
    assert "task(r1)" in progress.finished_tasks
    assert [(o.restore, o.tag, o.segment, o.inpaint) for o in actions.built] == [(False, True, False, False)]
    srcdoc = preview.split('srcdoc="', 1)[1].split('" style=', 1)[0]
    assert unescape(srcdoc) == Path(html_path).read_text(encoding="utf-8")
    assert "Theme coverage: cyberpunk" in unescape(srcdoc)


def test_report_stops_at_the_interrupt_button(actions, tagger, tmp_path):
    write_group(tmp_path / "allowed" / "photos", "room", ["bed"], 3, seed=4)
    original = tagger.tag

    def interrupt_after_first(image):
        webui_shared.state.interrupted = True
        return original(image)

    tagger.tag = interrupt_after_first  # type: ignore[method-assign]
    summary, html_path, _ = actions.run("", "photos", "rep", "alien")
    assert tagger.calls == 1 and "interrupted: the report covers the images tagged so far" in summary
    assert Path(html_path).is_file()


@pytest.mark.parametrize("inputs,out,expected", [
    ("  \n", "rep", "give at least one server image or folder"),
    ("photos", " ", "give a report folder"),
    ("missing", "rep", "missing: no such file or folder"),
    ("../photos", "rep", "'..' is not allowed in paths"),
])
def test_bad_requests_come_back_in_words(actions, tagger, tmp_path, inputs, out, expected):
    (tmp_path / "allowed" / "photos").mkdir()
    summary, html_path, preview = actions.run("", inputs, out, "alien")
    assert summary.startswith("❌") and expected in summary and (html_path, preview) == (None, "")
    assert tagger.calls == 0


def test_folders_outside_the_roots_are_refused(actions, tagger, tmp_path):
    write_group(tmp_path / "elsewhere", "room", ["bed"], 1, seed=5)
    summary, _, _ = actions.run("", str(tmp_path / "elsewhere"), "rep", "alien")
    assert summary.startswith("❌") and "outside the allowed roots" in summary
    (tmp_path / "allowed" / "linked").symlink_to(tmp_path / "elsewhere")
    assert "outside the allowed roots" in actions.run("", "linked", "rep", "alien")[0]
    assert "outside the allowed roots" in actions.run("", str(tmp_path / "allowed"), str(tmp_path), "alien")[0]
    assert tagger.calls == 0


def test_an_unexpected_failure_is_shown_and_reported(actions, tagger, tmp_path):
    from modules import errors

    write_group(tmp_path / "allowed" / "photos", "room", ["bed"], 1, seed=6)
    actions.service.stages_factory = lambda options, choices: (_ for _ in ()).throw(RuntimeError("disk on fire"))
    summary, html_path, _ = actions.run("", "photos", "rep", "alien")
    assert summary == "❌ RuntimeError: disk on fire" and html_path is None
    assert any("dataset report failed" in line for line in errors.reported)


@pytest.mark.parametrize("captions", [True, False])
def test_captions_switch_reaches_the_stages_and_the_report(actions, tagger, tmp_path, monkeypatch, captions):
    write_group(tmp_path / "allowed" / "photos", "room", ["bed", "window"], 2, seed=7)
    plain = tagger.tag

    def captioned(image):  # what the WebUI factory's tagger does when asked for captions: the caption in its Tags
        tags = plain(image)
        if actions.built[-1].caption:
            tags.caption = f"a room with {len(tags.objects)} things"
        return tags

    monkeypatch.setattr(tagger, "tag", captioned)
    summary, html_path, _ = actions.run("", "photos", "rep", "alien", captions)
    assert [o.caption for o in actions.built] == [captions]
    page = Path(html_path).read_text(encoding="utf-8")
    assert ('id="captions"' in page) is captions
    if captions:
        assert "a room with 2 things" in page


def test_a_captioner_that_cannot_load_stops_the_report_at_once_in_words(actions, tagger, tmp_path, monkeypatch):
    from alien_filters.webui.captioner import CaptionerUnavailable

    write_group(tmp_path / "allowed" / "photos", "room", ["bed"], 3, seed=8)
    message = "captions: the WebUI's interrogator could not load its BLIP and CLIP models (OSError: offline); " \
              "switch Captions off to tag only"
    calls = []

    def unavailable(image):
        calls.append(image.size)
        raise CaptionerUnavailable(message)

    monkeypatch.setattr(tagger, "tag", unavailable)
    summary, html_path, preview = actions.run("", "photos", "rep", "alien", True)
    assert summary == f"❌ {message}" and (html_path, preview) == (None, "")
    assert len(calls) == 1, "the report stops at the first image instead of failing every image the same way"
