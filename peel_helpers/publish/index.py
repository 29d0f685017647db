"""``<out>/index.html``: for every window, every force's full report (and PDF) and each section on
its own, or why there is none. It lists only pages the records vouch for: a section page made from
the notebook now on disk, a report whose bytes and linked files are the recorded ones; anything else
shows as not built, failed (with its reason) or not run."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from ..core import records
from ..core.contract import (ASSUMPTIONS_HTML, INDEX_HTML, NATIONAL_CSV, NATIONAL_HTML, REPORT_HTML, REPORT_PDF,
                             STATUS_SUFFIX)
from ..core.sections import Section
from .pages import linked_intact
from .render import render


def _statuses(out: Path) -> dict[tuple[str, str, str], dict]:
    found = {}
    for path in out.glob(f"*/*/*{STATUS_SUFFIX}"):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and {"period_end", "slug", "section"} <= set(record):
            found[(record["period_end"], record["slug"], record["section"])] = record | {"_dir": path.parent}
    return found


def _section_cell(record: dict | None, out: Path) -> dict:
    """A section's cell: its page ("report", or "no data"), failed with the reason, or not run."""
    if record is None:
        return {"kind": "none", "why": "not run"}
    folder, stem = record["_dir"], record["section"]
    rel = folder.relative_to(out).as_posix()
    if record.get("status") == "done":
        page = folder / f"{stem}.html"
        page_record = records.read(page) or {}
        sha = records.sha256(folder / f"{stem}.ipynb")
        if sha is not None and page_record.get("inputs", {}).get(f"{stem}.ipynb") == sha and records.intact(page) \
                and linked_intact(page):
            return {"kind": "no data" if record.get("no_data") else "report", "href": f"{rel}/{stem}.html"}
        return {"kind": "none", "why": "the notebook has run; its page is published when a build completes "
                                       "(run the same command again)", "unpublished": True}
    kept = record.get("notebook", "")
    href = f"{rel}/{kept}" if kept and records.intact(folder / kept) else ""
    return {"kind": "failed", "why": str(record.get("reason") or "failed"), "href": href}


def _report_cell(out: Path, period: str, slug: str) -> dict:
    folder = out / period / slug
    page = folder / REPORT_HTML
    record = records.read(page)
    if record is None or not records.intact(page) or not linked_intact(page):
        return {"report": "", "report_why": "not built: a section failed or has not run"}
    pdf = f"{period}/{slug}/{REPORT_PDF}" if REPORT_PDF in record.get("links", {}) else ""
    return {"report": f"{period}/{slug}/{REPORT_HTML}", "pdf": pdf}


def index_html(out: Path, sections: tuple[Section, ...]) -> str:
    from ..core.forces import FORCES
    from ..core.periods import Period
    from ..core.text import lower_first

    statuses = _statuses(out)
    stems = [s.notebook for s in sections]
    stems += sorted({k[2] for k in statuses} - set(stems))
    shown = [s for s in sections] + [Section(x, x, x) for x in stems[len(sections):]]
    periods, counts = [], {"report": 0, "no data": 0, "failed": 0, "unpublished": 0}
    for iso in sorted({k[0] for k in statuses}):
        try:
            label = Period.parse(iso).label
        except Exception:  # noqa: BLE001 - a stray folder name must not break the index
            label = iso
        rows = []
        for force in FORCES:
            recs = [statuses.get((iso, force.slug, s)) for s in stems]
            if not any(recs):
                continue
            cells = [_section_cell(r, out) for r in recs]
            for c in cells:
                counts[c["kind"]] = counts.get(c["kind"], 0) + 1
                counts["unpublished"] += bool(c.get("unpublished"))
            rows.append({"force": force.name, "cells": cells} | _report_cell(out, iso, force.slug))
        national = records.read(out / iso / NATIONAL_HTML) is not None and records.intact(out / iso / NATIONAL_HTML)
        periods.append({"iso": iso, "label": label, "label_lower": lower_first(label), "rows": rows,
                        "national": f"{iso}/{NATIONAL_HTML}" if national else "",
                        "results": f"{iso}/{NATIONAL_CSV}"})
    summary = (f"{counts['report'] + counts['no data']} section pages ({counts['no data']} with no data to show), "
               f"{counts['failed']} failed.")
    if counts["unpublished"]:
        summary += (f" {counts['unpublished']} section(s) have run but are not published yet: the build that ran "
                    "them was stopped.")
    return render("outputs_index.html.j2", title="PEEL police effectiveness 2017: reproduced reports",
                  heading="PEEL: police effectiveness 2017, reproduced from open data", nav=[],
                  summary=summary, built=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                  periods=periods, sections=shown, assumptions_href=ASSUMPTIONS_HTML)


def write_index(out: Path, sections: tuple[Section, ...]) -> Path:
    out = Path(out)
    page = out / INDEX_HTML
    records.write(page, index_html(out, sections), made_from="index", kind="index")
    return page
