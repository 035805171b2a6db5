"""report.html in headless Chromium (Debian's package, never a browser download): no console errors, no
network requests, and every chart and contact sheet rendered."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from alien_filters.report.run import ReportOptions, run_report
from alien_filters.themes import get_theme
from tests.report.test_run import ColourHistogramEmbedder
from tests.support.doubles import ColourTagger
from tests.support.report_rooms import write_bad_files, write_group

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                       "(apt-get install -y chromium)"),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    write_group(root / "a", "a", ["bed", "lamp", "window"], 3, seed=1)
    write_group(root / "b", "b", ["chair", "mirror", "television"], 3, seed=50)
    write_bad_files(root / "bad")
    out = tmp_path_factory.mktemp("report")
    run_report([root], ColourTagger(), ReportOptions(out, get_theme("alien")), ColourHistogramEmbedder())
    return out / "report.html"


def test_report_opens_offline_without_errors_and_shows_its_charts(report, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    assert shutil.which(str(CHROMIUM))
    errors: list[str] = []
    requests: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            def block_network(route):
                url = route.request.url
                if url.startswith(("data:", report.as_uri())):
                    route.continue_()
                else:
                    requests.append(url)
                    route.abort()

            page.route("**/*", block_network)
            page.goto(report.as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => ({alt: e.alt, ok: e.complete && e.naturalWidth > 0, "
                       "w: e.getBoundingClientRect().width, h: e.getBoundingClientRect().height}))")
            headings = page.eval_on_selector_all("h2", "els => els.map(e => e.textContent)")
            body = page.inner_text("body")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert requests == []
    alts = [image["alt"] for image in images]
    for chart in ("tag frequency bar chart", "style distribution bar chart", "co-occurrence heat map",
                  "rule firing bar chart", "tags silhouette by k", "tags clusters, two principal components",
                  "embeddings silhouette by k", "embeddings clusters, two principal components"):
        assert chart in alts
    assert sum(alt.startswith("contact sheet") for alt in alts) == 4
    broken = [image for image in images if not image["ok"] or image["w"] < 50 or image["h"] < 30]
    assert broken == []
    assert headings[:5] == ["Overview", "Tag frequencies", "Interior styles",
                            "Co-occurrence of the most frequent classes", "Theme coverage: alien"]
    assert "Clusters by tags" in headings and "Clusters by CLIP image embeddings" in headings
    for name in ("empty.jpg", "notes.png", "truncated.jpg"):
        assert name in body
