"""nbconvert preprocessors that make executed section notebooks into the project's pages.

They run, in this order, before the page's template (:mod:`.exporters`):

:class:`ReaderView`
    drops what a reader should not see: the ``parameters`` and ``injected-parameters`` cells, text
    tagged ``notebook-only`` (for someone running the notebook), live widget views.
:class:`AssumptionLinks`
    points each "assumptions and caveats" note at the published assumptions page
    (``<out>/assumptions.html``) instead of the repository's ``data/ASSUMPTIONS.md``, from the item
    ids the note carries.
:class:`Document`
    (combined reports) groups the cells into the report's sections, moves each section's headings
    under its ``h2``, takes out each section's own heading, gathers the sections' assumptions and
    sources notes, adds "About the data" before the closing section, and fills in the title block.
:class:`NumberItems`
    numbers every chart and table once across the page, and puts the rows each one draws in
    ``resources["outputs"]`` as a spreadsheet-safe CSV (``<name>-figure-3.csv``), which nbconvert's
    own writer saves beside the page (``jupyter nbconvert --to peel_report``) and the build writes
    through its records.

Nothing here parses nbconvert's HTML: the preprocessors change the notebook and the resources,
and the templates lay them out.
"""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

SKIP_TAGS = {"parameters", "injected-parameters", "notebook-only"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_HEADING_LINE = re.compile(r"^(#{1,6})(?=\s)", re.M)


def peel_meta(output) -> dict:
    return output.get("metadata", {}).get("peel", {}) or {}


def text_of(output, mime: str = "text/markdown") -> str | None:
    value = output.get("data", {}).get(mime)
    return "".join(value) if isinstance(value, list) else value


def set_markdown(output, text: str) -> None:
    output["data"] = {"text/markdown": text, "text/plain": text}


class ReaderView(Preprocessor):
    """Only what a reader should see."""

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)
        nb.cells = [c for c in nb.cells if not SKIP_TAGS & set(c.get("metadata", {}).get("tags", []))]
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                output.get("data", {}).pop(WIDGET_VIEW, None)
                meta = peel_meta(output)
                if meta.get("kind") == "figure" and not meta.get("alt"):   # a chart drawn as an image: its alt text
                    images = output.get("metadata", {})
                    meta["alt"] = next((images[k]["alt"] for k in ("image/svg+xml", "image/png")
                                        if images.get(k, {}).get("alt")), meta.get("title", ""))
        return nb, resources


class AssumptionLinks(Preprocessor):
    """Assumption notes link the published assumptions page (``resources["peel"]["assumptions_href"]``)."""

    def preprocess(self, nb, resources):
        href = resources.get("peel", {}).get("assumptions_href")
        if not href:
            return nb, resources
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                items = peel_meta(output).get("items")
                if peel_meta(output).get("role") == "assumptions" and items:
                    set_markdown(output, assumptions_markdown(items, href))
        return nb, resources


def assumptions_markdown(items: list, href: str) -> str:
    """The "assumptions and caveats that apply here" list, each item linked on the assumptions page."""
    from ..core.text import md_escape

    lines = [f"- [{md_escape(ident)}: {md_escape(title)}]({href}#{ident.lower()}) (RAG rating: {md_escape(rag) or 'not rated'})"
             for ident, title, rag in items]
    return "**Assumptions and caveats that apply here:**\n\n" + "\n".join(lines)


def demote(text: str, shift: int) -> str:
    """Markdown with every heading moved ``shift`` levels down (never below ``h6``)."""
    return _HEADING_LINE.sub(lambda m: "#" * min(6, len(m.group(1)) + shift), text) if shift else text


class NumberItems(Preprocessor):
    """Number the charts and tables of the page once, and give each its data as a CSV."""

    numbered = Bool(True, help="number the figures and tables and write their data").tag(config=True)

    def preprocess(self, nb, resources):
        from ..reports.csvout import csv_text, frame_from_payload

        if not self.numbered:
            return nb, resources
        name = resources.get("metadata", {}).get("name") or "page"
        counts = {"figure": 0, "table": 0}
        outputs = resources.setdefault("outputs", {})
        used = resources.setdefault("peel", {}).setdefault("items", [])
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                meta = peel_meta(output)
                kind = meta.get("kind") or ("figure" if meta.get("role") == "figure" else None)
                if kind not in counts:
                    continue
                counts[kind] += 1
                number = counts[kind]
                meta.update(number=number, anchor=f"{kind}-{number}")
                output.setdefault("metadata", {})["peel"] = meta
                if meta.get("role") == "figure":       # a chart that could not be drawn keeps its number
                    text = (text_of(output) or "").replace("**No chart:**", "", 1).strip()
                    set_markdown(output, f'<span id="{kind}-{number}"></span>**Figure {number}: no chart.** {text}')
                    output["metadata"]["peel"] = meta
                    continue
                rows = meta.pop("rows", None)
                if rows:
                    frame = frame_from_payload(rows)
                    text = "\ufeff" + csv_text(frame)
                    meta["csv"] = f"{name}-{kind}-{number}.csv"
                    meta["kb"] = max(1, round(len(text.encode("utf-8")) / 1024))
                    outputs[f"./{meta['csv']}"] = text.encode("utf-8")   # "./": nbconvert's writer makes its folder
                    used.append({"kind": kind, "number": number, "csv": meta["csv"],
                                 "results": rows.get("kind") == "results", "frame": frame})
                if kind == "table":
                    html = text_of(output, "text/html") or ""
                    output["data"]["text/html"] = numbered_table(html, number)
        return nb, resources


def numbered_table(markup: str, number: int) -> str:
    """A table the report helpers wrote (:class:`peel_helpers.reports.tables.Table`), with its number
    in its caption; the helpers' markup always opens ``<table class="peel-table">`` and writes at most
    one ``<caption>``."""
    label = f'<span class="peel-number">Table {number}:</span>'
    if "<caption>" in markup:
        return markup.replace("<caption>", f"<caption>{label} ", 1)
    opening = '<table class="peel-table">'
    return markup.replace(opening, f"{opening}<caption>{label}</caption>", 1)
