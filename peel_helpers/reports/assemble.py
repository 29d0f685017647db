"""After a batch: the combined report of every force and window, the national pages, and (opt-in)
the PDFs. Called once by ``peel-reports build`` when its notebooks have run; runs no kernel.

* :func:`build_document` writes ``report.html`` and its CSVs for one force and window, from the
  executed section notebooks, or leaves it alone when its sections are unchanged.
* :func:`build_all` does that for every force and window of the batch, writes each window's
  national page and ``results.csv``, prints PDFs when asked, and returns what it did.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from ..core.files import atomic_write
from ..core.periods import Period
from ..core.text import lower_first
from . import about, docpage
from .csvout import csv_text, results_frame
from .document import (ABOUT, ABOUT_TITLE, REPORT_HTML, REPORT_PDF, REPORT_STATE, RESULTS_CSV, Merged, document_order,
                       fingerprint, merge, read_state, results_rows, write_state)
from .html import STATUS_SUFFIX

PER_WORKER = 16   # documents out of date per worker process before the build uses more than one process


def section_records(folder: Path, sections: list[str]) -> tuple[list[dict], str]:
    """The status records of the sections, in document order, or the reason the document cannot be
    built (a section failed or has not run)."""
    records, missing = [], []
    for section in document_order(sections):
        if section == ABOUT:
            continue
        try:
            record = json.loads((folder / f"{section}{STATUS_SUFFIX}").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = {}
        if record.get("status") != "done" or not (folder / f"{section}.ipynb").is_file():
            missing.append(f"{section} ({record.get('status') or 'not run'})")
        records.append(record | {"section": section})
    return records, ("sections not built: " + ", ".join(missing)) if missing else ""


def up_to_date(folder: Path, print_id: str, want_pdf: bool) -> bool:
    """The report (and its CSVs, and its PDF when asked for) exists for this fingerprint."""
    state = read_state(folder)
    if state.get("fingerprint") != print_id or not (folder / REPORT_HTML).is_file():
        return False
    if not all((folder / name).is_file() for name in state.get("csv", [])):
        return False
    return not want_pdf or (state.get("pdf") == print_id and (folder / REPORT_PDF).is_file())


def withdraw(folder: Path) -> None:
    """Remove a report that no longer matches its sections (one failed, or the report could not be
    written), with its PDF, CSVs and state: an earlier build's report is never left to look current."""
    for name in (REPORT_HTML, REPORT_PDF, REPORT_STATE, RESULTS_CSV):
        (folder / name).unlink(missing_ok=True)
    for old in folder.glob("report-*.csv"):
        old.unlink(missing_ok=True)


def _add_about(merged: Merged, force: str, period: Period, folder: Path) -> None:
    """The "About the data" section, placed before the closing ledger."""
    import nbformat

    texts = ["Every number in this report comes from one results table, and each keeps its basis. The data behind "
             f"each chart and table is linked under it, and [every value this report uses]({RESULTS_CSV}) is one CSV.",
             about.annex_a(force, period.iso, folder), about.basis_key(),
             about.gathered("Assumptions and caveats", merged.notes["assumptions"]),
             about.gathered("Sources", merged.notes["sources"])]
    ids = []
    for k, text in enumerate(texts):
        cell = nbformat.v4.new_markdown_cell(text)
        cell["id"] = f"about{k}"
        merged.nb.cells.append(cell)
        ids.append(cell["id"])
    at = document_order([s for s, _, _ in merged.sections]).index(ABOUT)
    merged.sections.insert(at, (ABOUT, ABOUT_TITLE, ids))


def _links(period: Period, want_pdf: bool, size: int) -> list[tuple[str, str]]:
    links = [(f"All the data in this report (CSV, {max(1, round(size / 1024))} KB)", RESULTS_CSV)]
    if want_pdf:
        links.append(("This report as PDF", REPORT_PDF))
    return links + [("All reports", "../../index.html"),
                    (f"All forces, {lower_first(period.label)}", "../national.html")]


def _write_csvs(folder: Path, merged: Merged, results_text: str) -> list[str]:
    """The CSV of each chart and table, and of all the results rows; stale ones from an earlier build go."""
    names = {RESULTS_CSV: results_text, **merged.csv_texts}
    for name, text in names.items():
        atomic_write(folder / name, "\ufeff" + text)
    for old in folder.glob("report-*.csv"):
        if old.name not in names:
            old.unlink()
    return sorted(names)


def render(folder: Path, force, period: Period, sections: list[str], want_pdf: bool, version: str) -> dict:
    """Merge the executed sections, export once, write the page and its CSVs. Returns the state."""
    from nbformat.v4 import reads   # no schema validation: the batch wrote these notebooks

    notebooks = [(s, reads((folder / f"{s}.ipynb").read_text("utf-8"))) for s in document_order(sections) if s != ABOUT]
    merged = merge(notebooks)
    _add_about(merged, force.name, period, folder)
    chunks = docpage.export_cells(merged.nb)
    for cell_id, chunk in chunks.items():
        for holder, shown in merged.placed.items():
            if holder in chunk:
                chunks[cell_id] = chunk = chunk.replace(holder, shown)
    contents, body = docpage.sections_html(merged.sections, chunks, folder)
    results_text = csv_text(results_frame(results_rows(merged))) if merged.items else ""
    csvs = _write_csvs(folder, merged, results_text)
    meta = notebooks[0][1].metadata.get("peel", {}) if notebooks else {}
    header = docpage.title_block(force, period, meta, _links(period, want_pdf, len(results_text)), version)
    page = docpage.page(f"{force.full_title}: police effectiveness, {lower_first(period.label)}", header, contents, body)
    atomic_write(folder / REPORT_HTML, page)
    if not want_pdf:
        (folder / REPORT_PDF).unlink(missing_ok=True)   # a PDF of an earlier build no longer matches
    return {"csv": csvs, "bytes": len(page.encode("utf-8")), "figures": sum(i.kind == "figure" for i in merged.items),
            "tables": sum(i.kind == "table" for i in merged.items)}


def build_document(out_dir: Path, force, period: Period, sections: list[str], *, want_pdf: bool = False,
                   version: str = "") -> dict:
    """Write one force's report for one window, unless it is up to date. Returns a record: status
    "done", "skipped", "not built" (a section failed or has not run) or "failed", and why."""
    folder = Path(out_dir) / period.iso / force.slug
    records, why = section_records(folder, sections)
    if why:
        withdraw(folder)
        return {"status": "not built", "reason": why, "folder": str(folder)}
    print_id = fingerprint(records)
    if up_to_date(folder, print_id, want_pdf):
        return {"status": "skipped", "folder": str(folder)}
    start = time.perf_counter()
    try:
        state = render(folder, force, period, sections, want_pdf, version or docpage.project_version())
    except Exception as err:  # noqa: BLE001 - one report's fault is reported, the others still build
        withdraw(folder)
        return {"status": "failed", "reason": f"{type(err).__name__}: {err}".splitlines()[0][:400], "folder": str(folder)}
    old = read_state(folder)
    keep_pdf = old.get("pdf") if want_pdf and old.get("pdf") == print_id else None
    write_state(folder, state | {"fingerprint": print_id, "pdf": keep_pdf, "seconds": round(time.perf_counter() - start, 3)})
    return {"status": "done", "folder": str(folder), "pdf_needed": want_pdf}


def build_all(out_dir: Path, forces, periods, sections: list[str], *, pdf: bool = False, log=print,
              pool_map=None) -> int:
    """Every force's report for every window of the batch, each window's national page, and the PDFs
    when asked for. Prints one summary line; returns the number of reports that failed. ``pool_map``
    (``pool_map(fn, items, workers, failed)`` -> results in order, ``failed(item, why)`` standing for an
    item whose process died): how to share many documents between processes; the batch runner passes
    its own, whose processes die with it and leave Ctrl-C to it."""
    from .national import write_national

    out_dir = Path(out_dir)
    start = time.perf_counter()
    if "jsonschema" not in sys.modules:   # as the runner's workers do: nbformat never needs jsonschema's slow
        sys.modules.setdefault("rfc3987_syntax", None)   # optional IRI checker (about 1 CPU-second to import)
    version = docpage.project_version()
    done = _build_documents([(out_dir, f.name, p.iso, sections, pdf, version) for p in periods for f in forces],
                            pool_map)
    national = sum(write_national(out_dir, period) for period in periods)
    seconds = time.perf_counter() - start
    counts = {k: sum(r["status"] == k for r in done) for k in ("done", "skipped", "not built", "failed")}
    for r in done:
        if r["status"] == "failed":
            log(f"  REPORT FAILED {r['folder']}: {r['reason']}")
    log(f"reports: {counts['done']} written, {counts['skipped']} up to date, {counts['not built']} not built "
        f"(a section failed or has not run), {counts['failed']} failed; national pages: {national} written, "
        f"{len(periods) - national} up to date; "
        f"{seconds:.1f} s")
    failed = counts["failed"]
    if pdf:
        failed += _pdfs(out_dir, done, log)
    return failed


def prepare_documents() -> None:
    """Load what assembling documents and national pages needs, and compile the document exporter's
    templates, now: a runner that does this while its kernels' template warms up spends about 0.3 s
    less after its last notebook (measured on one force × every section)."""
    from . import national  # noqa: F401

    docpage.prepare_exporter()


def _one(args: tuple) -> dict:
    """:func:`build_document` from plain arguments (what a worker process receives)."""
    from ..core.forces import resolve

    out_dir, force, period, sections, pdf, version = args
    return build_document(out_dir, resolve(force), Period.parse(period), sections, want_pdf=pdf, version=version)


def _worker() -> None:
    sys.modules.setdefault("rfc3987_syntax", None)


def _build_documents(todo: list[tuple], pool_map=None) -> list[dict]:
    """Build the documents; a batch of many that are out of date is shared between one worker process per
    core (each starts in about a second, then builds a document in a fraction of one), through
    ``pool_map`` when given."""
    stale = [a for a in todo if not _fresh(a)]
    cores = min(os.cpu_count() or 1, max(1, len(stale) // PER_WORKER))
    if cores < 2:
        return [_one(a) for a in todo]
    if pool_map is not None:
        built = dict(zip(map(id, stale), pool_map(_one, stale, cores, _died)))
        return [built[id(a)] if id(a) in built else _one(a) for a in todo]
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(cores, mp_context=get_context("spawn"), initializer=_worker) as pool:
        built = dict(zip(map(id, stale), pool.map(_one, stale, chunksize=max(1, len(stale) // (4 * cores)))))
    return [built[id(a)] if id(a) in built else _one(a) for a in todo]


def _died(args: tuple, why: str) -> dict:
    """The record of a document whose worker process died while building it (the others go on)."""
    from ..core.forces import resolve

    out_dir, force, period, *_ = args
    folder = Path(out_dir) / period / resolve(force).slug
    withdraw(folder)
    return {"status": "failed", "reason": f"the process building it ended: {why}", "folder": str(folder)}


def _fresh(args: tuple) -> bool:
    from ..core.forces import resolve

    out_dir, force, period, sections, pdf, _ = args
    folder = Path(out_dir) / period / resolve(force).slug
    records, why = section_records(folder, sections)
    return bool(why) or up_to_date(folder, fingerprint(records), pdf)


def _pdfs(out_dir: Path, done: list[dict], log) -> int:
    """Print the reports whose PDF is missing or older than the report; record each in its state.
    Without Chromium: one line saying how to get it (not a failure: the HTML is built)."""
    from .pdf import print_pdfs

    folders = [Path(r["folder"]) for r in done if r["status"] in ("done", "skipped")]
    todo = [f for f in folders if read_state(f).get("pdf") != read_state(f).get("fingerprint")
            or not (f / REPORT_PDF).is_file()]
    start = time.perf_counter()
    printed, why, failed = print_pdfs([f / REPORT_HTML for f in todo])
    for html_path in printed:
        state = read_state(html_path.parent)
        write_state(html_path.parent, state | {"pdf": state.get("fingerprint")})
    for line in failed:
        log(f"  PDF FAILED {line}")
    log(why or f"PDF: {len(printed)} written, {len(folders) - len(todo)} up to date; "
               f"{time.perf_counter() - start:.1f} s")
    return len(failed)
