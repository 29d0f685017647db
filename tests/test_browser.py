"""A real browser (Debian's headless Chromium, driven by Playwright without any browser download)
opens the outputs index and one force report over file://: every image loads and has alt text,
and no request leaves file:// (or inline data:)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("PEEL_CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _required() -> bool:
    return any(os.environ.get(v, "").strip() not in ("", "0", "false", "False") for v in ("CI", "PEEL_REQUIRE_REAL_DATA"))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = None
    if not CHROMIUM.is_file():
        missing = f"{CHROMIUM} not found (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright Python package is not installed (make setup)"
    if missing:
        if _required():
            pytest.fail(f"browser test required under CI/PEEL_REQUIRE_REAL_DATA: {missing}")
        pytest.skip(missing)
    with sync_playwright() as pw:  # Playwright gives each launch a fresh temporary profile
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                               args=FLAGS)
        yield b
        b.close()


def _visit(browser, url: str) -> tuple[list[str], list[dict], list[str]]:
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url, wait_until="load")
    images = page.evaluate("() => Array.from(document.images).map(i => ({w: i.naturalWidth, alt: i.alt, "
                           "done: i.complete}))")
    links = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    page.close()
    return requests, images, links


@pytest.mark.browser
@pytest.mark.realdata
def test_index_and_a_report_in_chromium(browser, built_reports):
    index = Path(built_reports["out"]) / "index.html"
    requests, images, links = _visit(browser, index.as_uri())
    assert all(u.startswith(("file://", "data:")) for u in requests), requests
    reports = [u for u in links if u.endswith(".html")]
    assert len(reports) == len(built_reports["jobs"]) * len(built_reports["sections"])
    for url in reports:
        assert Path(re.sub(r"^file://", "", url)).is_file(), url

    figure1 = next(u for u in reports if "2018-03-31/cambridgeshire/02_figure1" in u)
    figure2 = next(u for u in reports if "2017-06-30/cambridgeshire/03_figure2" in u)
    for url in (figure1, figure2):
        requests, images, links = _visit(browser, url)
        assert images, f"no figure in {url}"
        for img in images:
            assert img["done"] and img["w"] > 0, f"an image did not load in {url}"
            assert img["alt"].strip() and "No description" not in img["alt"]
        assert all(u.startswith(("file://", "data:")) for u in requests), requests
        assert any(u.endswith("index.html") for u in links)  # the way back to the index
