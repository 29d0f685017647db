"""What every chart shares: a drawn matplotlib figure with its alt text, title, data, spec, the results
rows it was drawn from and its source line; PNG and SVG output; ``save``; ``redraw`` with parts of the
spec changed; and its display in a notebook.

A chart's display bundle carries its description in the output itself, so that stock
``jupyter nbconvert --to html`` keeps it (nbconvert writes an ``image/svg+xml`` or ``image/png`` output
as an ``<img>`` without ``alt`` and labels it "No description has been provided for this image"):

* ``text/html``: the chart as an inline ``<svg role="img">`` whose ``<title>`` is the chart's title and
  whose ``<desc>`` is its alt text (``aria-labelledby`` and ``aria-describedby`` name them). Every id in
  the SVG is prefixed with the chart's own key (:func:`chart_key`, from its kind, spec, title and alt
  text), so two charts on one page never share an id and the same chart gives the same bytes. A chart
  whose SVG would be heavier than :data:`~.style.SVG_LIMIT` is an ``<img src="data:image/png;base64,…"
  alt="…">`` instead;
* ``text/plain``: the alt text;
* metadata ``peel``: ``kind: "figure"``, the title, the caption (what is drawn, in neutral words: the
  report's figure caption, never a repeat of the drawn title), the alt text and the rows drawn (which the
  combined report writes as CSV).

The publisher places the ``text/html`` as it is (its templates lay out the caption, the visible
description and the link to the data around it).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
from dataclasses import dataclass, field, replace

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .style import DPI, SVG_LIMIT, SVG_METADATA, SVG_RC

_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^")]+)')


@dataclass
class BaseChart:
    """A drawn chart: ``figure``, ``alt`` text, ``title``, ``data`` (what was drawn), ``spec`` (what
    to draw), ``rows`` (the results rows it was drawn from) and the ``source`` line under it."""

    figure: Figure
    alt: str
    title: str
    data: object
    spec: object
    rows: pd.DataFrame | None = field(repr=False, default=None)
    source: str = ""

    def png(self) -> bytes:
        buf = io.BytesIO()
        FigureCanvasAgg(self.figure)
        self.figure.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
        return buf.getvalue()

    def svg(self, salt: str | None = None) -> str:
        """The chart as a standalone SVG file, text kept as text; the same chart gives the same bytes."""
        import matplotlib

        buf = io.StringIO()
        with matplotlib.rc_context({**SVG_RC, **({"svg.hashsalt": salt} if salt else {})}):
            self.figure.savefig(buf, format="svg", dpi=DPI, metadata=SVG_METADATA)
        return buf.getvalue()

    def inline_svg(self) -> str:
        """The chart as an ``<svg role="img">`` to sit in an HTML page beside other charts: no XML
        prolog or metadata, ``<title>`` and ``<desc>`` first, every id prefixed with :func:`chart_key`."""
        key = chart_key(self)
        svg = self.svg(salt=key)
        svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg[svg.find("<svg"):], flags=re.S)
        ids = set(_ID.findall(svg))
        svg = _ID.sub(lambda m: f'id="{key}-{m.group(1)}"', svg)
        svg = _REF.sub(lambda m: m.group(1) + (f"{key}-{m.group(2)}" if m.group(2) in ids else m.group(2)), svg)
        head = svg.find(">") + 1
        named = (f'{svg[:head - 1]} role="img" aria-labelledby="{key}-title" aria-describedby="{key}-desc">'
                 f'<title id="{key}-title">{html.escape(self.title)}</title>'
                 f'<desc id="{key}-desc">{html.escape(self.alt)}</desc>')
        return named + svg[head:]

    def save(self, path) -> None:
        """Write the PNG (or any format matplotlib knows, by suffix)."""
        FigureCanvasAgg(self.figure)
        self.figure.savefig(path, dpi=DPI, metadata={"Software": None} if str(path).endswith(".png") else None)

    def redraw(self, **changes) -> "BaseChart":
        """The same chart, from the same rows and with the same source line, with parts of the spec
        changed (e.g. ``focal="Kent"``)."""
        return self._draw(replace(self.spec, **changes))

    def _draw(self, spec) -> "BaseChart":
        raise NotImplementedError

    def drawn_rows(self) -> pd.DataFrame:
        """The results rows the chart draws."""
        raise NotImplementedError

    @property
    def caption(self) -> str:
        """A neutral description of what is drawn (measure, forces, window), which a report uses as the
        figure's caption in place of the chart's own drawn title, so that the two never repeat."""
        return ""

    def _repr_mimebundle_(self, include=None, exclude=None):
        return figure_bundle(self)


def chart_key(chart: BaseChart) -> str:
    """A short key for the chart, the same for the same chart: from its kind, spec, title and alt text."""
    text = "\n".join([type(chart).__name__, repr(chart.spec), chart.title, chart.alt])
    return "c" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def figure_bundle(chart: BaseChart) -> tuple[dict, dict]:
    """A chart's display: ``text/html`` (inline SVG with its title and description, or a PNG ``<img>``
    with ``alt`` for a chart whose SVG is too heavy), ``text/plain`` (the alt text), and under the
    ``peel`` metadata the title, alt text and rows drawn."""
    from ..csvout import payload

    svg = chart.inline_svg()
    if len(svg) > SVG_LIMIT:
        png = base64.b64encode(chart.png()).decode("ascii")
        svg = f'<img src="data:image/png;base64,{png}" alt="{html.escape(chart.alt)}">'
    meta = {"peel": {"kind": "figure", "title": chart.title, "alt": chart.alt,
                     "rows": payload(chart.drawn_rows(), "results")}}
    if chart.caption and chart.caption != chart.title:
        meta["peel"]["caption"] = chart.caption
    return {"text/html": svg, "text/plain": chart.alt}, meta
