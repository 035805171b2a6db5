"""The tab in headless Chromium (Debian's /usr/bin/chromium through Playwright): upload a small image,
Preview (tags and the mask sheet appear), Run (the before/after gallery fills), select a result."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from alien_filters.webui.service import AlienService
from alien_filters.webui.ui import build_tab
from tests.support.report_rooms import write_group
from tests.support.rooms import room_image
from tests.webui.api_fixtures import double_stages, make_app

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


@pytest.fixture
def tab_url(tmp_path: Path):
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    (tmp_path / "allowed").mkdir()
    make_app(tmp_path)
    demo = build_tab(AlienService(double_stages))
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


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
