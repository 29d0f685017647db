"""One document per force and window: ``<out>/<period>/<force-slug>/report.html``.

The batch has already executed every section notebook for the force and window; this module reads
those executed notebooks, merges their cells with nbformat (the ``nbmerge`` pattern) and exports the
merged notebook once, with one exporter and template. No kernel runs here.

The document follows the published report's order (:data:`DOCUMENT_ORDER`): a title block, the
effectiveness grades, force in numbers, Figure 1, Figure 2, ASB powers, organised crime groups,
trends, any other section notebook (in ``NN`` order), "About the data" and the reproduction
ledger, with a contents list. Figures and tables are numbered once across the document; a chart
that could not be drawn keeps its number and its one sentence saying why. Each chart is inline SVG
(text stays text) with its alt text also shown as a visible description, and each chart and table
links a CSV beside the report holding exactly the rows it draws (:mod:`.csvout`); the report also
links one CSV of every results row it uses.

A document is rebuilt only when its sections changed: its fingerprint is the sections' own
fingerprints (notebook, parameters, input data and code), recorded in ``report.build.json``.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..core.files import atomic_write, sha256_text
from .csvout import csv_text, frame_from_payload
from .figures import figure_parts

REPORT_HTML, REPORT_PDF, REPORT_STATE, RESULTS_CSV = "report.html", "report.pdf", "report.build.json", \
    "report-results.csv"
ABOUT = "about"
# the published report's order: (section notebook stem, title in the document)
DOCUMENT_ORDER = (
    ("00_effectiveness_overview", "Effectiveness grades"),
    ("01_force_in_numbers", "Force in numbers"),
    ("02_figure1_action_taken", "Figure 1: investigations where action was taken"),
    ("03_figure2_da_arrests", "Figure 2: domestic abuse arrests"),
    ("04_asb_powers", "Anti-social behaviour powers"),
    ("05_organised_crime_groups", "Organised crime groups"),
    ("07_trends", "Trends"),
)
CLOSING = (("06_reproduction_ledger", "Reproduction ledger"),)
ABOUT_TITLE = "About the data"
_HEADING_LINE = re.compile(r"^(#{1,6})(?=\s)", re.M)
# cells the document leaves out: the parameters, and text only for someone running the notebook
SKIP_TAGS = {"parameters", "injected-parameters", "notebook-only"}


def document_order(sections: list[str]) -> list[str]:
    """Section stems in document order, with :data:`ABOUT` before the closing ledger; a section
    notebook not named in :data:`DOCUMENT_ORDER` goes after trends, in ``NN`` order."""
    named = [s for s, _ in DOCUMENT_ORDER if s in sections]
    closing = [s for s, _ in CLOSING if s in sections]
    extra = sorted(s for s in sections if s not in named and s not in closing)
    return named + extra + [ABOUT] + closing


def section_title(section: str, nb=None) -> str:
    titles = dict(DOCUMENT_ORDER + CLOSING)
    if section == ABOUT:
        return ABOUT_TITLE
    if section in titles:
        return titles[section]
    title = (nb or {}).get("metadata", {}).get("title") if nb is not None else None
    return title or section.partition("_")[2].replace("_", " ").capitalize()


# --------------------------------------------------------------------------- merging

@dataclass
class Item:
    """A numbered figure or table, with the rows it draws."""

    kind: str              # "figure" or "table"
    number: int
    title: str
    frame: pd.DataFrame | None = None
    results: bool = True    # rows of the results table (they also go into the report's results CSV)

    @property
    def csv(self) -> str:
        return f"report-{self.kind}-{self.number}.csv"

    @property
    def anchor(self) -> str:
        return f"{self.kind}-{self.number}"


@dataclass
class Merged:
    nb: object                                      # the merged notebook
    sections: list[tuple[str, str, list[str]]] = field(default_factory=list)   # (stem, title, cell ids)
    items: list[Item] = field(default_factory=list)
    notes: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: {"assumptions": [], "sources": []})
    csv_texts: dict[str, str] = field(default_factory=dict)
    placed: dict[str, str] = field(default_factory=dict)   # placeholder -> chart or table HTML, put in after the export


def _demote(text: str, shift: int) -> str:
    return _HEADING_LINE.sub(lambda m: "#" * min(6, len(m.group(1)) + shift), text) if shift else text


def _peel(output) -> dict:
    return output.get("metadata", {}).get("peel", {}) or {}


def _markdown_of(output) -> str | None:
    data = output.get("data", {})
    text = data.get("text/markdown")
    return "".join(text) if isinstance(text, list) else text


def _section_shift(cells) -> int:
    """How far to move the section's headings down so that its top one is an ``h3`` (the section
    title is the ``h2``)."""
    levels = []
    for cell in cells:
        texts = [cell.source] if cell.cell_type == "markdown" else \
            [_markdown_of(o) or "" for o in cell.get("outputs", []) if _peel(o).get("role") != "heading"]
        for text in texts:
            levels += [len(m.group(1)) for m in _HEADING_LINE.finditer(text)]
    return 3 - min(levels) if levels else 0


def _intro(cell) -> object:
    """The section's first markdown cell without its ``# Title`` line (the document writes its own)."""
    lines = cell.source.splitlines()
    if lines and lines[0].startswith("# "):
        return _cell("markdown", "\n".join(lines[1:]).lstrip("\n"))
    return cell


def _display(data: dict):
    """A new output showing ``data`` (the section's own output is left as it was)."""
    import nbformat

    return nbformat.from_dict({"output_type": "display_data", "data": data, "metadata": {}})


def _cell(kind: str, source: str, outputs: list | None = None):
    """A new cell, built as a plain node: the merged notebook is exported once and never saved, so the
    schema check that ``nbformat.v4.new_*_cell`` runs on every cell (a quarter of the merge) is not needed."""
    import nbformat

    cell = {"cell_type": kind, "metadata": {}, "source": source}
    if kind == "code":
        cell |= {"execution_count": None, "outputs": outputs or []}
    return nbformat.from_dict(cell)


def _figure_html(item: Item, output, size: int) -> str:
    """A numbered figure: caption, the chart (inline SVG, or PNG if its SVG is too heavy), the alt text
    as a visible description, and the link to its data."""
    svg, png, alt = figure_parts(output)
    alt = alt or item.title
    name = f"Figure {item.number}: {item.title}"
    if svg:
        chart = _inline_svg(svg, item.anchor, name)
    else:   # the chart was kept as PNG: its SVG was too heavy (figures.SVG_LIMIT)
        chart = (f'<img src="data:image/png;base64,{png}" '
                 f'alt="{html.escape(name)}" aria-describedby="{item.anchor}-desc">')
    return (f'<figure class="peel-figure" id="{item.anchor}" aria-labelledby="{item.anchor}-caption">'
            f'<figcaption id="{item.anchor}-caption"><span class="peel-number">Figure {item.number}:</span> '
            f'{html.escape(item.title)}</figcaption><div class="peel-chart">{chart}</div>'
            f'<p class="peel-description" id="{item.anchor}-desc"><strong>Description.</strong> '
            f'{html.escape(alt)}</p>{_download(item, size)}</figure>')


def _download(item: Item, size: int) -> str:
    kb = max(1, round(size / 1024))
    return (f'<p class="peel-download"><a href="{item.csv}" download>Download the data for {item.kind} '
            f'{item.number} (CSV, {kb} KB)</a></p>')


_SVG_ID = re.compile(r'\bid="([^"]+)"')


def _inline_svg(svg: str, prefix: str, name: str) -> str:
    """matplotlib's SVG made fit to sit in a page beside others: no XML prolog or metadata, ids made
    unique to this figure, scaled to the page's width, and named for assistive technology."""
    svg = svg[svg.find("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    head = svg.find(">")      # the chart's own labelling gives way to the figure's caption and description
    svg = re.sub(r'\s(?:role|aria-labelledby|aria-describedby)="[^"]*"', "", svg[:head]) + svg[head:]
    ids = set(_SVG_ID.findall(svg))
    svg = _SVG_ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = re.sub(r'(url\(#|href="#)([^")]+)', lambda m: m.group(1) + (f"{prefix}-{m.group(2)}" if m.group(2) in ids
                                                                    else m.group(2)), svg)
    svg = re.sub(r'<svg([^>]*?)\swidth="[^"]*"\sheight="[^"]*"', r'<svg\1 width="100%"', svg, count=1)
    return svg.replace("<svg", f'<svg role="img" aria-label="{html.escape(name)}" '
                               f'aria-describedby="{prefix}-desc" focusable="false"', 1)


def _table_html(item: Item, markup: str, size: int) -> str:
    """The section's table, numbered (its caption, or a caption naming it), with the link to its data."""
    number = f'<span class="peel-number">Table {item.number}:</span> '
    if "<caption>" in markup:
        markup = markup.replace("<caption>", f"<caption>{number}", 1)
    else:
        markup = markup.replace('<table class="peel-table">', f'<table class="peel-table"><caption>{number}'
                                f"{html.escape(item.title)}</caption>", 1)
    markup = markup.replace('<table class="peel-table">', f'<table class="peel-table" id="{item.anchor}">', 1)
    return f'<div class="peel-tablewrap">{markup}{_download(item, size)}</div>'


def _numbered(merged: Merged, output, kind: str, section_title_: str):
    """Give a chart or table output its number, keep its rows, and return the output that shows it."""
    meta = _peel(output)
    number = 1 + sum(1 for i in merged.items if i.kind == kind)
    title = meta.get("title") or meta.get("caption") or section_title_
    rows = meta.get("rows")
    frame = frame_from_payload(rows) if rows else None
    item = Item(kind, number, title, frame, bool(rows) and rows.get("kind") == "results")
    merged.items.append(item)
    text = csv_text(frame) if frame is not None else ""
    if frame is not None:
        merged.csv_texts[item.csv] = text
    size = len(("\ufeff" + text).encode("utf-8"))
    holder = f'<div data-peel-{kind}="{item.number}"></div>'   # the exporter need not parse the SVG or table again
    if kind == "figure":
        merged.placed[holder] = _figure_html(item, output, size)
    else:
        markup = output["data"]["text/html"]
        merged.placed[holder] = _table_html(item, "".join(markup) if isinstance(markup, list) else markup, size)
    return _display({"text/html": holder, "text/plain": title})


def _no_chart(merged: Merged, output, shift: int):
    """A chart that could not be drawn keeps its figure number and its sentence."""
    number = 1 + sum(1 for i in merged.items if i.kind == "figure")
    merged.items.append(Item("figure", number, "no chart", None, False))
    text = _demote(_markdown_of(output) or "", shift).replace("**No chart:**", "", 1).strip()
    return _display({"text/markdown": f'<span id="figure-{number}"></span>**Figure {number}: no chart.** {text}',
                     "text/plain": text})


def _output(merged: Merged, output, shift: int, section: str, title: str):
    """What the document shows for one output of a section (None: nothing here)."""
    meta = _peel(output)
    role, kind = meta.get("role"), meta.get("kind")
    if role in ("assumptions", "sources"):
        merged.notes[role].append((title, _markdown_of(output) or ""))
        return None
    if kind == "figure" and any(figure_parts(output)[:2]):
        return _numbered(merged, output, "figure", title)
    if kind == "table" and "text/html" in output.get("data", {}):
        return _numbered(merged, output, "table", title)
    if role == "figure":
        return _no_chart(merged, output, shift)
    if role == "heading":   # the section's own heading and window: the document has its own, and a title block
        return None
    text = _markdown_of(output)
    if text is None:
        return output
    return _display({"text/markdown": _demote(text, shift), "text/plain": text})


def _add_section(merged: Merged, index: int, section: str, nb) -> None:
    title = section_title(section, nb)
    cells = [c for c in nb.cells if not SKIP_TAGS & set(c.get("metadata", {}).get("tags", []))]
    if cells and cells[0].cell_type == "markdown":
        cells[0] = _intro(cells[0])
    shift = _section_shift(cells)
    ids = []
    for j, cell in enumerate(cells):
        if cell.cell_type == "markdown":
            new = _cell("markdown", _demote(cell.source, shift))
            if not new.source.strip():
                continue
        elif cell.cell_type == "code":
            outputs = [o for o in (_output(merged, o, shift, section, title) for o in cell.get("outputs", []))
                       if o is not None]
            if not outputs:
                continue
            new = _cell("code", "", outputs)
        else:
            continue
        new["id"] = f"s{index}c{j}"
        new.metadata = {}
        merged.nb.cells.append(new)
        ids.append(new["id"])
    merged.sections.append((section, title, ids))


def merge(notebooks: list[tuple[str, object]]) -> Merged:
    """The executed section notebooks ``[(stem, notebook)]``, in document order, as one notebook."""
    import nbformat

    merged = Merged(nbformat.v4.new_notebook())
    for index, (section, nb) in enumerate(notebooks):
        _add_section(merged, index, section, nb)
    return merged


def results_rows(merged: Merged) -> pd.DataFrame:
    """Every results row the document's charts and tables use, each once."""
    frames = [i.frame for i in merged.items if i.results and i.frame is not None and len(i.frame)]
    if not frames:
        return pd.DataFrame()
    rows = pd.concat(frames, ignore_index=True)
    key = [c for c in ("force", "measure", "period_end", "window") if c in rows]
    return rows.drop_duplicates(key).reset_index(drop=True)


def fingerprint(records: list[dict]) -> str:
    """The document's fingerprint: its sections' own fingerprints (and the hash of each executed
    notebook, so a section rebuilt after damage rebuilds the report), in document order."""
    return sha256_text("report-v1", *[f"{r['section']}={r.get('fingerprint', '')}:{r.get('ipynb_sha256', '')}"
                                      for r in records])


def read_state(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / REPORT_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_state(folder: Path, state: dict) -> Path:
    return atomic_write(Path(folder) / REPORT_STATE, json.dumps(state, indent=1))
