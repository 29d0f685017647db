"""A real browser (Debian's headless Chromium, driven by Playwright without any browser download)
opens the outputs index and one force report over file://: every image loads and has alt text,
and no request leaves file:// (or inline data:). axe-core, run in the same browser, finds no
serious or critical accessibility violation on a full report, the national page and the index."""

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
                           "done: i.complete})).concat(Array.from(document.querySelectorAll('figure svg')).map(s => "
                           "({w: s.getBoundingClientRect().width, alt: (s.querySelector('desc') || {}).textContent "
                           "|| '', done: true})))")
    links = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    page.close()
    return requests, images, links


@pytest.mark.browser
@pytest.mark.realdata
def test_index_and_a_report_in_chromium(browser, built_reports):
    index = Path(built_reports["out"]) / "index.html"
    requests, images, links = _visit(browser, index.as_uri())
    assert all(u.startswith(("file://", "data:")) for u in requests), requests
    reports = [u for u in links if re.search(r"/\d\d_[^/]+\.html$", u)]
    assert len(reports) == len(built_reports["jobs"]) * len(built_reports["sections"])
    full = [u for u in links if u.endswith("/report.html")]
    assert len(full) == len(built_reports["jobs"])
    for url in reports:
        assert Path(re.sub(r"^file://", "", url)).is_file(), url

    figure1 = next(u for u in reports if "2018-03-31/cambridgeshire/02_figure1" in u)
    figure2 = next(u for u in reports if "2017-06-30/cambridgeshire/03_figure2" in u)
    for url in (figure1, figure2):
        requests, images, links = _visit(browser, url)
        assert images, f"no figure in {url}"
        for img in images:
            assert img["done"] and img["w"] > 0, f"a chart did not draw in {url}"
            assert img["alt"].strip() and "No description" not in img["alt"]
        assert all(u.startswith(("file://", "data:")) for u in requests), requests
        assert any(u.endswith("index.html") for u in links)  # the way back to the index


SEVERE = ("serious", "critical")


def _axe(browser, url: str) -> tuple[list[dict], dict]:
    """axe-core's violations on the page (every rule of its default set, WCAG 2.2 AA included), and a
    few facts read in the page itself."""
    from axe_playwright_python.sync_playwright import Axe

    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url, wait_until="load")
    violations = Axe().run(page).response["violations"]
    facts = page.evaluate("""() => ({
        h1: document.querySelectorAll('h1').length,
        levels: Array.from(document.querySelectorAll('h1,h2,h3,h4,h5,h6')).map(h => +h.tagName[1]),
        unscoped: Array.from(document.querySelectorAll('th')).filter(t => !t.getAttribute('scope')).length,
        charts: Array.from(document.querySelectorAll('figure svg')).map(s => s.getBoundingClientRect().width),
        scripts: document.querySelectorAll('script').length})""")
    page.close()
    facts["requests"] = requests
    return violations, facts


@pytest.mark.browser
@pytest.mark.realdata
def test_full_report_national_page_index_and_assumptions_pass_axe(browser, built_reports):
    out = Path(built_reports["out"])
    pages = [out / "2017-06-30" / "city-of-london" / "report.html", out / "2017-06-30" / "national.html",
             out / "index.html", out / "assumptions.html", out / "2018-03-31" / "cambridgeshire" / "08_funnel.html"]
    for path in pages:
        violations, facts = _axe(browser, path.as_uri())
        severe = [f"{v['id']} ({v['impact']}): {v['help']}; e.g. {v['nodes'][0]['target']}" for v in violations
                  if v.get("impact") in SEVERE]
        assert not severe, (path.name, severe)
        assert facts["h1"] == 1 and facts["scripts"] == 0, path.name
        assert all(b - a <= 1 for a, b in zip(facts["levels"], facts["levels"][1:])), (path.name, facts["levels"])
        assert facts["unscoped"] == 0, path.name
        assert all(u.startswith(("file://", "data:")) for u in facts["requests"]), facts["requests"]
        if path.name == "report.html":
            assert len(facts["charts"]) >= 3 and all(w > 300 for w in facts["charts"])   # the SVG charts render


@pytest.mark.browser
@pytest.mark.realdata
def test_force_in_numbers_fits_one_a4_page_and_a_screen_and_a_half(browser, built_reports, tmp_path):
    """Force in numbers, measured in the browser: at 1200 px wide the section is at most 1,500 px tall
    (a screen and a half of a 1,000 px window; it was 3,500), and printed as the report prints (A4, the
    publisher's margins) it takes one page."""
    from pypdf import PdfReader

    from peel_helpers.core.forces import resolve
    from peel_helpers.publish.pdf import MARGIN

    out = Path(built_reports["out"])
    for period, force in built_reports["jobs"]:
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        page.goto((out / period / resolve(force).slug / "report.html").as_uri(), wait_until="load")
        height = page.evaluate("() => document.getElementById('sec-force-in-numbers').getBoundingClientRect().height")
        assert height <= 1500, (period, force, height)
        page.evaluate("""() => { document.querySelector('header.peel-title').remove();
            document.querySelector('nav.peel-contents').remove();
            for (const s of document.querySelectorAll('section.peel-section'))
                if (s.id !== 'sec-force-in-numbers') s.remove(); }""")
        pdf = tmp_path / f"{period}-{resolve(force).slug}.pdf"
        page.pdf(path=str(pdf), format="A4", print_background=True, margin=MARGIN)
        page.close()
        assert len(PdfReader(pdf).pages) == 1, (period, force)
