"""The tab in headless Chromium (Debian's /usr/bin/chromium through Playwright): upload a small image,
Preview (tags and the mask sheet appear), Run (the before/after gallery fills), select a result; with a model
missing, Preview and Run say in the Status box which file, from where, to put where."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from alien_filters.webui import factory
from alien_filters.webui.service import AlienService
from alien_filters.webui.ui import build_tab
from tests.support.report_rooms import write_group
from tests.support.rooms import room_image
from tests.webui.api_fixtures import double_stages, make_app
from tests.webui.missing_models import named_model_file, without_models

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_tab(service: AlienService):
    """The tab over ``service`` on a local port; yields its URL."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    demo = build_tab(service)
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture
def tab_url(tmp_path: Path):
    (tmp_path / "allowed").mkdir()
    make_app(tmp_path)
    yield from serve_tab(AlienService(double_stages))


@pytest.fixture
def offline_tab(tmp_path: Path, monkeypatch):
    """The tab over the real WebUI stages factory, with no model on disk and no network:
    (its URL, our empty models folder)."""
    (tmp_path / "allowed").mkdir()
    make_app(tmp_path)
    models = without_models(tmp_path, monkeypatch)
    for url in serve_tab(AlienService(factory.build_webui_stages)):
        yield url, models


def test_preview_and_run_in_chromium(tab_url, tmp_path):
    image, objects = room_image(2, size=(192, 160), n_objects=2)
    upload = tmp_path / "room.png"
    image.save(upload)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(tab_url)
        page.add_script_tag(path=str(ROOT / "javascript" / "alien_filters.js"))  # the WebUI injects it in <head>
        page.locator("#alien_filters_files input[type=file]").set_input_files(str(upload))
        page.wait_for_timeout(500)

        page.locator("#alien_filters_preview").click()
        tags = page.locator("#alien_filters_tags textarea")
        page.wait_for_function("() => document.querySelector('#alien_filters_tags textarea').value.length > 0",
                               timeout=60_000)
        shown = tags.input_value()
        assert {o.label for o in objects} <= {t.strip() for t in shown.split(",")}
        page.locator("#alien_filters_sheet img").wait_for(timeout=30_000)

        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.locator("#alien_filters_run").click()
        try:
            page.locator("#alien_filters_gallery img").nth(1).wait_for(timeout=60_000)
        except playwright_api.TimeoutError:
            page.screenshot(path=str(tmp_path / "failed.png"), full_page=True)
            status = page.locator("#alien_filters_status textarea").input_value()
            raise AssertionError(f"no gallery; status {status!r}; console errors {errors}") from None
        assert page.locator("#alien_filters_gallery img").count() >= 2
        page.wait_for_function(
            "() => document.querySelector('#alien_filters_status textarea').value.startsWith('done 1')",
            timeout=30_000)
        page.locator("#alien_filters_gallery img").nth(1).click()
        page.wait_for_function("() => document.querySelector('#alien_filters_details').innerText.includes('seed')",
                               timeout=30_000)
        shot = tmp_path / "alien-filters-tab.png"
        page.screenshot(path=str(shot))
        if os.environ.get("ALIEN_FILTERS_SCREENSHOT"):
            shutil.copy(shot, os.environ["ALIEN_FILTERS_SCREENSHOT"])
        browser.close()


def test_dataset_report_in_chromium(tab_url, tmp_path):
    write_group(tmp_path / "allowed" / "photos", "room", ["bed", "window"], 2, seed=3)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(tab_url)
        page.add_script_tag(path=str(ROOT / "javascript" / "alien_filters.js"))
        page.locator("#alien_filters_report").get_by_text("Dataset report").first.click()
        page.locator("#alien_filters_report_inputs textarea").fill("photos\n../elsewhere")
        page.locator("#alien_filters_report_folder textarea").fill("reports")
        page.locator("#alien_filters_report_run").click()
        summary = "document.querySelector('#alien_filters_report_summary textarea').value"
        page.wait_for_function(f"() => {summary}.startsWith('❌')", timeout=30_000)
        assert "'..' is not allowed" in page.locator("#alien_filters_report_summary textarea").input_value()

        page.locator("#alien_filters_report_inputs textarea").fill("photos")
        page.locator("#alien_filters_report_run").click()
        page.wait_for_function(f"() => {summary}.startsWith('2 images')", timeout=60_000)
        frame = page.frame_locator("#alien_filters_report_preview iframe")
        frame.locator("body").wait_for(timeout=30_000)
        assert "Theme coverage" in frame.locator("body").inner_text()
        assert (tmp_path / "allowed" / "reports" / "report.html").is_file()
        browser.close()


def test_a_missing_model_is_named_in_the_status_after_preview_and_after_run(offline_tab, tmp_path):
    url, models = offline_tab
    upload = tmp_path / "room.png"
    room_image(2, size=(192, 160), n_objects=2)[0].save(upload)
    status = "document.querySelector('#alien_filters_status textarea').value"
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        for button in ("#alien_filters_preview", "#alien_filters_run"):  # each on a fresh page: an empty Status
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(url)
            page.add_script_tag(path=str(ROOT / "javascript" / "alien_filters.js"))
            page.locator("#alien_filters_files input[type=file]").set_input_files(str(upload))
            page.wait_for_timeout(500)
            assert page.evaluate(f"() => {status}") == ""
            page.locator(button).click()
            page.wait_for_function(f"() => {status}.startsWith('❌')", timeout=60_000)
            shown = page.locator("#alien_filters_status textarea").input_value()
            assert shown.startswith("❌ Could not download"), (button, shown)
            named_model_file(shown, models)
            assert page.get_by_text("Error", exact=True).count() == 0, "no bare 'Error' on an output or in a toast"
            page.close()
        browser.close()
