"""One chart style for every by-force figure, after the Analysis Function guidance.

A bar chart is built in four short steps, each usable on its own:

``prepare(rows, spec)``
    results rows (``peel_helpers.results()``) -> :class:`ChartData`: one row per force with its
    value, basis and reason (and the comparison period's), sorted, plus the aggregate rows.
``draw(data)``
    a matplotlib :class:`~matplotlib.figure.Figure` with horizontal bars: the focal force dark blue,
    the others grey; a value that is not reproduced from open data is drawn differently (published:
    hatched and outlined; supplied: back-hatched; part of the window: cross-hatched), with a legend
    entry. The comparison period is drawn as hollow diamonds, so colour is never the only cue.
``annotate(figure, data)``
    the England and Wales line(s) labelled with their basis, and "N of 43 forces" when the sum
    is not over every force the rules allow; title, subtitle, legend, forces without a value, source.
``alt_text(data)``
    the text alternative: the focal value with its basis, its rank, and the England and Wales value.

:func:`force_bars` runs all four and returns a :class:`Chart`; :func:`lines` draws lines over time
(a :class:`LineChart`) and :func:`funnel_plot` a funnel plot (a :class:`FunnelChart`). Every chart
keeps ``.data``, ``.figure``, ``.spec``, the rows it was drawn from and its source line;
``chart.redraw(focal="Kent")`` draws it again, and in a notebook it shows itself as inline SVG with
its title and description (:mod:`.base`), so that its description survives any HTML export.

The modules, along the seams: :mod:`.style` (colours, contrast, sizes, SVG settings, wrapping),
:mod:`.base` (the chart base class and its display), :mod:`.bardata`, :mod:`.bartext` and
:mod:`.bars` (the bar chart), :mod:`.lines` and :mod:`.funnelplot`.
"""

from .bardata import ChartData, ChartSpec, prepare
from .bars import Chart, draw, force_bars
from .bartext import alt_text, annotate, cut_sentence, guide_text, note_lines, title_of
from .base import BaseChart, chart_key, figure_bundle
from .funnelplot import FunnelChart, FunnelSpec, denominator_label, funnel_alt, funnel_plot
from .lines import LineChart, LineSpec, lines
from .style import (ACCENT, BAR_STYLE, CATEGORICAL, DIAMOND, FOCUS, GRID, IMAGE_TYPES, INTERVAL_NOTE, OTHER,
                    SVG_LIMIT, TEXT, contrast, text_colour, wrap)

__all__ = ["ACCENT", "BAR_STYLE", "CATEGORICAL", "DIAMOND", "FOCUS", "GRID", "IMAGE_TYPES", "INTERVAL_NOTE", "OTHER",
           "SVG_LIMIT", "TEXT", "BaseChart", "Chart", "ChartData", "ChartSpec", "FunnelChart", "FunnelSpec",
           "LineChart", "LineSpec", "alt_text", "annotate", "chart_key", "contrast", "cut_sentence",
           "denominator_label", "draw", "figure_bundle", "force_bars", "funnel_alt", "funnel_plot", "guide_text",
           "lines", "note_lines", "prepare", "text_colour", "title_of", "wrap"]
