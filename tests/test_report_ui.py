"""The WebUI's Report section, built with the installed gradio and run through its click handler."""

from __future__ import annotations

from html import unescape
from pathlib import Path

import pytest

from alien_filters.report.ui import build_report_section, make_run_report_fn
from tests.doubles import ColourTagger
from tests.report_rooms import write_group

gr = pytest.importorskip("gradio")


def test_section_runs_a_report_and_previews_it_in_an_iframe(tmp_path):
    write_group(tmp_path / "photos", "room", ["bed", "window"], 2, seed=3)
    tagger = ColourTagger()
    with gr.Blocks():
        section = build_report_section(gr, make_run_report_fn(tagger), themes=["alien", "cyberpunk"])
    assert section.theme.value == "alien"
    summary, html_path, preview = section.run(f"{tmp_path / 'photos'}\n\n", str(tmp_path / "out"), "cyberpunk")
    assert tagger.calls == 2
    assert summary.startswith("2 images, 0 bad file(s), 2 classes")
    assert Path(html_path) == tmp_path / "out" / "report.html"
    assert preview.startswith("<iframe") and 'srcdoc="' in preview
    srcdoc = preview.split('srcdoc="', 1)[1].split('" style=', 1)[0]
    assert unescape(srcdoc) == Path(html_path).read_text(encoding="utf-8")
    assert "Theme coverage: cyberpunk" in unescape(srcdoc)


def test_section_reports_bad_requests_and_failures_as_text(tmp_path):
    def broken(inputs, out_dir, theme):
        raise RuntimeError("no space left on device")

    with gr.Blocks():
        section = build_report_section(gr, broken)
    assert section.run("  \n", "out", "alien") == ("error: give at least one image file or folder (one per line)",
                                                   None, "")
    assert section.run("photos", " ", "alien")[0] == "error: give an output folder for report.html"
    assert section.run("photos", "out", "alien") == ("error: RuntimeError: no space left on device", None, "")
