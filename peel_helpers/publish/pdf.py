"""``report.pdf`` beside each ``report.html`` (opt-in: ``peel-reports build --pdf``).

The report is printed by headless Chromium (Debian's ``chromium``, driven through playwright's
Python package, which downloads no browser of its own): A4, page numbers in the footer, a page
break before each section (the report's print styles), bookmarks for every heading
(``outline``), and a tagged PDF for assistive technology (``tagged``). Its links to the CSVs beside
it, the index and the national page are made relative to the PDF (:func:`relative_links`), so they
still work when the folder is moved and name no path of the machine that built it. One browser prints every report
of a build. Each PDF is written through :mod:`peel_helpers.core.records`, made from the exact page
it printed. Chromium drops the space where a heading wraps onto a second line when it names the
bookmark ("England andWales"); :func:`relative_links` puts back the heading's own words.

A section declared to start a printed page does so by a CSS rule, which cannot see how full the page
before it is. So each report is printed, its pages measured (:func:`thin_breaks`), and where a forced
break left a page less than a third full the section after it is let follow on and the report printed
again (at most twice more). The page itself is not changed: only the print.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core import records

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
        return (f"no Chromium at {chromium()}; install it (Debian/Ubuntu: apt-get install chromium) or point "
                "PEEL_CHROMIUM at one")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is missing; run make setup (or pip install playwright)"
    return ""


def made_from(page_sha: str) -> str:
    return records.fingerprint("pdf-v4", page_sha, "A4", "outline", "tagged")


THIN = 1 / 3            # a page less full than this, before a forced break, is a page left nearly blank
_TOP, _BOTTOM = (float(MARGIN[side].removesuffix("mm")) / 25.4 * 72 for side in ("top", "bottom"))  # in points


def page_fill(page) -> tuple[float, str]:
    """How far down its body a printed page's text reaches (0 empty, 1 full), the footer left out; and
    the page's text, whitespace made single spaces."""
    lowest: list[float] = []
    height = float(page.mediabox.height)

    def visit(text, cm, tm, font, size):
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        if text.strip() and y > _BOTTOM:
            lowest.append(y)

    text = " ".join((page.extract_text(visitor_text=visit) or "").split())
    if not lowest:
        return 0.0, text
    body = height - _TOP - _BOTTOM
    return max(0.0, min(1.0, (height - _TOP - min(lowest)) / body)), text


def _bookmarks(items):
    for item in items:
        yield from (_bookmarks(item) if isinstance(item, list) else [item])


def thin_breaks(pdf: Path, forced: list[str]) -> list[str]:
    """The titles of the sections in ``forced`` (those that start a printed page) whose page break left
    the page before them less than :data:`THIN` full. Each section's first page is found from its
    bookmark, so only the page before it is measured. A page that is the contents alone is a page of
    its own in any publication and is let be."""
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    wanted = {_squeezed(t): t for t in forced}
    found = []
    for mark in _bookmarks(reader.outline):
        title = wanted.get(_squeezed(mark.title))
        number = reader.get_destination_page_number(mark) if title else None
        if not number:                       # not a forced section, or it is on the first page
            continue
        fill, text = page_fill(reader.pages[number - 1])
        if fill < THIN and not text.startswith("Contents"):
            found.append(title)
    return found


def _squeezed(text: str) -> str:
    return "".join(text.split())


def outline_titles(writer, headings: list[str]) -> int:
    """Give each bookmark whose title differs from a heading of the page only by whitespace (Chromium
    loses the space at a line wrap) that heading's words. Returns how many titles were restored."""
    from pypdf.generic import NameObject, TextStringObject

    words = {_squeezed(h): " ".join(h.split()) for h in headings if h.strip()}
    restored = 0
    outlines = writer.root_object.get("/Outlines")
    stack = [outlines.get_object().get("/First")] if outlines is not None else []
    while stack:
        ref = stack.pop()
        if ref is None:
            continue
        item = ref.get_object()
        title = str(item.get("/Title", ""))
        heading = words.get(_squeezed(title))
        if heading is not None and title != heading:
            item[NameObject("/Title")] = TextStringObject(heading)
            restored += 1
        stack.extend([item.get("/Next"), item.get("/First")])
    return restored


def relative_links(pdf: Path, folder: Path, headings: list[str] | None = None) -> int:
    """Chromium writes every link of a printed page as an absolute URI (``file:///…/report-table-1.csv``),
    which is dead once the PDF is e-mailed or its folder moved. Rewrite the link annotations that point
    into the output folder as paths relative to the PDF (pypdf edits the annotation objects and, given
    the page's ``headings``, the bookmark titles: :func:`outline_titles`). Returns how many links were
    rewritten."""
    from urllib.parse import unquote, urlparse

    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    writer = PdfWriter(clone_from=PdfReader(pdf))
    if headings:
        outline_titles(writer, headings)
    changed = 0
    for page in writer.pages:
        for ref in page.get("/Annots") or []:
            action = ref.get_object().get("/A")
            uri = action.get_object().get("/URI") if action is not None else None
            if not uri or not str(uri).startswith("file:"):
                continue
            parsed = urlparse(str(uri))
            target = Path(unquote(parsed.path))
            rel = os.path.relpath(target, folder).replace(os.sep, "/") + (f"#{parsed.fragment}" if parsed.fragment else "")
            action.get_object()[NameObject("/URI")] = TextStringObject(rel)
            changed += 1
    with open(pdf, "wb") as fh:
        writer.write(fh)
    return changed


def _print_one(page, source: Path, target: Path) -> None:
    sha = records.sha256(source)
    if sha is None:
        raise ValueError(f"{source.name} is not the page that was written")
    page.goto(source.resolve().as_uri(), wait_until="load")
    headings = page.eval_on_selector_all("h1, h2, h3, h4, h5, h6", "els => els.map(e => e.textContent)")
    forced = page.eval_on_selector_all("section.peel-section:not(.peel-continue) > h2",
                                        "els => els.map(e => e.textContent.split(/\\s+/).join(' ').trim())")

    def write(tmp: Path) -> None:
        for _ in range(3):
            page.pdf(path=str(tmp), format="A4", print_background=True, display_header_footer=True, outline=True,
                     tagged=True, header_template="<span></span>", footer_template=FOOTER, margin=MARGIN)
            thin = thin_breaks(tmp, forced)
            if not thin:
                break
            page.evaluate("""titles => { for (const h of document.querySelectorAll('section.peel-section > h2'))
                if (titles.includes(h.textContent.split(/\\s+/).join(' ').trim()))
                    h.parentElement.classList.add('peel-continue'); }""", thin)
            forced[:] = [t for t in forced if t not in thin]
        relative_links(tmp, source.resolve().parent, headings)

    records.write(target, write, made_from=made_from(sha), inputs={source.name: sha}, kind="report PDF")


def print_pdfs(jobs: list[tuple[Path, Path]]) -> tuple[dict[Path, str], str]:
    """Print each ``(source page, target PDF)``. Returns (target -> "" when printed, else the one-line
    reason it was not; the one line saying why none could be printed, or "")."""
    if not jobs:
        return {}, ""
    why = unavailable()
    if why:
        return {target: why for _, target in jobs}, why
    from playwright.sync_api import Error, sync_playwright
    from pypdf.errors import PyPdfError

    done: dict[Path, str] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(chromium()), headless=True, args=FLAGS)
            try:
                page = browser.new_page()
                for source, target in jobs:
                    try:
                        _print_one(page, source, target)
                        done[target] = ""
                    except (Error, OSError, ValueError, PyPdfError) as err:
                        done[target] = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
            finally:
                browser.close()
    except Error as err:      # the browser would not start
        why = f"Chromium did not start: {str(err).strip().splitlines()[0][:300]}"
        return {target: done.get(target, why) for _, target in jobs}, why
    return done, ""
