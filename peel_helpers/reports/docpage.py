"""The HTML page of a combined report: one export of the merged notebook (nbconvert's ``basic``
template: the cells' HTML without the notebook styling), cut back into its cells, and laid out as
a title block, a contents list and one ``<section>`` per report section, with print styles (A4, a
page break before each section) for the PDF. No scripts, nothing fetched from the network.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import subprocess
from pathlib import Path

from ..core.paths import ASSUMPTIONS_PATH, PROJECT_ROOT
from ..core.periods import Period
from ..core.text import lower_first
from .html import exporter, make_offline

CSS = """
 body { font-family: Arial, Helvetica, sans-serif; color: #0b0c0c; margin: 0 auto; max-width: 980px;
   padding: 0 18px 48px; line-height: 1.45; font-size: 16px; }
 a { color: #12436D; }
 h1 { font-size: 32px; line-height: 1.15; margin: 6px 0 6px; }
 h2 { font-size: 25px; margin: 40px 0 12px; padding-top: 10px; border-top: 4px solid #12436D; }
 h3 { font-size: 19px; margin: 24px 0 8px; } h4 { font-size: 16px; margin: 18px 0 6px; }
 .peel-kicker { color: #3D3D3D; font-size: 16px; margin: 28px 0 0; }
 .peel-window { font-size: 20px; margin: 0 0 12px; }
 dl.peel-facts { display: grid; grid-template-columns: 11em 1fr; gap: 4px 12px; font-size: 14px; margin: 12px 0; }
 dl.peel-facts dt { font-weight: bold; } dl.peel-facts dd { margin: 0; } dl.peel-facts ul { margin: 0; padding-left: 18px; }
 .peel-links { font-size: 15px; }
 nav.peel-contents { background: #f3f2f1; padding: 4px 18px 10px; margin: 18px 0; }
 nav.peel-contents h2 { border: 0; margin: 10px 0 4px; font-size: 19px; padding: 0; }
 nav.peel-contents ol { margin: 0; padding-left: 22px; }
 figure.peel-figure { margin: 22px 0 28px; }
 figure.peel-figure figcaption, table.peel-table caption { font-weight: bold; font-size: 16px; text-align: left;
   padding-bottom: 6px; }
 .peel-chart svg, .peel-chart img { display: block; max-width: 100%; height: auto; }
 .peel-description { font-size: 14px; color: #3D3D3D; background: #f3f2f1; padding: 8px 12px; margin: 6px 0; }
 .peel-download { font-size: 14px; margin: 4px 0 14px; }
 .peel-download a { font-weight: bold; }
 table.peel-table { border-collapse: collapse; margin: 8px 0 4px; font-size: 13px; width: 100%; }
 table.peel-table td { overflow-wrap: break-word; }   /* long file names break; "72.8 to 73.9" only at spaces */
 table.peel-table th, table.peel-table td { border-bottom: 1px solid #BFBFBF; padding: 4px 8px; text-align: left;
   vertical-align: top; }
 table.peel-table thead th { border-bottom: 2px solid #3D3D3D; }
 table.peel-table sup.basis { font-weight: bold; color: #801650; margin-left: 1px; }
 table.peel-table sup.basis abbr { text-decoration: none; }
 ul.peel-key, ol.peel-notes { font-size: 12px; color: #3D3D3D; }
 ul.peel-key { list-style: none; padding-left: 0; }
 .rendered_html code, code { font-size: 12px; overflow-wrap: anywhere; }
 @page { size: A4; margin: 16mm 13mm 18mm; }
 @media print {
   body { max-width: none; padding: 0; font-size: 11pt; }
   section.peel-section { break-before: page; }
   section.peel-section > h2 { border-top: 0; margin-top: 0; }
   figure.peel-figure, table.peel-table tr, .peel-description { break-inside: avoid; }
   .peel-chart svg { max-height: 205mm; }   /* a 43-force chart, its caption and description fit one A4 page */
   h2, h3, h4, figcaption { break-after: avoid; }
 }
"""

_CELL = re.compile(r'<div class="cell border-box-sizing[^"]*" id="cell-id=([^"]+)">')
_ANCHOR_LINK = re.compile(r'<a class="anchor-link" href="#[^"]*">¶</a>')
_HEADING_ID = re.compile(r'<h([1-6]) id="([^"]*)"')
_ASSUMPTIONS_HREF = re.compile(r'href="(?:\.\./)+data/ASSUMPTIONS\.md')


def prepare_exporter() -> None:
    """Build the exporter and compile its templates by exporting a one-cell notebook."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Warm-up")]
    export_cells(nb)


def export_cells(nb) -> dict[str, str]:
    """Export the merged notebook once; return each cell's HTML by cell id."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        body, _ = exporter("basic").from_notebook_node(nb, resources={"metadata": {"name": "report"}})
    body = make_offline(body)
    marks = list(_CELL.finditer(body))
    return {m.group(1): body[m.start(): marks[k + 1].start() if k + 1 < len(marks) else len(body)]
            for k, m in enumerate(marks)}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _clean(chunk: str, prefix: str, used: set[str], folder: Path) -> str:
    """One cell's HTML: no pilcrow links, heading ids unique in the page, the assumptions log linked from
    the report's folder."""
    chunk = _ANCHOR_LINK.sub("", chunk)

    def unique(m):
        base = f"{prefix}-{slug(html.unescape(m.group(2)))}"
        name, n = base, 2
        while name in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        return f'<h{m.group(1)} id="{name}"'

    chunk = _HEADING_ID.sub(unique, chunk)
    rel = os.path.relpath(ASSUMPTIONS_PATH, folder).replace(os.sep, "/")
    return _ASSUMPTIONS_HREF.sub(f'href="{html.escape(rel)}', chunk)


def sections_html(sections: list[tuple[str, str, list[str]]], chunks: dict[str, str], folder: Path) -> tuple[str, str]:
    """(contents list, sections) for ``[(stem, title, cell ids)]``."""
    used: set[str] = set()
    items, parts = [], []
    for _, title, ids in sections:
        anchor = f"sec-{slug(title)}"
        items.append(f'<li><a href="#{anchor}">{html.escape(title)}</a></li>')
        body = "".join(_clean(chunks.get(i, ""), anchor, used, folder) for i in ids)
        parts.append(f'<section class="peel-section" id="{anchor}" aria-labelledby="{anchor}-h">'
                     f'<h2 id="{anchor}-h">{html.escape(title)}</h2>{body}</section>')
    contents = ('<nav class="peel-contents" aria-labelledby="contents-h"><h2 id="contents-h">Contents</h2>'
                f'<ol>{"".join(items)}</ol></nav>')
    return contents, "".join(parts)


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


def _releases(meta: dict) -> str:
    items = [f"{s.get('title', s.get('filename', ''))} ({s.get('publisher', '')}), {s.get('release', '')}"
             for s in meta.get("sources", [])]
    inputs = meta.get("inputs", {})
    if any(k.startswith("data/published/") for k in inputs):
        items.append("HMICFRS: the values and grades printed in the PEEL 2017 reports (data/published)")
    items += [f"Supplied data-return file {k.split(':', 1)[-1]}, sha256 {v[:12]}…" for k, v in inputs.items()
              if k.startswith("PEEL_DATA_RETURN:") or k == "data/input/data_return.csv"]
    return "".join(f"<li>{html.escape(i)}</li>" for i in items) or "<li>–</li>"


def title_block(force, period: Period, meta: dict, links: list[tuple[str, str]], version: str) -> str:
    """Force, window, the data's releases, when it was built and the project version."""
    built = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    window = f"{period.label}; Figures 1 and 2 compare it with the {lower_first(period.previous.label)}"
    facts = [("Force", f"{force.full_title} ({force.code})"), ("Window", window), ("Built", built),
             ("Project", version)]
    dl = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in facts[:2])
    dl += f"<dt>Data releases</dt><dd><ul>{_releases(meta)}</ul></dd>"
    dl += "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in facts[2:])
    nav = " · ".join(f'<a href="{html.escape(href)}">{html.escape(text)}</a>' for text, href in links)
    return (f'<header class="peel-title"><p class="peel-kicker">PEEL: police effectiveness 2017, reproduced from '
            f'open data</p><h1>{html.escape(force.full_title)}</h1><p class="peel-window">{html.escape(period.label)}'
            f'</p><dl class="peel-facts">{dl}</dl><p class="peel-links">{nav}</p></header>')


def page(title: str, header: str, contents: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>"
            f"<body>{header}<main>{contents}{body}</main></body></html>\n")
