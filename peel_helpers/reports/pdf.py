"""``report.pdf`` beside each ``report.html`` (opt-in: ``peel-reports build --pdf``).

The finished HTML is printed by headless Chromium (Debian's ``chromium``, driven through
playwright's Python package, which downloads no browser of its own): A4, page numbers in the
footer, and a page break before each section (the report's print styles). One browser prints
every report of a batch.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.files import atomic_write

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FOOTER = ('<div style="font-family: Arial, sans-serif; font-size: 8px; color: #3D3D3D; width: 100%; '
          'text-align: center;"><span class="title"></span> &middot; page <span class="pageNumber"></span> of '
          '<span class="totalPages"></span></div>')
MARGIN = {"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"}


def chromium() -> Path:
    """The browser to print with: ``PEEL_CHROMIUM``, else Debian's ``/usr/bin/chromium``."""
    return Path(os.environ.get("PEEL_CHROMIUM", "/usr/bin/chromium"))


def unavailable() -> str:
    """Why PDFs cannot be printed here, in one line with how to fix it ("" when they can)."""
    if not chromium().is_file():
        return (f"PDF not written: no Chromium at {chromium()}; install it (Debian/Ubuntu: apt-get install "
                "chromium) or point PEEL_CHROMIUM at one. The HTML reports are built.")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return ("PDF not written: the playwright Python package is missing; run make setup (or pip install "
                "playwright). The HTML reports are built.")
    return ""


def _print_one(page, html_path: Path) -> Path:
    page.goto(html_path.resolve().as_uri(), wait_until="load")
    return atomic_write(html_path.with_suffix(".pdf"), lambda tmp: page.pdf(
        path=str(tmp), format="A4", print_background=True, display_header_footer=True,
        header_template="<span></span>", footer_template=FOOTER, margin=MARGIN))


def print_pdfs(pages: list[Path]) -> tuple[list[Path], str, list[str]]:
    """Print each HTML page to a PDF beside it. Returns (pages printed, the one line saying why
    none could be printed or "", one line per page that failed)."""
    if not pages:
        return [], "", []
    why = unavailable()
    if why:
        return [], why, []
    from playwright.sync_api import Error, sync_playwright

    printed, failed = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium()), headless=True, args=FLAGS)
        try:
            page = browser.new_page()
            for html_path in pages:
                try:
                    _print_one(page, Path(html_path))
                    printed.append(Path(html_path))
                except Error as err:
                    failed.append(f"{html_path}: {str(err).splitlines()[0]}")
        finally:
            browser.close()
    return printed, "", failed
