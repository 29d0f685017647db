"""One force's folder for one window: each executed section's page, and the combined report with its
CSVs, from the executed notebooks the batch left (and recorded).

Fingerprints: a section page is made from its notebook's recorded sha256 and the publisher's code;
a report from every section notebook's, in order, and the publisher's code. A page is reused only
when its record names that fingerprint, its bytes are the recorded ones, and every file it links
that the build made (its CSVs, its PDF) still has the bytes it had when the page was written. A
report that cannot be built (a section failed, has not run, or its notebook is not the one
recorded) is withdrawn with its CSVs and PDF, so the index never links a report that does not
match its sections.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..core import records
from ..core.contract import (ASSUMPTIONS_HTML, INDEX_HTML, NATIONAL_HTML, REPORT_HTML, REPORT_PDF, STATUS_SUFFIX,
                             publisher_sha256)

@dataclass(frozen=True)
class Folder:
    """A force and window's folder of an output tree."""

    out: str
    period: str                 # ISO period end
    slug: str
    stems: tuple[str, ...]      # its sections, in the report's order
    notebooks_dir: str = ""

    @property
    def path(self) -> Path:
        return Path(self.out) / self.period / self.slug

    def rel(self, name: str) -> str:
        """A file at the top of the output tree, relative to this folder."""
        return os.path.relpath(Path(self.out) / name, self.path).replace(os.sep, "/")


def status(folder: Path, stem: str) -> dict:
    try:
        record = json.loads((folder / f"{stem}{STATUS_SUFFIX}").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def notebook_sha(folder: Path, stem: str) -> str | None:
    """The recorded sha256 of a section's executed notebook, when its job succeeded and the notebook
    is still the file recorded (None otherwise)."""
    if status(folder, stem).get("status") != "done":
        return None
    return records.sha256(folder / f"{stem}.ipynb")


ANY = "*"   # a link whose target may change without changing the page: it must only exist, as the build wrote it


def linked_intact(path: Path) -> bool:
    """Every file the page's record says it links still has the bytes it had when the page was written
    (or, for a link recorded as :data:`ANY`, is still a file the build wrote, intact)."""
    record = records.read(path) or {}
    for name, sha in record.get("links", {}).items():
        now = records.sha256(path.parent / name)
        if now is None or (sha != ANY and now != sha):
            return False
    return True


def page_trusted(path: Path, made_from: str) -> bool:
    return records.trusted(path, made_from) and linked_intact(path)


def section_fingerprint(sha: str, folder: Folder, with_report: bool = True) -> str:
    return records.fingerprint("section-page-v2", publisher_sha256(), sha, folder.rel(INDEX_HTML), str(with_report))


def report_fingerprint(shas: list[str]) -> str:
    return records.fingerprint("report-v1", publisher_sha256(), *shas)


def section_page(folder: Folder, stem: str, sha: str, with_report: bool = True) -> bool:
    """Write the section's page (linking the folder's report when every section has run) unless it is
    up to date; True if it was written."""
    from nbformat import reads

    from ..core.forces import resolve
    from ..core.periods import Period
    from ..core.sections import section
    from ..core.text import lower_first
    from .exporters import SectionExporter

    html = folder.path / f"{stem}.html"
    made_from = section_fingerprint(sha, folder, with_report)
    if page_trusted(html, made_from):
        return False
    nb = reads((folder.path / f"{stem}.ipynb").read_text(encoding="utf-8"), as_version=4)
    sec = section(stem, folder.notebooks_dir or None) if folder.notebooks_dir else section(stem)
    force = resolve(nb.metadata.get("peel", {}).get("force", folder.slug))
    title = f"{force.name}: {sec.title}, {lower_first(Period.parse(folder.period).label)}"
    links = [("All reports", folder.rel(INDEX_HTML))]
    if with_report:
        links.append((f"{force.name}'s full report", REPORT_HTML))
    body, _ = exporter(SectionExporter).from_notebook_node(
        nb, {"metadata": {"name": stem}, "peel": {"title": title, "links": links,
                                                  "assumptions_href": folder.rel(ASSUMPTIONS_HTML)}})
    records.write(html, body, made_from=made_from, inputs={f"{stem}.ipynb": sha}, kind="section page",
                  links={REPORT_HTML: ANY} if with_report else {})
    return True


_EXPORTERS: dict = {}


def exporter(cls):
    """One exporter of each kind per process (compiling the templates is the slow part)."""
    if cls not in _EXPORTERS:
        _EXPORTERS[cls] = cls()
    return _EXPORTERS[cls]


def withdraw_report(path: Path) -> None:
    """Remove a report with everything made with it or from it (its CSVs, its PDF), and the section
    pages that link it."""
    if not path.is_dir():
        return
    record = records.read(path / REPORT_HTML) or {}
    names = set(record.get("csv", [])) | {n for n in os.listdir(path) if n.startswith("report-") and n.endswith(".csv")}
    pages = [p for p in path.glob("[0-9][0-9]_*.html") if REPORT_HTML in (records.read(p) or {}).get("links", {})]
    records.withdraw(path / REPORT_HTML, path / REPORT_PDF, *(path / n for n in sorted(names)), *pages)


def report(folder: Folder, shas: list[str], *, pdf: bool) -> dict:
    """Write the combined report and its CSVs unless they are up to date (the page without a PDF link:
    a PDF is printed from it afterwards, and :func:`finish_report` then links it). Returns what happened:
    "skipped", "done", or "print" when the report (new or up to date) still needs its PDF."""
    path = folder.path / REPORT_HTML
    made_from = report_fingerprint(shas)
    record = records.read(path) or {}
    if page_trusted(path, made_from):
        return {"status": "print" if pdf and REPORT_PDF not in record.get("links", {}) else "skipped"}
    withdraw_report(folder.path)
    start = time.perf_counter()
    body, resources = render_report(folder, links=[])
    csvs = write_csvs(folder.path, resources, made_from)
    records.write(path, body, made_from=made_from, kind="report", links=csvs, csv=sorted(csvs),
                  inputs=dict(zip(folder.stems, shas)))
    return {"status": "print" if pdf else "done", "seconds": round(time.perf_counter() - start, 3)}


def finish_report(folder: Folder, shas: list[str], why_no_pdf: str = "") -> None:
    """After printing: the report again, linking its PDF (or saying why none was printed). Until this
    is written the report stands without a PDF link, and a PDF of an earlier page is never linked."""
    path = folder.path / REPORT_HTML
    record = records.read(path) or {}
    pdf_sha = None if why_no_pdf else records.sha256(folder.path / REPORT_PDF)
    extra = [("This report as PDF", REPORT_PDF)] if pdf_sha else []
    note = "" if pdf_sha else (why_no_pdf or "the PDF could not be printed")
    body, _ = render_report(folder, links=extra, no_pdf=note)
    links = {k: v for k, v in record.get("links", {}).items() if k != REPORT_PDF} | ({REPORT_PDF: pdf_sha} if pdf_sha else {})
    if not pdf_sha:
        records.withdraw(folder.path / REPORT_PDF)
    records.write(path, body, made_from=report_fingerprint(shas), kind="report", links=links,
                  csv=record.get("csv", []), inputs=dict(zip(folder.stems, shas)))


def render_report(folder: Folder, links: list, no_pdf: str = "") -> tuple[str, dict]:
    """The combined report of a folder: its executed sections merged and exported once."""
    from nbformat import reads

    from .document import merge
    from .exporters import ReportExporter

    notebooks = [(s, reads((folder.path / f"{s}.ipynb").read_text(encoding="utf-8"), as_version=4))
                 for s in folder.stems]
    merged = merge(notebooks, folder.notebooks_dir or None)
    nav = [("All reports", folder.rel(INDEX_HTML)), ("All forces, this window", f"../{NATIONAL_HTML}")]
    return exporter(ReportExporter).from_notebook_node(merged, {
        "metadata": {"name": "report"},
        "peel": {"standalone": False, "assumptions_href": folder.rel(ASSUMPTIONS_HTML),
                 "extra_links": links + nav, "no_pdf": no_pdf}})


def write_csvs(path: Path, resources: dict, made_from: str) -> dict[str, str]:
    """Write each CSV the report links (its charts' and tables' data, and all its results rows)."""
    written = {}
    for key, data in resources.get("outputs", {}).items():
        name = Path(key).name
        if name.endswith(".csv"):
            written[name] = records.write(path / name, data, made_from=made_from, kind="report data")["sha256"]
    return written


def build_folder(folder: Folder, pdf: bool = False) -> dict:
    """A folder's section pages and report. Returns status ("done", "skipped", "print", "not built",
    "failed"), with the reason, and how many section pages were written."""
    pages = 0
    try:
        shas = [notebook_sha(folder.path, stem) for stem in folder.stems]
        missing = [f"{stem} ({status(folder.path, stem).get('status') or 'not run'})"
                   for stem, sha in zip(folder.stems, shas) if sha is None]
        done = {"status": "not built", "reason": "sections not built: " + ", ".join(missing)} if missing else \
            report(folder, shas, pdf=pdf)
        if missing:
            withdraw_report(folder.path)
        with_report = records.read(folder.path / REPORT_HTML) is not None     # pages after the report they link
        for stem, sha in zip(folder.stems, shas):
            if sha is None:
                records.withdraw(folder.path / f"{stem}.html")
            else:
                pages += section_page(folder, stem, sha, with_report=with_report)
        return done | {"pages": pages}
    except Exception as err:  # noqa: BLE001 - one report's fault is reported; the others still build
        withdraw_report(folder.path)
        return {"status": "failed", "reason": f"{type(err).__name__}: {err}".splitlines()[0][:400], "pages": pages}
