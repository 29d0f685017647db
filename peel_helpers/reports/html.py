"""HTML export of executed notebooks, and the outputs index page.

Reports are static, self-contained pages a reader can open offline:

* no code cells, prompts or the injected-parameters cell (``exclude_input``);
* figures embedded as SVG (or, for a chart too heavy as SVG, PNG) data URIs, with the figure's alt
  text in ``<img alt>``;
* no scripts at all: the reports need no JavaScript, so every ``<script>`` element (jQuery,
  require.js and MathJax loaders that nbconvert would fetch from a CDN) is removed, as is any
  ``<link>`` to a remote stylesheet.

All files are written atomically (temporary file in the same folder, then ``os.replace``), so
an interrupted batch never leaves a half-written report that looks finished.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
from pathlib import Path

from ..core.files import atomic_write
from ..core.paths import ASSUMPTIONS_PATH

STATUS_SUFFIX = ".status.json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I)
_REMOTE_LINK = re.compile(r"<link\b[^>]*href=[\"']?(?:https?:)?//[^>]*>", re.I)
_ASSUMPTIONS_HREF = re.compile(r'href="(?:\.\./)+data/ASSUMPTIONS\.md')

EXTRA_CSS = """
<style>
  body { font-family: Arial, Helvetica, sans-serif; color: #0b0c0c; }
  .peel-nav { font-size: 14px; margin: 12px auto; max-width: 1000px; padding: 0 15px; }
  .peel-nav a { color: #12436D; }
  table.peel-table { border-collapse: collapse; margin: 8px 0 4px; font-size: 13px; table-layout: auto;
    width: 100%; }
  table.peel-table td { overflow-wrap: anywhere; }
  table.peel-table sup.basis { font-weight: bold; color: #801650; margin-left: 1px; }
  table.peel-table sup.basis abbr { text-decoration: none; }
  ul.peel-key { font-size: 12px; color: #3D3D3D; list-style: none; padding-left: 0; }
  table.peel-table caption { text-align: left; font-weight: bold; padding-bottom: 6px; }
  table.peel-table th, table.peel-table td { border-bottom: 1px solid #BFBFBF; padding: 4px 8px;
    text-align: left; vertical-align: top; }
  table.peel-table th { border-bottom: 2px solid #3D3D3D; }
  ol.peel-notes { font-size: 12px; color: #3D3D3D; max-width: 900px; }
  div.output_png img, div.output_subarea img { max-width: 100%; height: auto; }
</style>
"""


_EXPORTERS: dict = {}


def exporter(template: str = "classic"):
    """One HTMLExporter per template and process (loading the templates is the slow part): "classic"
    for a section's page, "basic" (the cells alone) for the combined report. Neither links a script."""
    if template not in _EXPORTERS:
        from nbconvert import HTMLExporter

        made = HTMLExporter(template_name=template, exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
        made.mathjax_url = made.require_js_url = made.jquery_url = ""
        _EXPORTERS[template] = made
    return _EXPORTERS[template]


def prepare_exporter() -> None:
    """Load the HTML exporter and compile its templates now, by exporting a small throw-away notebook
    (a markdown cell and a code cell with text, a table and images): a process that forks workers
    does it once for all of them, instead of each worker on its first report."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="x\n"),
        nbformat.v4.new_output("display_data", data={"text/html": "<table><tr><td>x</td></tr></table>",
                                                      "text/markdown": "**x**", "text/plain": "x"}),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "x"},
                               metadata={"image/png": {"alt": "x"}}),
        nbformat.v4.new_output("display_data", data={"image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg'/>",
                                                      "text/plain": "x"})])
    nb.cells = [nbformat.v4.new_markdown_cell("# Warm-up\n\n*x*"), code]
    notebook_html(nb, "warm-up")


def make_offline(markup: str) -> str:
    """Strip every script and remote stylesheet link."""
    markup = _SCRIPT.sub("", markup)
    return _REMOTE_LINK.sub("", markup)


def _svg_as_image(output) -> None:
    """An SVG chart as an ``<img>`` with its alt text (nbconvert would inline the SVG without it): the
    chart's inline SVG (``text/html``) or, in a notebook executed before that, its ``image/svg+xml``."""
    import base64

    from .figures import figure_parts

    svg, _, alt = figure_parts(output)
    if svg is None:
        return
    src = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    output["data"] = {"text/html": f'<img src="data:image/svg+xml;base64,{src}" alt="{html.escape(alt)}">',
                      "text/plain": output["data"].get("text/plain", alt)}


def notebook_html(nb, title: str, *, html_path: Path | None = None, index_path: Path | None = None) -> str:
    """HTML for an executed notebook: outputs only, offline, alt text kept."""
    import copy

    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)          # no live widgets offline: their static fallback is shown instead
    for cell in nb.cells:  # the parameters and injected-parameters cells have no outputs; drop them outright
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["outputs"] = []
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)
            _svg_as_image(output)
    body, _ = exporter().from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = make_offline(body)
    nav = ""
    if html_path is not None:
        here = Path(html_path).parent
        if index_path is not None:
            nav = (f'<nav class="peel-nav"><a href="{html.escape(os.path.relpath(index_path, here))}">'
                   f"All reports</a></nav>")
        rel = os.path.relpath(ASSUMPTIONS_PATH, here).replace(os.sep, "/")
        body = _ASSUMPTIONS_HREF.sub(f'href="{html.escape(rel)}', body)
    body = body.replace("</head>", EXTRA_CSS + "</head>", 1)
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav, body, count=1)
    return body


def export(nb, html_path: Path, title: str, index_path: Path | None = None) -> Path:
    """Write the report for ``nb`` to ``html_path`` atomically."""
    return atomic_write(html_path, notebook_html(nb, title, html_path=html_path, index_path=index_path))


# --------------------------------------------------------------------------- index

def read_statuses(out_dir: Path) -> list[dict]:
    """Every status sidecar under ``out_dir`` (one per force × section × period that has run)."""
    out = []
    for path in sorted(Path(out_dir).glob(f"*/*/*{STATUS_SUFFIX}")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        record["_dir"] = path.parent
        out.append(record)
    return out


def _section_title(section: str) -> str:
    number, _, words = section.partition("_")
    return f"{number} {words.replace('_', ' ')}".strip()


INDEX_CSS = """
 body { font-family: Arial, Helvetica, sans-serif; color: #0b0c0c; margin: 20px auto; max-width: 1200px; padding: 0 12px; }
 h1 { font-size: 24px; } h2 { font-size: 19px; margin-top: 28px; }
 table { border-collapse: collapse; font-size: 13px; }
 th, td { border-bottom: 1px solid #BFBFBF; padding: 3px 8px; text-align: left; vertical-align: top; }
 thead th { border-bottom: 2px solid #3D3D3D; }
 a { color: #12436D; }
 td.failed { background: #fbe3d6; } td.failed a { color: #801650; font-weight: bold; }
 td.failed .why { font-size: 11px; max-width: 260px; color: #3D3D3D; }
 td.nodata a { color: #6f6f6f; } td.none { color: #6f6f6f; } td.full { white-space: nowrap; } td.full a { font-weight: bold; }
"""


def _cell(rec: dict | None, out_dir: Path, counts: dict) -> str:
    """One index cell: a link to the report ("report", or "no data" when it has nothing to draw), a
    failed run with its reason, or a dash when nothing has run."""
    if rec is None:
        return '<td class="none">–</td>'
    rel_dir = os.path.relpath(rec["_dir"], out_dir).replace(os.sep, "/")
    if rec.get("status") == "done":
        kind = "no data" if rec.get("no_data") else "report"
        counts[kind] += 1
        href = html.escape(f"{rel_dir}/{rec['html']}")
        title = ' title="this section has no values to show for this force and window; the page says why"' \
            if kind == "no data" else ""
        return f'<td class="{kind.replace(" ", "")}"><a href="{href}"{title}>{kind}</a></td>'
    counts["failed"] += 1
    reason = html.escape(str(rec.get("reason", "failed")))
    kept = rec.get("notebook", "")  # the notebook as far as it ran, when there is one
    label = f'<a href="{html.escape(f"{rel_dir}/{kept}")}">failed</a>' if kept and (rec["_dir"] / kept).is_file() \
        else "failed"
    return f'<td class="failed" title="{reason}">{label}<div class="why">{reason}</div></td>'


def _report_cell(out_dir: Path, period: str, slug: str) -> str:
    """The force's full report for the window (HTML, and PDF where built), or a dash."""
    folder = f"{period}/{slug}"
    if not (out_dir / folder / "report.html").is_file():
        return ('<td class="none" title="not built: a section failed or has not run">–</td>')
    links = f'<a href="{html.escape(folder)}/report.html">full report</a>'
    if (out_dir / folder / "report.pdf").is_file():
        links += f' · <a href="{html.escape(folder)}/report.pdf">PDF</a>'
    return f'<td class="full">{links}</td>'


def _period_table(period: str, by_key: dict, sections: list[str], out_dir: Path, counts: dict) -> str:
    from ..core.forces import FORCES

    rows = []
    for force in FORCES:
        recs = [by_key.get((period, force.slug, s)) for s in sections]
        if any(r is not None for r in recs):
            cells = _report_cell(out_dir, period, force.slug) + "".join(_cell(r, out_dir, counts) for r in recs)
            rows.append(f'<tr><th scope="row">{html.escape(force.name)}</th>{cells}</tr>')
    head = "".join(f'<th scope="col">{html.escape(_section_title(s))}</th>' for s in sections)
    from ..core.text import lower_first   # here, not at the top: the runner imports this module before numpy may load

    national = ""
    if (out_dir / period / "national.html").is_file():
        national = (f'<p><a href="{period}/national.html">Every force side by side, {html.escape(lower_first(_period_label(period)))}'
                    f'</a> · <a href="{period}/results.csv">every force and measure (CSV)</a></p>')
    return (f'<h2 id="p{period}">{html.escape(_period_label(period))}</h2>{national}'
            f'<table><thead><tr><th scope="col">Force</th><th scope="col">Full report</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def index_html(out_dir: Path, sections: list[str] | None = None) -> str:
    """forces × sections for every period; each cell links its report (marked "no data" when the
    section has nothing to draw) or is marked failed, with the reason."""
    out_dir = Path(out_dir)
    records = read_statuses(out_dir)
    periods = sorted({r["period_end"] for r in records})
    all_sections = sorted({r["section"] for r in records} | set(sections or []))
    by_key = {(r["period_end"], r["slug"], r["section"]): r for r in records}
    counts = {"report": 0, "no data": 0, "failed": 0}
    parts = [_period_table(p, by_key, all_sections, out_dir, counts) for p in periods]
    nav = " · ".join(f'<a href="#p{p}">{html.escape(_period_label(p))}</a>' for p in periods)
    summary = (f"{counts['report'] + counts['no data']} reports ({counts['no data']} with no data to show), "
               f"{counts['failed']} failed.")
    built = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = "".join(parts) if parts else "<p>No reports yet: run <code>make reports</code>.</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>PEEL police effectiveness 2017: reproduced reports</title>
<style>{INDEX_CSS}</style></head>
<body>
<header><h1>PEEL: police effectiveness 2017, reproduced from open data</h1></header>
<main>
<p>One full report per force and 12-month window (the first link in each row; PDF where built), then
each of its sections on its own. {html.escape(summary)} Built {built}.
A "no data" report has nothing to draw for that force and window (for example a measure only
HMICFRS's data return holds) and says what would fill it. Failed runs are listed but never shown as
reports; hover or read the note for the reason.</p>
<p>{nav}</p>
{body}
</main>
</body></html>
"""


def _period_label(iso: str) -> str:
    from ..core.periods import Period

    try:
        return Period.parse(iso).label
    except Exception:  # noqa: BLE001 - a stray folder name must not break the index
        return iso


def write_index(out_dir: Path, sections: list[str] | None = None) -> Path:
    out_dir = Path(out_dir)
    return atomic_write(out_dir / "index.html", index_html(out_dir, sections))
