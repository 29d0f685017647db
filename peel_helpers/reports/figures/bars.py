"""The by-force bar chart, after the Analysis Function guidance: :func:`draw` puts the bars (and the
comparison period's diamonds) on a figure sized to the number of forces drawn, :func:`force_bars` runs
prepare -> draw -> annotate -> alt text and returns a :class:`Chart`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .bardata import ChartData, ChartSpec, prepare
from .bartext import Layout, alt_text, annotate, layout, subtitle_text
from .base import BaseChart
from .style import BAR_STYLE, DIAMOND, DPI, FOCUS, GRID, LEFT_IN, OTHER, TEXT, WIDTH_IN


@dataclass
class Chart(BaseChart):
    """A drawn bar chart with its data (``.data``: the :class:`ChartData`; ``.spec``: its :class:`ChartSpec`)."""

    @property
    def rank(self) -> int | None:
        return self.data.rank[0]

    @property
    def of(self) -> int:
        return self.data.rank[1]

    def drawn_rows(self) -> pd.DataFrame:
        """The results rows this chart draws: each force with a bar or diamond, in the chart's order,
        then the England and Wales line(s)."""
        d = self.data
        rows = self.rows[self.rows["measure"] == d.spec.measure]
        parts = []
        for period, column in ((d.spec.period, "value"), (d.spec.comparison, "prev")):
            shown = list(d.forces.loc[d.forces[column].notna(), "force"]) if period else []
            sel = rows[(rows["period_end"] == period) & (rows["area"] == "force") & rows["force"].isin(shown)]
            parts.append(sel.set_index("force").loc[shown].reset_index()[list(rows.columns)])
        aggregates = [r for r in (d.aggregate, d.previous_aggregate) if r is not None and pd.notna(r["value"])]
        parts += [r.to_frame().T[list(rows.columns)] for r in aggregates]
        return pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) \
            else rows.iloc[0:0]

    @property
    def caption(self) -> str:
        return subtitle_text(self.data)

    def _draw(self, spec: ChartSpec) -> "Chart":
        return force_bars(self.rows, spec, self.source)


def _style_bar(patch, basis: str, colour: str) -> None:
    style = BAR_STYLE.get(basis, BAR_STYLE["reproduced"])
    if style["hatch"]:
        patch.set_hatch(style["hatch"])
        patch.set_edgecolor("white" if not style["hollow"] else (FOCUS if colour == FOCUS else "#6F6F6F"))
        patch.set_facecolor("white" if style["hollow"] else colour)
        patch.set_linewidth(0.8 if style["hollow"] else 0)


def _bars(ax, d: ChartData) -> None:
    import seaborn as sns  # imported here so that `import peel_helpers.reports.figures` stays cheap

    drawn = d.forces[d.forces["drawn"]]
    names = list(drawn["force"])
    if not names:
        return
    x = drawn["value"].to_numpy(dtype=float)
    colours = {name: (FOCUS if name == d.spec.focal else OTHER) for name in names}
    # one colour, no hue: a hue level per force makes seaborn draw 43 containers (three times slower)
    sns.barplot(x=np.where(np.isnan(x), 0.0, x), y=np.array(names, dtype=object), order=names, color=OTHER,
                saturation=1, orient="h", ax=ax, width=0.62 if d.spec.comparison else 0.72, linewidth=0,
                errorbar=None)
    for patch, name, value, basis in zip(ax.patches, names, x, drawn["basis"]):
        patch.set_visible(not np.isnan(value))
        patch.set_facecolor(colours[name])
        _style_bar(patch, basis, colours[name])
    if d.spec.intervals:
        _interval_lines(ax, drawn)
    if d.spec.comparison:
        px = drawn["prev"].to_numpy(dtype=float)
        part = (drawn["prev_basis"] == "partial_window").to_numpy()
        px = np.minimum(px, d.cut) if d.cut is not None else px    # a diamond past the cut sits at the edge
        for is_part in (False, True):
            which = ~np.isnan(px) & (part == is_part)
            if which.any():
                ax.scatter(px[which], np.arange(len(names))[which], zorder=4, clip_on=False, **DIAMOND[is_part])
    cut = set(d.cut_forces["force"])
    if d.spec.focal in names and d.spec.focal not in cut:
        i = names.index(d.spec.focal)
        if not np.isnan(x[i]):
            ax.text(x[i], i, f" {d.fmt(x[i])}", va="center", ha="left", fontsize=8, color=FOCUS,
                    fontweight="bold", zorder=5)
    _cut_marks(ax, d, names, x)


def _cut_marks(ax, d: ChartData, names: list[str], x) -> None:
    """Each bar past the cut axis: a white break near the edge and its value written at the end."""
    if d.cut is None:
        return
    for name in d.cut_forces["force"]:
        i = names.index(name)
        for at in (0.93, 0.955):
            ax.plot([d.cut * (at - 0.006), d.cut * (at + 0.006)], [i + 0.45, i - 0.45], color="white",
                    linewidth=2.0, solid_capstyle="butt", zorder=4)
        value = x[i] if not np.isnan(x[i]) else d.forces.set_index("force").loc[name, "prev"]
        ax.text(d.cut, i, f" {d.fmt(value)}", va="center", ha="left", fontsize=8, zorder=5, clip_on=False,
                color=FOCUS if name == d.spec.focal else TEXT, fontweight="bold")


def _interval_lines(ax, drawn: pd.DataFrame) -> None:
    """Each value's 95% interval as a thin dark line through the end of its bar."""
    low, high = drawn["ci_low"].to_numpy(dtype=float), drawn["ci_high"].to_numpy(dtype=float)
    ok = ~np.isnan(low) & ~np.isnan(high)
    rows = np.arange(len(drawn))[ok]
    ax.hlines(rows, low[ok], high[ok], color=TEXT, linewidth=1.1, zorder=4)
    ax.vlines(np.concatenate([low[ok], high[ok]]), np.concatenate([rows, rows]) - 0.18,
              np.concatenate([rows, rows]) + 0.18, color=TEXT, linewidth=1.1, zorder=4)


def _axes_style(ax, d: ChartData) -> None:
    drawn = d.forces[d.forces["drawn"]]
    values = [*drawn["value"], *drawn["prev"], *(drawn["ci_high"] if d.spec.intervals else [])]
    values += [r["value"] for r in (d.aggregate, d.previous_aggregate) if r is not None and pd.notna(r["value"])]
    finite = np.array([v for v in values if pd.notna(v)], dtype=float)
    hi = float(finite.max()) if finite.size else 1.0
    lo = min(0.0, float(finite.min())) if finite.size else 0.0
    ax.set_xlim(lo * 1.08, d.cut if d.cut is not None else (hi * 1.12 if hi > 0 else 1.0))
    ax.set_ylim(max(len(drawn), 1) - 0.5, -0.5)
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    ax.grid(axis="y", visible=False)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(TEXT)
    ax.tick_params(axis="y", length=0, labelsize=7.5, colors=TEXT)
    ax.tick_params(axis="x", labelsize=8, colors=TEXT)
    ax.set_ylabel("")
    ax.set_xlabel(d.mdef.unit[0].upper() + d.mdef.unit[1:], fontsize=8, color=TEXT)
    for label in ax.get_yticklabels():
        if label.get_text() == d.spec.focal:
            label.set_fontweight("bold")
            label.set_color(FOCUS)


def draw(d: ChartData, source: str = "") -> tuple[Figure, Layout]:
    """The bars (and comparison diamonds) on a new figure sized to the number of forces drawn."""
    lay = layout(d, source)
    fig = Figure(figsize=(WIDTH_IN, lay.height), dpi=DPI)
    fig.patch.set_facecolor("white")
    plot_h = lay.height - lay.top_in - lay.bottom_in
    ax = fig.add_axes((LEFT_IN / WIDTH_IN, lay.bottom_in / lay.height, 1 - (LEFT_IN + 0.45) / WIDTH_IN,
                       plot_h / lay.height))
    _bars(ax, d)
    _axes_style(ax, d)
    return fig, lay


def force_bars(rows: pd.DataFrame, spec: ChartSpec, source: str = "") -> Chart:
    """prepare -> draw -> annotate -> alt text."""
    d = prepare(rows, spec)
    fig, lay = draw(d, source)
    title = annotate(fig, d, lay)
    return Chart(fig, alt_text(d), title, d, d.spec, rows, source)
