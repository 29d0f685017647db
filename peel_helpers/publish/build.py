"""The publish step of a build, after the batch: the assumptions page, every folder's section pages
and combined report (:mod:`.pages`), the PDFs when asked for (:mod:`.pdf`), each window's national
page (:mod:`.national`) and the index (:mod:`.index`). Runs no kernel.

Before the batch runs a notebook again, :func:`withdraw_for` takes away everything made from it (its
section page; its folder's report, CSVs and PDF; its window's national page), so an interrupted build
never leaves a page made from other data; the index is rewritten at once and lists only what
remains. :func:`clean` deletes only the files the records say a build wrote.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from ..core import records
from ..core.contract import ASSUMPTIONS_HTML, LOGS_DIR, NATIONAL_HTML, publisher_sha256
from ..core.errors import ParameterError
from ..core.paths import ASSUMPTIONS_PATH
from ..core.sections import Section
from .pages import Folder, build_folder, finish_report, notebook_sha, withdraw_report

PER_WORKER = 8   # folders to build per worker process before the step uses more than one process


def prepare() -> None:
    """Load the exporters and compile their templates now (a runner that forks workers does it once)."""
    import nbformat

    from .exporters import ReportExporter, SectionExporter
    from .pages import exporter

    nb = nbformat.from_dict({"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# x", "id": "x"}],
                             "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    for cls in (SectionExporter, ReportExporter):
        exporter(cls).from_notebook_node(nb, {"metadata": {"name": "warm-up"}, "peel": {"standalone": False}})


def write_assumptions(out: Path) -> bool:
    """``<out>/assumptions.html``, unless it is up to date with ``data/ASSUMPTIONS.md``."""
    from .exporters import assumptions_page

    path = Path(out) / ASSUMPTIONS_HTML
    made_from = records.fingerprint("assumptions-v1", publisher_sha256(), ASSUMPTIONS_PATH.read_text(encoding="utf-8"))
    if records.trusted(path, made_from):
        return False
    records.write(path, assumptions_page("index.html"), made_from=made_from, kind="assumptions page")
    return True


def withdraw_for(out: Path, jobs) -> None:
    """Before the batch runs ``jobs`` again: withdraw every page made from the notebooks they will replace."""
    folders, periods = set(), set()
    for job in jobs:
        records.withdraw(job.html)
        folders.add(job.folder)
        periods.add(job.period_end)
    for folder in folders:
        withdraw_report(folder)    # with the folder's section pages that link it
    for period in periods:
        records.withdraw(Path(out) / period / NATIONAL_HTML)


def _fresh(folder: Folder, pdf: bool) -> bool:
    """Nothing to do in this folder: every section page and the report are trusted (or the report
    cannot be built and nothing of it is left)."""
    from .pages import page_trusted, report_fingerprint, section_fingerprint

    shas = [notebook_sha(folder.path, s) for s in folder.stems]
    if any(s is None for s in shas):
        return False
    if not all(page_trusted(folder.path / f"{s}.html", section_fingerprint(sha, folder))
               for s, sha in zip(folder.stems, shas)):
        return False
    report = folder.path / "report.html"
    if not page_trusted(report, report_fingerprint(shas)):
        return False
    return not pdf or "report.pdf" in (records.read(report) or {}).get("links", {})


def _build_folders(folders: list[Folder], pdf: bool, pool_map=None) -> list[dict]:
    stale = [f for f in folders if not _fresh(f, pdf)]
    workers = min(os.cpu_count() or 1, max(1, len(stale) // PER_WORKER))
    if workers < 2 or pool_map is None:
        built = [build_folder(f, pdf) for f in stale]
    else:
        built = pool_map(_one, [(f, pdf) for f in stale], workers, _died)
    done = dict(zip(stale, built))
    return [done.get(f, {"status": "skipped", "pages": 0}) | {"folder": f} for f in folders]


def _one(args: tuple) -> dict:
    return build_folder(*args)


def _died(args: tuple, why: str) -> dict:
    """A folder whose worker process died: its report is withdrawn, the others go on."""
    withdraw_report(args[0].path)
    return {"status": "failed", "reason": f"the process building it ended: {why}", "pages": 0}


def publish(out: Path, forces, periods, sections: tuple[Section, ...], notebooks_dir: Path | str = "", *,
            pdf: bool = False, pool_map=None, log=print) -> int:
    """Every page of the build. Prints one summary line (and one per failure); returns the number of
    reports that failed to build or print."""
    from .index import write_index

    start = time.perf_counter()
    out = Path(out)
    write_assumptions(out)
    stems = tuple(s.notebook for s in sections)
    folders = [Folder(str(out), p.iso, f.slug, stems, str(notebooks_dir)) for p in periods for f in forces]
    done = _build_folders(folders, pdf, pool_map)
    failed = [r for r in done if r["status"] == "failed"]
    national, national_failed = _national(out, periods, log)
    write_index(out, sections)
    printing = [r["folder"] for r in done if r["status"] == "print"]
    pdf_line, pdf_failed = _print(printing, log) if pdf else ("", 0)
    if printing:
        write_index(out, sections)     # now with the PDFs that were printed
    for r in failed:
        log(f"  REPORT FAILED {r['folder'].path}: {r['reason']}")
    counts = {k: sum(r["status"] in ks for r in done) for k, ks in
              (("written", ("done", "print")), ("skipped", ("skipped",)), ("not built", ("not built",)))}
    log(f"pages: {sum(r.get('pages', 0) for r in done)} section pages written; reports: {counts['written']} written, "
        f"{counts['skipped']} up to date, {counts['not built']} not built (a section failed or has not run), "
        f"{len(failed)} failed; national pages: {national} written, {len(periods) - national - national_failed} up to "
        f"date, {national_failed} failed"
        f"{pdf_line}; {time.perf_counter() - start:.1f} s")
    return len(failed) + pdf_failed + national_failed


def _national(out: Path, periods, log) -> tuple[int, int]:
    """Each window's national page: (written, failed). A full disk stops the build (one line, by the cli)."""
    from .national import write_national

    written = failed = 0
    for period in periods:
        try:
            written += write_national(out, period)
        except OSError:
            raise
        except Exception as err:  # noqa: BLE001 - one window's page fails alone; the reports stand
            failed += 1
            log(f"  NATIONAL PAGE FAILED {out / period.iso}: {type(err).__name__}: {str(err).splitlines()[0][:300]}")
    return written, failed


def _print(folders: list[Folder], log) -> tuple[str, int]:
    """Print the reports waiting for their PDF, then write each report with its PDF link (or the reason
    none was printed). Returns the summary's PDF part and how many failed."""
    from .pdf import print_pdfs

    if not folders:
        return "; PDFs: 0 printed", 0
    shas = {f: [notebook_sha(f.path, s) for s in f.stems] for f in folders}
    results, why = print_pdfs([(f.path / "report.html", f.path / "report.pdf") for f in folders])
    for f in folders:
        finish_report(f, shas[f], results.get(f.path / "report.pdf", why))
    failed = [f for f in folders if results.get(f.path / "report.pdf")]
    if why:
        log(f"PDF not printed: {why}. The HTML reports are built and say so.")
    else:
        for f in failed:
            log(f"  PDF FAILED {f.path}: {results[f.path / 'report.pdf']}")
    return f"; PDFs: {len(folders) - len(failed)} printed, {len(failed)} failed", len(failed)


def clean(out: Path) -> int:
    """Delete what a build wrote into ``out``, by its records; refuse a folder that holds none."""
    out = Path(out)
    written = list(records.recorded(out)) if out.is_dir() else []
    if not written:
        raise ParameterError(f"--out {out}: no file there was written by peel-reports (no records), so nothing "
                             "is deleted; name the folder a build wrote.")
    folders = {out}
    for path in written:
        records.withdraw(path)
        folders |= {path.parent / records.RECORDS_DIR, *[p for p in path.parents if out in p.parents]}
    shutil.rmtree(out / LOGS_DIR, ignore_errors=True)
    removed_dirs = 0
    for folder in sorted(folders - {out}, key=lambda p: len(p.parts), reverse=True):
        try:
            folder.rmdir()            # only the build's folders, and only once the deletions left them empty
            removed_dirs += 1
        except OSError:
            pass
    print(f"removed {len(written)} file(s) the build wrote, and {removed_dirs} emptied folder(s), from {out}",
          file=sys.stdout)
    return 0
