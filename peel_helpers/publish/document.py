"""One document per force and window: the executed section notebooks merged into one notebook
(:func:`merge`, the ``nbmerge`` pattern) and laid out by the :class:`Document` preprocessor and the
``peel/report.html.j2`` template.

The same exporter takes a single executed section notebook (``jupyter nbconvert --to peel_report
02_figure1_action_taken.ipynb``): it is then a document of one section, with the same title block.

Order and titles come from the sections' declaration (:mod:`peel_helpers.core.sections`); "About
the data" goes before the closing section (the reproduction ledger).
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from functools import lru_cache

from nbconvert.preprocessors import Preprocessor

from ..core.paths import PROJECT_ROOT
from ..core.periods import Period
from ..core.sections import section as declared
from .preprocess import demote, peel_meta, set_markdown, text_of

ABOUT_TITLE = "About the data"
KEY_FINDINGS_TITLE = "Key findings"
_HEADING_LINE = re.compile(r"^(#{1,6})(?=\s)", re.M)


def merge(notebooks: list[tuple[str, object]], notebooks_dir=None):
    """The executed section notebooks ``[(stem, notebook)]``, in document order, as one notebook: each
    cell marked with its section (``metadata.peel_section``); the document's metadata records the
    sections and keeps the first notebook's provenance (force, window, sources)."""
    import nbformat

    merged = nbformat.from_dict({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    stems = []
    for index, (stem, nb) in enumerate(notebooks):
        for j, cell in enumerate(nb.cells):
            cell.setdefault("metadata", {})["peel_section"] = index
            cell["id"] = f"s{index}c{j}"
            merged.cells.append(cell)
        stems.append(stem)
    first = notebooks[0][1].metadata.get("peel", {}) if notebooks else {}
    merged.metadata["peel"] = dict(first) | {"document": stems}
    if notebooks_dir is not None:
        merged.metadata["peel"]["notebooks_dir"] = str(notebooks_dir)
    return merged


def _section_shift(cells) -> int:
    """How far a section's headings move down so that its top one is an ``h3`` (the section title
    is the ``h2``)."""
    levels = []
    for cell in cells:
        texts = [cell.source] if cell.cell_type == "markdown" else \
            [text_of(o) or "" for o in cell.get("outputs", []) if peel_meta(o).get("role") != "heading"]
        for text in texts:
            levels += [len(m.group(1)) for m in _HEADING_LINE.finditer(text)]
    return 3 - min(levels) if levels else 0


def _has_chart(cells) -> bool:
    """Whether a section shows a chart or a panel of figures: only such a section, when its declaration
    asks for it (``new_page``), starts a new printed page; the rest follow on, so that a short section (a
    sentence saying there is nothing to show) never leaves a page nearly blank."""
    return any(peel_meta(o).get("kind") in ("figure", "panel") for c in cells for o in c.get("outputs", []))


def _without_title(cell):
    """A section's first markdown cell without its ``# Title`` line (the document writes its own)."""
    lines = cell.source.splitlines()
    if lines and lines[0].startswith("# "):
        cell.source = "\n".join(lines[1:]).lstrip("\n")
    return cell


class Document(Preprocessor):
    """Sections, headings, gathered notes, "About the data" and the title block of a document."""

    def preprocess(self, nb, resources):
        peel = resources.setdefault("peel", {})
        meta = nb.metadata.get("peel", {})
        stems = meta.get("document") or [meta.get("section", "section")]
        folder = meta.get("notebooks_dir")
        notes: dict[str, list] = {"assumptions": [], "sources": [], "key_findings": []}
        groups = [[c for c in nb.cells if c.get("metadata", {}).get("peel_section", 0) == i] for i in range(len(stems))]
        cells, sections = [], []
        for stem, group in zip(stems, groups):
            kept = self._section_cells(group, notes)
            sec = declared(stem, folder) if folder else declared(stem)
            sections.append({"stem": stem, "title": sec.title, "anchor": anchor(sec.title), "closing": sec.closing,
                             "start": len(cells), "stop": len(cells) + len(kept),
                             "continues": not (sec.new_page and _has_chart(kept))})
            cells += kept
        nb.cells = cells
        peel["results_csv"] = results_name(resources)
        self._add_about(nb, sections, notes, meta, peel)
        self._add_key_findings(nb, sections, notes["key_findings"])
        peel["sections"] = sections
        return nb, resources

    def _add_key_findings(self, nb, sections, outputs) -> None:
        """"Key findings" first, right after the title block: the outputs a section marked as such."""
        import nbformat

        if not outputs:
            return
        cell = nbformat.from_dict({"cell_type": "code", "metadata": {}, "source": "", "id": "key-findings",
                                   "execution_count": None, "outputs": outputs})
        nb.cells.insert(0, cell)
        for s in sections:
            s["start"] += 1
            s["stop"] += 1
        sections.insert(0, {"stem": "key_findings", "title": KEY_FINDINGS_TITLE, "anchor": anchor(KEY_FINDINGS_TITLE),
                            "closing": False, "start": 0, "stop": 1, "continues": True})

    def _section_cells(self, cells, notes) -> list:
        if cells and cells[0].cell_type == "markdown":
            cells[0] = _without_title(cells[0])
        shift = _section_shift(cells)
        kept = []
        for cell in cells:
            if cell.cell_type == "markdown":
                cell.source = demote(cell.source, shift)
                if cell.source.strip():
                    kept.append(cell)
                continue
            outputs = []
            for output in cell.get("outputs", []):
                role = peel_meta(output).get("role")
                if role == "heading":
                    continue
                if role == "key_findings":       # the report's first section, whichever section computed it
                    notes[role].append(output)
                    continue
                if role in notes:
                    notes[role].append(text_of(output) or "")
                    continue
                text = text_of(output)
                if text is not None and not peel_meta(output).get("kind"):
                    set_markdown(output, demote(text, shift))
                outputs.append(output)
            if outputs:
                cell["outputs"] = outputs
                kept.append(cell)
        return kept

    def _add_about(self, nb, sections, notes, meta, peel) -> None:
        """"About the data", before the first closing section."""
        import nbformat

        from .about import about_markdown

        force, period = meta.get("force"), meta.get("period_end")
        if not (force and period):
            return
        texts = about_markdown(force, Period.parse(period), notes, peel.get("assumptions_href", "assumptions.html"),
                               peel["results_csv"], releases(meta))
        at = next((i for i, s in enumerate(sections) if s["closing"]), len(sections))
        start = sections[at]["start"] if at < len(sections) else len(nb.cells)
        cells = [nbformat.from_dict({"cell_type": "markdown", "metadata": {}, "source": t, "id": f"about{k}"})
                 for k, t in enumerate(texts)]
        nb.cells[start:start] = cells
        for s in sections[at:]:
            s["start"] += len(cells)
            s["stop"] += len(cells)
        sections.insert(at, {"stem": "about", "title": ABOUT_TITLE, "anchor": anchor(ABOUT_TITLE), "closing": False,
                             "start": start,
                             "stop": start + len(cells)})


def results_name(resources) -> str:
    """The CSV of every results row a document uses: ``report-results.csv`` for a report named "report"."""
    return f"{(resources.get('metadata') or {}).get('name') or 'report'}-results.csv"


class TitleBlock(Preprocessor):
    """After the figures and tables are numbered: the CSV of every results row they use, then the title
    block that links it."""

    def preprocess(self, nb, resources):
        from ..reports.csvout import csv_text, results_frame

        peel = resources.setdefault("peel", {})
        rows = results_rows(peel.get("items", []))
        text = "\ufeff" + csv_text(results_frame(rows)) if rows is not None else ""
        if text:
            name = peel.get("results_csv") or results_name(resources)
            resources.setdefault("outputs", {})[f"./{name}"] = text.encode("utf-8")
            peel["results_kb"] = max(1, round(len(text.encode("utf-8")) / 1024))
        peel.update(title_block(nb.metadata.get("peel", {}), peel))
        return nb, resources


def results_rows(items: list[dict]):
    """Every results row the document's charts and tables use, each once (None when there are none)."""
    import pandas as pd

    frames = [i["frame"] for i in items if i.get("results") and i.get("frame") is not None and len(i["frame"])]
    if not frames:
        return None
    rows = pd.concat(frames, ignore_index=True)
    key = [c for c in ("force", "measure", "period_end", "window") if c in rows]
    return rows.drop_duplicates(key).reset_index(drop=True)


def anchor(title: str) -> str:
    return "sec-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


@lru_cache(maxsize=1)
def project_version() -> str:
    """'peel-effectiveness 0.1.0, commit abc1234' (the commit only in a git checkout)."""
    from importlib import metadata

    try:
        version = metadata.version("peel-effectiveness")
    except metadata.PackageNotFoundError:
        version = "unknown version"
    try:
        commit = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"peel-effectiveness {version}" + (f", commit {commit}" if commit else " (not a git checkout)")


def releases(meta: dict) -> list[str]:
    """The releases of the data behind a document (and a supplied data-return file, by name only)."""
    items = [f"{s.get('title', s.get('filename', ''))} ({s.get('publisher', '')}), {s.get('release', '')}"
             for s in meta.get("sources", [])]
    inputs = meta.get("inputs", {})
    if any(k.startswith("data/published/") for k in inputs):
        items.append("HMICFRS: the values and grades printed in the PEEL 2017 reports (data/published)")
    items += [f"Supplied data-return file {k.split(':', 1)[-1]}, sha256 {v[:12]}…" for k, v in inputs.items()
              if k.startswith("PEEL_DATA_RETURN:") or k == "data/input/data_return.csv"]
    return items or ["–"]


def title_block(meta: dict, peel: dict) -> dict:
    """What the template's title block shows: force, window, the data's releases, when it was built,
    the project version, and the links beside it."""
    from ..core.forces import resolve
    from ..core.text import lower_first

    kicker = "PEEL: police effectiveness 2017, reproduced from open data"
    built = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if not (meta.get("force") and meta.get("period_end")):
        return {"title": "Police effectiveness report", "kicker": kicker, "heading": "Police effectiveness report",
                "window": "", "facts": [("Built", built), ("Project", project_version())], "links": []}
    force, period = resolve(meta["force"]), Period.parse(meta["period_end"])
    links = [(f"All the data in this report (CSV, {peel['results_kb']} KB)", peel["results_csv"])] \
        if peel.get("results_kb") else []
    links += [tuple(link) for link in peel.get("extra_links", [])]
    about = f"#{anchor(ABOUT_TITLE)}"
    links.append(("Data releases and methods", about))
    return {"title": f"{force.full_title}: police effectiveness, {lower_first(period.label)}", "kicker": kicker,
            "heading": force.full_title, "window": period.label,
            "facts": [("Force", f"{force.full_title} ({force.code})"),
                      ("Built", f"{built}, by {project_version()}, from the data releases listed under About the data")],
            "links": links}


