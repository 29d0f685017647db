"""The project's nbconvert exporters, registered under the ``nbconvert.exporters`` entry point
(``pyproject.toml``), so that nbconvert finds them by name:

``peel_report``
    a force's report: title block, contents, numbered figures and tables each with a link to its
    data, "About the data". On the build's merged notebook it is the combined report; on one executed
    section notebook (``jupyter nbconvert --to peel_report out.ipynb``) a report of that section,
    with the CSVs written beside it by nbconvert's own writer.
``peel_section``
    one executed section notebook as a page: its outputs only, with the project's style.

Both are :class:`nbconvert.HTMLExporter` with the project's template (``templates/peel``, which
extends nbconvert's ``lab`` cell markup), the project's preprocessors (:mod:`.preprocess`), no code,
no prompts, no scripts (every page carries a content-security policy that forbids them), and the
one style sheet (``static/peel.css``) inline, so a page keeps its look when it is moved on its own.

What a caller passes in ``resources["peel"]`` (all optional): ``links`` (the nav of a section
page), ``assumptions_href`` (where the assumptions page is, relative to the page), ``extra_links``
(the title block's), ``standalone`` (False when the build writes the assumptions page itself; a
report converted on its own gets a copy of it beside it). What comes back in ``resources``:
``outputs`` (file name -> bytes: the CSVs, and that copy) and ``peel["items"]`` (the numbered
figures and tables, with the rows behind each).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from nbconvert.exporters import HTMLExporter, TemplateExporter
from traitlets import Bool, List, Unicode, default

from .document import Document, TitleBlock
from .preprocess import AssumptionLinks, NumberItems, ReaderView

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
CSS_PATH = HERE / "static" / "peel.css"


@lru_cache(maxsize=1)
def css() -> str:
    return CSS_PATH.read_text(encoding="utf-8")


class SectionExporter(HTMLExporter):
    """One executed section notebook as a page of the project's publication."""

    export_from_notebook = "PEEL section page"
    exclude_input = Bool(True).tag(config=True)
    exclude_input_prompt = Bool(True).tag(config=True)
    exclude_output_prompt = Bool(True).tag(config=True)
    exclude_anchor_links = Bool(True).tag(config=True)
    optimistic_validation = Bool(True).tag(config=True)   # check the notebook once, after all preprocessors
    template_name = Unicode("peel").tag(config=True)
    preprocessors = List([ReaderView, AssumptionLinks]).tag(config=True)

    @default("extra_template_basedirs")
    def _default_extra_template_basedirs(self):
        return [str(TEMPLATES)]

    @default("template_file")
    def _default_template_file(self):
        return "section.html.j2"

    def from_notebook_node(self, nb, resources=None, **kw):
        resources = dict(resources or {})
        peel = dict(resources.get("peel") or {})
        peel.setdefault("css", css())
        peel.setdefault("title", (resources.get("metadata") or {}).get("name") or "Report")
        peel.setdefault("assumptions_href", "assumptions.html")
        resources["peel"] = peel
        return self._render(nb, resources, **kw)

    def _render(self, nb, resources, **kw):
        """HTMLExporter's conversion without its last step, which parses the finished page with
        BeautifulSoup to give every ``<img>`` without ``alt`` a placeholder and to make cells
        focusable (about half the time of a report with several inline charts): every image this
        template writes has its description, and its pages are not JupyterLab notebooks."""
        from nbconvert.filters.highlight import Highlight2HTML
        from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

        resources = self._init_resources(resources)
        self.register_filter("highlight_code", Highlight2HTML(parent=self))
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata,
                                                                       parent=self, resources=resources))
        return TemplateExporter.from_notebook_node(self, nb, resources, **kw)


class ReportExporter(SectionExporter):
    """A force's report (the merged section notebooks, or one executed section notebook)."""

    export_from_notebook = "PEEL report"
    preprocessors = List([ReaderView, AssumptionLinks, Document, NumberItems, TitleBlock]).tag(config=True)

    @default("template_file")
    def _default_template_file(self):
        return "report.html.j2"

    def from_notebook_node(self, nb, resources=None, **kw):
        output, resources = super().from_notebook_node(nb, resources, **kw)
        if resources["peel"].get("standalone", True):   # converted on its own: its own copy of the log beside it
            resources.setdefault("outputs", {})["./assumptions.html"] = assumptions_page().encode("utf-8")
        return output, resources


def assumptions_page(index_href: str = "") -> str:
    """The assumptions and caveats log (``data/ASSUMPTIONS.md``) as one self-contained page, rendered by
    the section exporter (one markdown cell), its items' anchors kept; ``index_href``: the link back to
    the index, if any. Every page of a build links its assumption items here, so a copied or e-mailed
    output folder never points outside itself."""
    import nbformat

    from ..core.paths import ASSUMPTIONS_PATH

    nb = nbformat.from_dict({"cells": [{"cell_type": "markdown", "metadata": {}, "id": "log",
                                        "source": with_sections(ASSUMPTIONS_PATH.read_text(encoding="utf-8"))}],
                             "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    title = "Assumptions and caveats log"
    links = [("All reports", index_href)] if index_href else []
    body, _ = SectionExporter().from_notebook_node(nb, {"metadata": {"name": title}, "peel": {
        "title": f"PEEL police effectiveness: {title}", "links": links}})
    return body


def with_sections(log: str) -> str:
    """The assumptions log for its page: each item a level-2 heading (the log's own title is the page's
    one ``h1``) with, under its RAG line, the report sections it applies to, as the sections'
    declaration lists them (the one place that says so)."""
    import re

    from ..core.sections import sections

    declared = sections()
    everywhere = set.intersection(*(set(s.assumptions) for s in declared)) if declared else set()
    lines, current = [], None
    for line in log.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if cells:     # the index table becomes a list: a markdown table has no header scope for screen readers
            if len(cells) == 4 and cells[1].startswith("[A-"):
                lines.append(f"- {cells[1]}: {cells[2]} ({cells[3]})")
            continue
        heading = re.match(r"^###\s+(A-[A-Z0-9-]+)", line)
        lines.append(line[1:] if heading else line)      # each item an h2 under the page's h1
        if heading:
            current = heading.group(1)
        elif current and re.match(r"^\s*-\s*\*\*RAG\*\*", line):
            where = "every section" if current in everywhere else \
                "; ".join(s.title for s in declared if current in s.assumptions) or "no section of the report"
            lines.append(f"- **Applies to**: {where}")
            current = None
    return "\n".join(lines) + "\n"
