"""One chart style for every by-force figure, after the Analysis Function guidance.

The chart is built in four short steps, each usable on its own:

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

:func:`force_bars` runs all four and returns a :class:`Chart`, which renders itself in Jupyter (a
PNG whose ``alt`` metadata becomes ``<img alt>`` in the HTML export) and keeps ``.data`` (the
prepared frame), ``.figure`` and ``.spec``; ``chart.redraw(focal="Kent")`` draws it again.
"""

from __future__ import annotations

import base64
import io
import textwrap
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.collections import PathCollection
from matplotlib.markers import MarkerStyle
from matplotlib.transforms import IdentityTransform
from matplotlib.patches import Patch

from ..core.forces import FORCE_NAMES, resolve
from ..core.periods import Period
from ..core.text import DASH, ENGLAND_AND_WALES, basis_words, format_value, lower_first, ordinal
from ..measures.registry import MEASURES
from ..measures.table import aggregate_row

# The Analysis Function colours, except the other forces' grey: #BFBFBF has 1.8:1 contrast on white, so a
# mid grey (3.4:1 on white, 3:1 against the focal blue) keeps every bar visible (WCAG 2.2, 1.4.11).
FOCUS, OTHER, ACCENT, TEXT, GRID = "#12436D", "#8C8C8C", "#F46A25", "#3D3D3D", "#D9D9D9"
CATEGORICAL = ("#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1")
# basis -> how a bar of that basis is drawn (hatch pattern, face white?) and its legend words
BAR_STYLE = {
    "reproduced": {"hatch": None, "hollow": False},
    "published": {"hatch": "////", "hollow": True},
    "supplied": {"hatch": "\\\\\\\\", "hollow": True},
    "partial_window": {"hatch": "xxx", "hollow": False},
}
# the comparison period's diamonds: hollow for 12-month values, cross-hatched (as part-window bars
# are) for values over part of the window
DIAMOND = {False: {"marker": "D", "s": 20, "facecolor": "white", "edgecolor": TEXT, "linewidth": 1.1},
           True: {"marker": "D", "s": 34, "facecolor": "white", "edgecolor": TEXT, "linewidth": 1.0,
                  "hatch": "xxxxxx"}}
INTERVAL_NOTE = ("Lines through the bars: each value's 95% interval, the chance variation of a count (not sampling "
                 "error); a value published without counts has none.")
DPI, WIDTH_IN, ROW_IN, LEFT_IN, TITLE_IN, LINE_IN, WRAP = 100, 8.0, 0.2, 1.75, 0.42, 0.2, 118
CUT_RATIO = 3.0          # one force more than this many times the next: the value axis is cut (see axis_cut)
# SVG that is the same bytes for the same chart: fixed id salt, no date, text kept as text
# (and a short font list: each text element repeats it)
SVG_RC = {"svg.hashsalt": "peel-effectiveness", "svg.fonttype": "none",
          "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"]}
SVG_METADATA = {"Date": None, "Creator": None}
SVG_LIMIT = 1_000_000    # bytes: a chart whose SVG is heavier than this is shown as PNG (page weight)
IMAGE_TYPES = ("image/svg+xml", "image/png")   # how a chart is shown in a notebook output


def contrast(colour, background="#FFFFFF") -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    from matplotlib.colors import to_rgb

    def luminance(c):
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in to_rgb(c)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(colour), luminance(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def text_colour(colour: str, minimum: float = 4.5) -> str:
    """``colour``, darkened just enough to read as text on white (4.5:1): labels keep their line's hue."""
    from matplotlib.colors import to_hex, to_rgb

    rgb = to_rgb(colour)
    for step in range(21):
        shade = to_hex([v * (1 - step / 20) for v in rgb])
        if contrast(shade) >= minimum:
            return shade
    return "#000000"


@dataclass(frozen=True)
class ChartSpec:
    """What to draw: a measure, a period (and optionally a comparison period), and the focal force."""

    measure: str
    period: str
    focal: str
    comparison: str | None = None
    title: str | None = None          # overrides the generated title
    intervals: bool = False           # draw each value's 95% interval as a line through its bar


@dataclass
class ChartData:
    spec: ChartSpec
    forces: pd.DataFrame              # force, value, basis, reason, window, prev, prev_basis, prev_window, drawn
    aggregate: pd.Series | None
    previous_aggregate: pd.Series | None

    @property
    def mdef(self):
        return MEASURES[self.spec.measure]

    def fmt(self, value) -> str:
        return format_value(value, self.mdef.unit, self.mdef.decimals, self.mdef.signed)

    @property
    def rank(self) -> tuple[int | None, int]:
        have = self.forces[self.forces["value"].notna()].sort_values("value", ascending=False, kind="mergesort")
        names = list(have["force"])
        return (names.index(self.spec.focal) + 1 if self.spec.focal in names else None), len(names)

    @property
    def windows(self) -> list[str]:
        """Labels of the part-windows the drawn values cover (empty when all are 12-month values)."""
        rows = self.forces[(self.forces["basis"] == "partial_window") & self.forces["value"].notna()]
        return sorted(set(rows["window"].dropna()))

    @property
    def prev_windows(self) -> list[str]:
        """The same for the comparison period's values (the diamonds)."""
        rows = self.forces[(self.forces["prev_basis"] == "partial_window") & self.forces["prev"].notna()]
        return sorted(set(rows["prev_window"].dropna()))

    @property
    def has_values(self) -> bool:
        return bool(self.forces["value"].notna().any() or self.forces["prev"].notna().any())

    @cached_property
    def cut(self) -> float | None:
        """Where the value axis stops when one force is more than :data:`CUT_RATIO` times the next (the
        City of London's rates per resident), so that the other forces stay readable: past the next
        force and the England and Wales lines. None when no force is that far out."""
        drawn = self.forces[self.forces["drawn"]]
        top = drawn[["value", "prev"]].max(axis=1, skipna=True).dropna().sort_values(ascending=False)
        if len(top) < 2 or top.iloc[1] <= 0 or top.iloc[0] <= CUT_RATIO * top.iloc[1]:
            return None
        lines = [float(r["value"]) for r in (self.aggregate, self.previous_aggregate)
                 if r is not None and pd.notna(r["value"])]
        return max([float(top.iloc[1])] + lines) * 1.25

    @property
    def cut_forces(self) -> pd.DataFrame:
        """The forces drawn past the cut (empty when the axis is not cut)."""
        if self.cut is None:
            return self.forces.iloc[0:0]
        return self.forces[(self.forces["value"] > self.cut) | (self.forces["prev"] > self.cut)]


@dataclass
class Chart:
    """A drawn chart with its data. Renders as SVG with alt text (see :func:`figure_bundle`)."""

    figure: Figure
    alt: str
    title: str
    data: ChartData
    rows: pd.DataFrame = field(repr=False, default=None)

    @property
    def spec(self) -> ChartSpec:
        return self.data.spec

    @property
    def rank(self) -> int | None:
        return self.data.rank[0]

    @property
    def of(self) -> int:
        return self.data.rank[1]

    def png(self) -> bytes:
        buf = io.BytesIO()
        FigureCanvasAgg(self.figure)
        self.figure.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
        return buf.getvalue()

    def svg(self) -> str:
        """The chart as SVG, text kept as text; the same chart gives the same bytes."""
        import matplotlib

        buf = io.StringIO()
        with matplotlib.rc_context(SVG_RC):
            self.figure.savefig(buf, format="svg", dpi=DPI, metadata=SVG_METADATA)
        return buf.getvalue()

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

    def save(self, path) -> None:
        """Write the PNG (or any format matplotlib knows, by suffix)."""
        FigureCanvasAgg(self.figure)
        self.figure.savefig(path, dpi=DPI, metadata={"Software": None} if str(path).endswith(".png") else None)

    def redraw(self, **changes) -> "Chart":
        """The same chart with parts of the spec changed (e.g. ``focal="Kent"``)."""
        return force_bars(self.rows, replace(self.spec, **changes))

    def _repr_mimebundle_(self, include=None, exclude=None):
        return figure_bundle(self)


def figure_bundle(chart) -> tuple[dict, dict]:
    """A chart's display: SVG (text stays text; the same chart gives the same bytes) with the alt text,
    or PNG for a chart whose SVG would be heavier than :data:`SVG_LIMIT`; under ``peel`` the title and
    the rows drawn, which the combined report writes as CSV."""
    from .csvout import payload

    svg = chart.svg()
    kind, data = ("image/svg+xml", svg) if len(svg) <= SVG_LIMIT else \
        ("image/png", base64.b64encode(chart.png()).decode("ascii"))
    meta = {kind: {"alt": chart.alt},
            "peel": {"kind": "figure", "title": chart.title, "rows": payload(chart.drawn_rows(), "results")}}
    return {kind: data, "text/plain": chart.alt}, meta


# --------------------------------------------------------------------------- prepare

def _one_period(rows: pd.DataFrame, period: str | None) -> tuple[pd.DataFrame, pd.Series | None]:
    if period is None:
        return pd.DataFrame(columns=["force", "value", "basis", "reason", "window"]), None
    sel = rows[rows["period_end"] == period]
    forces = sel[sel["area"] == "force"].set_index("force").reindex(list(FORCE_NAMES)).reset_index()
    return forces, aggregate_row(sel)


def prepare(rows: pd.DataFrame, spec: ChartSpec) -> ChartData:
    """Results rows for one measure -> one row per force, sorted high to low, with the comparison."""
    spec = replace(spec, focal=resolve(spec.focal).name, period=Period.parse(spec.period).iso,
                   comparison=Period.parse(spec.comparison).iso if spec.comparison else None)
    rows = rows[rows["measure"] == spec.measure]
    cur, agg = _one_period(rows, spec.period)
    prev, prev_agg = _one_period(rows, spec.comparison)
    out = pd.DataFrame({"force": list(FORCE_NAMES)})
    out["value"] = pd.to_numeric(cur["value"], errors="coerce").astype(float).to_numpy()
    out["basis"] = cur["basis"].astype(str).to_numpy()
    out["reason"] = [r if isinstance(r, str) else "no value" for r in cur["reason"]]
    out["window"] = cur["window"].to_numpy()
    for col in ("ci_low", "ci_high"):
        out[col] = pd.to_numeric(cur[col], errors="coerce").astype(float).to_numpy() if col in cur else np.nan
    out["prev"] = pd.to_numeric(prev["value"], errors="coerce").astype(float).to_numpy() if len(prev) else np.nan
    out["prev_basis"] = prev["basis"].astype(str).to_numpy() if len(prev) else "not_available"
    out["prev_reason"] = [r if isinstance(r, str) else "no value" for r in prev["reason"]] if len(prev) else ""
    out["prev_window"] = prev["window"].to_numpy() if len(prev) else pd.NA
    out["drawn"] = out["value"].notna() | out["prev"].notna()
    key = np.where(out["value"].isna(), -np.inf, out["value"])
    out = out.assign(_key=key).sort_values(["_key", "force"], ascending=[False, True], kind="mergesort")
    return ChartData(spec, out.drop(columns="_key").reset_index(drop=True), agg, prev_agg)


# --------------------------------------------------------------------------- text

def _window_text(period: str, windows: list[str], article: str = "") -> str:
    """'the 12 months to 30 June 2017', or the part-windows the values cover when they are not 12-month
    values: 'April–June 2017 only: 1 of 4 quarters (the 12 months to 30 June 2017 cannot be computed yet)'."""
    label = lower_first(Period.parse(period).label)
    if windows:
        return f"{'; '.join(windows)} (the {label} cannot be computed yet)"
    return f"{article}{label}"


def _period_text(d: ChartData) -> str:
    return _window_text(d.spec.period, d.windows)


def _comparison_text(d: ChartData) -> str:
    """The comparison period as the diamonds cover it ('the 12 months to ...' or its part-window)."""
    return _window_text(d.spec.comparison, d.prev_windows, "the ")


def _agg_label(row: pd.Series | None, fmt, when: str = "") -> str:
    """'England and Wales (published): 45.5%'; for the comparison line (``when``, e.g. '30 June 2017'),
    'England and Wales 30 June 2017 (dashed): 18.5%', or its part-window in place of the date."""
    if row is None or pd.isna(row["value"]):
        return ""
    words = [] if row["basis"] == "reproduced" else [basis_words(row["basis"])]
    if row["basis"] == "partial_window" and isinstance(row["window"], str):
        words = [row["window"].split(":")[0]]
        if when:
            when, words = words[0], []
    period = f" {when} (dashed)" if when else ""
    extra = f" ({', '.join(words)})" if words else ""
    return f"{row['force']}{period}{extra}: {fmt(row['value'])}"


def title_of(d: ChartData) -> str:
    if d.spec.title:
        return d.spec.title
    rank, of = d.rank
    if rank is not None and of > 1:
        return f"{d.spec.focal} ranks {ordinal(rank)} of {of} forces for {d.mdef.short}"
    if rank is not None:
        return f"{d.spec.focal} against England and Wales for {d.mdef.short}"
    return f"No {d.mdef.short} value for {d.spec.focal} in this period"


def _wrap(lines: list[str]) -> list[str]:
    return [part for line in lines for part in (textwrap.wrap(line, WRAP) or [""])]


def cut_sentence(d: ChartData) -> str:
    """What the cut axis hides, for the note under the chart and the alt text ("" when not cut)."""
    if d.cut is None:
        return ""
    out = d.cut_forces
    names = " and ".join(f"{r.force} ({d.fmt(max(v for v in (r.value, r.prev) if pd.notna(v)))})"
                         for r in out.itertuples())
    rest = d.forces[~d.forces["force"].isin(out["force"])][["value", "prev"]].max(axis=1).max()
    return (f"The value axis is cut at {d.fmt(d.cut)}: {names} is more than {CUT_RATIO:.0f} times the next "
            f"highest force ({d.fmt(rest)}), so its bar runs to the edge, broken, with its value written at the "
            "end; the data keep the true value.")


def note_lines(d: ChartData, source: str) -> list[str]:
    """The interval lines (when drawn), forces without a value grouped by reason, the cut axis if any,
    then the source line."""
    lines = [INTERVAL_NOTE] if d.spec.intervals else []
    for reason, group in d.forces[d.forces["value"].isna()].groupby("reason", sort=False):
        names = list(group["force"])
        who = ", ".join(names) if len(names) <= 8 else f"{len(names)} forces"
        lines.append(f"Not shown: {who}: {reason}.")
    if d.cut is not None:
        lines.append(cut_sentence(d))
    return _wrap(lines + [f"Source: {source}"])


# --------------------------------------------------------------------------- draw

@dataclass
class _Layout:
    height: float
    top_in: float
    bottom_in: float
    subtitle: list[str]
    notes: list[str]


def _layout(d: ChartData, source: str) -> _Layout:
    n = max(int(d.forces["drawn"].sum()), 1)
    what = d.mdef.label if d.mdef.unit.lower() in d.mdef.label.lower() else f"{d.mdef.label} ({d.mdef.unit})"
    sub = f"{what}, by force, England and Wales, {_period_text(d)}"
    if d.spec.comparison:
        sub += f", with {_comparison_text(d)}"
    subtitle, notes = _wrap([sub]), note_lines(d, source)
    legend_in = 0.3 if _legend_handles(d) else 0.0
    top_in = 0.15 + TITLE_IN + LINE_IN * len(subtitle) + legend_in + 0.2 + 0.16 * (1 + bool(d.spec.comparison))
    bottom_in = 0.55 + LINE_IN * len(notes)
    return _Layout(top_in + ROW_IN * n + 0.2 + bottom_in, top_in, bottom_in, subtitle, notes)


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


def draw(d: ChartData, source: str = "") -> tuple[Figure, _Layout]:
    """The bars (and comparison diamonds) on a new figure sized to the number of forces drawn."""
    lay = _layout(d, source)
    fig = Figure(figsize=(WIDTH_IN, lay.height), dpi=DPI)
    fig.patch.set_facecolor("white")
    plot_h = lay.height - lay.top_in - lay.bottom_in
    ax = fig.add_axes((LEFT_IN / WIDTH_IN, lay.bottom_in / lay.height, 1 - (LEFT_IN + 0.45) / WIDTH_IN,
                       plot_h / lay.height))
    _bars(ax, d)
    _axes_style(ax, d)
    return fig, lay


# --------------------------------------------------------------------------- annotate

def _legend_handles(d: ChartData) -> list:
    shown = d.forces[d.forces["value"].notna()]
    handles = []
    for basis in ("reproduced", "published", "supplied", "partial_window"):
        if basis not in set(shown["basis"]) or (basis == "reproduced" and set(shown["basis"]) == {"reproduced"}):
            continue
        style = BAR_STYLE[basis]
        label = "; ".join(d.windows) if basis == "partial_window" else basis_words(basis)
        handles.append(Patch(facecolor="white" if style["hollow"] else OTHER, hatch=style["hatch"],
                             edgecolor="#6F6F6F" if style["hollow"] else "white", label=label))
    prev = d.forces[d.forces["prev"].notna()] if d.spec.comparison else d.forces.iloc[:0]
    if (prev["prev_basis"] != "partial_window").any():
        handles.append(_diamond(False, Period.parse(d.spec.comparison).label.removeprefix("12 months to ")))
    if (prev["prev_basis"] == "partial_window").any():
        handles.append(_diamond(True, "; ".join(d.prev_windows) or basis_words("partial_window")))
    return handles


def _diamond(part: bool, label: str) -> PathCollection:
    """A legend entry drawn exactly as the comparison diamonds are (hatch included)."""
    style = dict(DIAMOND[part])
    marker = MarkerStyle(style.pop("marker"))
    handle = PathCollection([marker.get_path().transformed(marker.get_transform())], sizes=[style.pop("s")],
                            offsets=[(0, 0)], label=label, **style)
    handle.set_transform(IdentityTransform())  # sizes in points, as ``scatter`` draws them
    return handle


def _aggregate_lines(ax, d: ChartData) -> None:
    for row, style, offset, size in ((d.aggregate, "-", 3, 8), (d.previous_aggregate, (0, (3, 2)), 14, 7.5)):
        if row is None or pd.isna(row["value"]):
            continue
        when = "" if style == "-" or not d.spec.comparison else \
            Period.parse(d.spec.comparison).label.removeprefix("12 months to ")
        ax.axvline(float(row["value"]), color=ACCENT, linewidth=1.8 if style == "-" else 1.2, linestyle=style,
                   zorder=3)
        ax.annotate(_agg_label(row, d.fmt, when), xy=(float(row["value"]), -0.5), xytext=(0, offset),
                    textcoords="offset points", ha="center", va="bottom", fontsize=size, color=text_colour(ACCENT),
                    fontweight="bold" if style == "-" else "normal", annotation_clip=False)


def annotate(fig: Figure, d: ChartData, lay: _Layout) -> str:
    """Aggregate lines, title block, legend and notes. Returns the title."""
    _aggregate_lines(fig.axes[0], d)
    left, y = 0.12 / WIDTH_IN, 1 - 0.15 / lay.height
    title = title_of(d)
    fig.text(left, y, title, ha="left", va="top", fontsize=12.5, fontweight="bold", color="black")
    y -= TITLE_IN / lay.height
    for line in lay.subtitle:
        fig.text(left, y, line, ha="left", va="top", fontsize=9, color=TEXT)
        y -= LINE_IN / lay.height
    handles = _legend_handles(d)
    if handles:
        fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(left, y + 0.02 / lay.height), ncol=3,
                   frameon=False, fontsize=8, handlelength=1.6, borderaxespad=0, columnspacing=1.5)
    y = (lay.bottom_in - 0.5) / lay.height
    for line in lay.notes:
        fig.text(left, y, line, ha="left", va="top", fontsize=7.5, color=TEXT)
        y -= LINE_IN / lay.height
    return title


def _value_words(value_text: str, basis: str, window) -> str:
    if value_text == DASH:
        return "no value"
    if basis == "published":
        return f"{value_text} (published value, copied from the report)"
    if basis == "supplied":
        return f"{value_text} (supplied in the user's data return)"
    if basis == "partial_window" and isinstance(window, str):
        return f"{value_text} ({window})"
    return value_text


def alt_text(d: ChartData) -> str:
    """Text alternative: what is drawn, the focal value with its basis and rank, the aggregate."""
    rank, of = d.rank
    what = d.mdef.label if d.mdef.unit.lower() in d.mdef.label.lower() else f"{d.mdef.label} ({d.mdef.unit})"
    parts = [f"Horizontal bar chart of {lower_first(what)} by force, {_period_text(d)}, sorted from highest to "
             f"lowest, with {of} of {len(d.forces)} forces shown."]
    me = d.forces.set_index("force").loc[d.spec.focal]
    if rank is not None:
        parts.append(f"{d.spec.focal}: {_value_words(d.fmt(me['value']), me['basis'], me['window'])}, "
                     f"ranked {rank} of {of} (1 = highest).")
    else:
        parts.append(f"{d.spec.focal}: no value ({me['reason']}).")
    agg = d.aggregate
    if agg is not None and pd.notna(agg["value"]):
        parts.append(f"{agg['force']}: {_value_words(d.fmt(agg['value']), agg['basis'], agg['window'])}.")
    else:
        parts.append("No England and Wales value.")
    if d.spec.comparison:
        parts.append(_comparison_alt(d, me))
    if d.spec.intervals:
        parts.append(f"Lines through the bars show each value's 95% interval"
                     + (f"; {d.spec.focal}'s runs from {d.fmt(me['ci_low'])} to {d.fmt(me['ci_high'])}."
                        if pd.notna(me["ci_low"]) else "."))
    if d.cut is not None:
        parts.append(cut_sentence(d))
    missing = int(d.forces["value"].isna().sum())
    if missing:
        parts.append(f"{missing} {'force has' if missing == 1 else 'forces have'} no value and "
                     f"{'is' if missing == 1 else 'are'} listed under the chart.")
    return " ".join(parts)


def _comparison_alt(d: ChartData, me: pd.Series) -> str:
    """The diamonds in words: the period (or part-window) they cover, the focal force's value and the
    comparison aggregate, each under its own label and with its basis."""
    if d.forces["prev"].isna().all():
        return f"No force has a value for the {lower_first(Period.parse(d.spec.comparison).label)}, so only one " \
               "period is drawn."
    mine = _value_words(d.fmt(me["prev"]), me["prev_basis"], me["prev_window"])
    agg = d.previous_aggregate
    if agg is None or pd.isna(agg["value"]):
        theirs = "no England and Wales value"
    else:
        theirs = f"{agg['force']} {_value_words(d.fmt(agg['value']), agg['basis'], agg['window'])}"
    return f"Diamonds mark {_comparison_text(d)}: {d.spec.focal} {mine}, {theirs}."


def force_bars(rows: pd.DataFrame, spec: ChartSpec, source: str = "") -> Chart:
    """prepare -> draw -> annotate -> alt text."""
    d = prepare(rows, spec)
    fig, lay = draw(d, source)
    title = annotate(fig, d, lay)
    return Chart(fig, alt_text(d), title, d, rows)


# --------------------------------------------------------------------------- lines over time

@dataclass(frozen=True)
class LineSpec:
    """A line chart over time: ``frame`` has columns x (date), series, value, basis; ``focal`` is the
    series drawn in dark blue, "England and Wales" is orange, others take the categorical palette."""

    title: str
    subtitle: str
    unit: str
    focal: str
    marks: tuple[tuple[str, str], ...] = ()       # (ISO date, label): vertical lines, e.g. the report's window
    decimals: int = 1


@dataclass
class LineChart:
    figure: Figure
    alt: str
    title: str
    data: pd.DataFrame
    spec: LineSpec
    rows: pd.DataFrame | None = field(repr=False, default=None)   # the results rows drawn, where given

    png = Chart.png
    svg = Chart.svg
    save = Chart.save
    _repr_mimebundle_ = Chart._repr_mimebundle_

    def drawn_rows(self) -> pd.DataFrame:
        """The results rows drawn (or, for a chart made from a bare frame, that frame)."""
        return self.rows if self.rows is not None else self.data


def _series_colour(name: str, focal: str, others: list[str]) -> str:
    if name == focal:
        return FOCUS
    if name.startswith(ENGLAND_AND_WALES) or name.endswith("forces"):
        return ACCENT
    palette = [c for c in CATEGORICAL if c != ACCENT and (c != FOCUS or not focal)]
    return palette[others.index(name) % len(palette)]


def _end_labels(ax, ends: list[tuple], focal: str, gap_pt: float = 10.0) -> None:
    """Name each line at its last point; labels closer than ``gap_pt`` points are moved apart
    upwards, from the lowest, so that no two overlap. Call once the axis limits are final."""
    to_pt = lambda y: ax.transData.transform((0.0, y))[1] * 72 / ax.figure.dpi  # noqa: E731
    placed: list[float] = []
    for x, y, name, colour in sorted(ends, key=lambda end: end[1]):
        wanted = to_pt(y)
        placed.append(max(wanted, placed[-1] + gap_pt) if placed else wanted)
        ax.annotate(f" {name}", xy=(x, y), xytext=(0, placed[-1] - wanted), textcoords="offset points",
                    fontsize=8, color=text_colour(colour), va="center", ha="left", annotation_clip=False,
                    fontweight="bold" if name == focal else None)


def _draw_lines(ax, frame: pd.DataFrame, spec: LineSpec) -> list[tuple]:
    """Draw the lines and the report-window marks; returns each line's last point (x, y, name,
    colour) for :func:`_end_labels`."""
    ends = []
    names = list(dict.fromkeys(frame["series"]))
    others = [n for n in names if n != spec.focal and not n.startswith(ENGLAND_AND_WALES)]
    for name in names:
        part = frame[frame["series"] == name].sort_values("x")
        colour = _series_colour(name, spec.focal, others)
        ax.plot(part["x"], part["value"], color=colour, linewidth=2.2 if name == spec.focal else 1.6,
                linestyle="-" if name in (spec.focal,) or not name.startswith(ENGLAND_AND_WALES) else (0, (4, 2)),
                marker="o" if len(part) <= 12 else None, markersize=3.5)
        last = part.dropna(subset=["value"]).tail(1)
        if len(last):
            ends.append((last["x"].iloc[0], float(last["value"].iloc[0]), name, colour))
    ticks = frame.drop_duplicates("x").sort_values("x")
    if len(ticks) <= 12 and ticks["label"].astype(str).str.len().max() <= 12:   # a few quarters: name them
        ax.set_xticks(list(ticks["x"]), [str(v) for v in ticks["label"]])
    for iso, label in spec.marks:
        ax.axvline(pd.Timestamp(iso), color=TEXT, linewidth=0.8, linestyle=":")
        ax.annotate(label, xy=(pd.Timestamp(iso), 1.0), xycoords=("data", "axes fraction"), xytext=(2, -2),
                    textcoords="offset points", fontsize=7, color=TEXT, va="top", rotation=90)
    return ends


def _line_alt(frame: pd.DataFrame, spec: LineSpec) -> str:
    parts = [f"Line chart: {lower_first(spec.subtitle)}."]
    for name in dict.fromkeys(frame["series"]):
        part = frame[(frame["series"] == name) & frame["value"].notna()].sort_values("x")
        if part.empty:
            parts.append(f"{name}: no values.")
            continue
        first, last = part.iloc[0], part.iloc[-1]
        fmt = lambda v: format_value(v, spec.unit, spec.decimals)  # noqa: E731
        change = (last["value"] - first["value"]) / abs(first["value"]) * 100 if first["value"] else float("nan")
        trend = "no change" if abs(change) < 0.5 else f"{'up' if change > 0 else 'down'} {abs(change):.0f}%"
        parts.append(f"{name}: {fmt(first['value'])} ({first['label']}) to {fmt(last['value'])} ({last['label']}), "
                     f"{trend}.")
    return " ".join(parts)


def lines(frame: pd.DataFrame, spec: LineSpec, source: str = "", notes: list[str] | None = None,
          rows: pd.DataFrame | None = None) -> LineChart:
    """A line per series over time, in the house style, with direct labels and alt text stating the
    first and last value of each series and the change between them."""
    note_lines = _wrap(list(notes or []) + [f"Source: {source}"])
    subtitle = _wrap([spec.subtitle])
    height = 0.15 + TITLE_IN + LINE_IN * len(subtitle) + 0.2 + 3.4 + 0.55 + LINE_IN * len(note_lines)
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    fig.patch.set_facecolor("white")
    bottom = (0.55 + LINE_IN * len(note_lines)) / height
    ax = fig.add_axes((0.8 / WIDTH_IN, bottom, 1 - 2.6 / WIDTH_IN, 3.4 / height))
    ends = _draw_lines(ax, frame, spec)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.grid(axis="x", visible=False)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8, colors=TEXT)
    ax.set_ylabel(spec.unit[0].upper() + spec.unit[1:], fontsize=8, color=TEXT)
    ax.set_ylim(bottom=min(0.0, float(frame["value"].min())) if frame["value"].notna().any() else 0.0)
    _end_labels(ax, ends, spec.focal)
    y = 1 - 0.15 / height
    fig.text(0.12 / WIDTH_IN, y, spec.title, ha="left", va="top", fontsize=12.5, fontweight="bold")
    for i, line in enumerate(subtitle):
        fig.text(0.12 / WIDTH_IN, y - (TITLE_IN + LINE_IN * i) / height, line, ha="left", va="top", fontsize=9,
                 color=TEXT)
    for i, line in enumerate(note_lines):
        fig.text(0.12 / WIDTH_IN, (0.05 + LINE_IN * (len(note_lines) - i)) / height, line, ha="left", va="top",
                 fontsize=7.5, color=TEXT)
    return LineChart(fig, _line_alt(frame, spec), spec.title, frame, spec, rows)


# --------------------------------------------------------------------------- funnel plot

@dataclass(frozen=True)
class FunnelSpec:
    """A funnel plot: every force's value against its denominator for one measure and period, with
    the 95% and 99.8% limits around England and Wales, widened for over-dispersion."""

    measure: str
    period: str
    focal: str
    title: str | None = None


@dataclass
class FunnelChart:
    """A drawn funnel plot with its data (``.data``: the :class:`~peel_helpers.measures.funnel.Funnel`)."""

    figure: Figure
    alt: str
    title: str
    data: object
    spec: FunnelSpec
    rows: pd.DataFrame = field(repr=False, default=None)
    source: str = ""

    png = Chart.png
    svg = Chart.svg
    save = Chart.save
    _repr_mimebundle_ = Chart._repr_mimebundle_

    def drawn_rows(self) -> pd.DataFrame:
        """The results rows plotted: each force with a value, and England and Wales (the centre line)."""
        rows = self.rows[(self.rows["measure"] == self.spec.measure) & (self.rows["period_end"] == self.spec.period)]
        return rows[rows["value"].notna()].reset_index(drop=True)

    def redraw(self, **changes) -> "FunnelChart":
        """The same funnel with parts of the spec changed (e.g. ``focal="Kent"``)."""
        return funnel_plot(self.rows, replace(self.spec, **changes), self.source)


def denominator_label(mdef) -> str:
    """What a measure's denominator counts, for the funnel's x-axis."""
    if mdef.uses_population:
        return "Population (ONS mid-year estimate)"
    if mdef.unit == "% change":
        return "Offences recorded in the previous 12 months"
    if mdef.source == "data_return":
        return f"Base: {mdef.denominator.replace('_', ' ')}"
    return "Offences recorded in the window"


def _funnel_title(f, focal: str) -> str:
    row = f.forces.set_index("force").loc[focal]
    short = f.mdef.short
    if row["vs_ew"] in ("above", "below"):
        return f"{focal} is {row['vs_ew']} the expected spread for {short}"
    if row["vs_ew"] == "within":
        return f"{focal} is within the expected spread for {short}"
    return f"{focal}: {short} not compared with England and Wales"


def _funnel_notes(f, source: str) -> list[str]:
    """The method (with tau²), the forces outside the 99.8% limits, forces not compared, the source."""
    out = f.outside()
    named = ", ".join(f"{r.force} ({r.vs_ew})" for r in out.itertuples()) or "none"
    lines = [f"Method: {f.fit['method']}.", f"Outside the 99.8% limits: {named}. Without the adjustment "
             f"{len(f.outside(adjusted=False))} of {len(f.compared)} forces would be outside them."]
    left = f.forces[f.forces["vs_ew"] == "not_compared"]
    for reason, group in left.groupby("vs_ew_method", sort=False):
        names = list(group["force"])
        lines.append(f"Not compared: {', '.join(names) if len(names) <= 8 else f'{len(names)} forces'}: {reason}.")
    return _wrap(lines + [f"Source: {source}"])


def _funnel_limits(ax, f, xs) -> list:
    handles = []
    for level, style, width in ((0.998, "-", 1.3), (0.95, (0, (4, 2)), 1.0)):
        low, high = f.limits(xs, level)
        ax.plot(xs, low, color=TEXT, linestyle=style, linewidth=width)
        ax.plot(xs, high, color=TEXT, linestyle=style, linewidth=width)
        handles.append(Line2D([], [], color=TEXT, linestyle=style, linewidth=width,
                              label=f"{level:.1%}".replace(".0%", "%") + " limits, adjusted"))
    low, high = f.limits(xs, 0.998, adjusted=False)
    ax.plot(xs, low, color="#8C8C8C", linestyle=":", linewidth=1.0)
    ax.plot(xs, high, color="#8C8C8C", linestyle=":", linewidth=1.0)
    handles.append(Line2D([], [], color="#8C8C8C", linestyle=":", label="99.8% limits of chance alone"))
    return handles


def _funnel_points(ax, f, focal: str) -> list:
    shown = f.compared
    outside = set(f.outside()["force"])
    handles = []
    for basis, marker in (("reproduced", "o"), ("supplied", "s"), ("partial_window", "X")):
        part = shown[shown["basis"] == basis]
        if part.empty:
            continue
        colours = [FOCUS if n == focal else (TEXT if n in outside else OTHER) for n in part["force"]]
        ax.scatter(part["denominator"].astype(float), part["value"].astype(float), c=colours, marker=marker,
                   s=[70 if n == focal else 28 for n in part["force"]], edgecolors="white", linewidths=0.6, zorder=4)
        label = (f"Value over {'; '.join(sorted(set(part['window'].dropna())))}" if basis == "partial_window" else
                 f"{basis_words(basis)[:1].upper() + basis_words(basis)[1:]} value")
        handles.append(Line2D([], [], marker=marker, linestyle="none", color=OTHER, markeredgecolor=TEXT, label=label))
    for r in shown.itertuples():
        if r.force == focal or r.force in outside:
            ax.annotate(r.force, xy=(float(r.denominator), float(r.value)), xytext=(6, 0), textcoords="offset points",
                        fontsize=7.5, va="center", color=FOCUS if r.force == focal else TEXT,
                        fontweight="bold" if r.force == focal else None)
    return handles


def _funnel_axes(ax, f, xs) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    values = np.concatenate([f.compared["value"].to_numpy(float), [float(f.fit["target"])]])
    low, high = f.limits(xs, 0.998)
    span_lo, span_hi = min(values.min(), np.nanmin(low)), max(values.max(), np.nanmax(high))
    pad = (span_hi - span_lo) * 0.06
    ax.set_ylim(span_lo - pad, span_hi + pad)
    ax.set_xlim(xs[0], xs[-1])
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.grid(axis="x", visible=False)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8, colors=TEXT)
    ax.set_xlabel(denominator_label(f.mdef) + " (log scale)", fontsize=8, color=TEXT)
    ax.set_ylabel(f.mdef.unit[0].upper() + f.mdef.unit[1:], fontsize=8, color=TEXT)


def funnel_alt(f, focal: str) -> str:
    """Text alternative: what is drawn, the focal force's value, interval and verdict, who is outside."""
    me = f.forces.set_index("force").loc[focal]
    what = f"{lower_first(f.mdef.label)} against {lower_first(denominator_label(f.mdef))}"
    parts = [f"Funnel plot of {what} for {len(f.compared)} forces, {_funnel_when(f)}, with 95% and 99.8% limits "
             f"around England and Wales ({_fmt(f, f.fit['target'])}) widened for the spread between forces "
             f"(tau² = {f.fit['tau2']:.3g})."]
    if me["vs_ew"] in ("above", "below", "within"):
        parts.append(f"{focal}: {_value_words(_fmt(f, me['value']), me['basis'], me['window'])}, 95% interval "
                     f"{_fmt(f, me['ci_low'])} to {_fmt(f, me['ci_high'])}, {me['vs_ew']} the 99.8% limits.")
    else:
        parts.append(f"{focal}: not compared ({me['vs_ew_method']}).")
    out = f.outside()
    parts.append("Outside the 99.8% limits: " + (", ".join(f"{r.force} ({r.vs_ew})" for r in out.itertuples())
                                                  or "no force") + ".")
    parts.append(f"Without the adjustment {len(f.outside(adjusted=False))} forces would be outside them.")
    left = int((f.forces["vs_ew"] == "not_compared").sum())
    if left:
        parts.append(f"{left} {'force is' if left == 1 else 'forces are'} not compared and listed under the chart.")
    return " ".join(parts)


def _fmt(f, value) -> str:
    return format_value(value, f.mdef.unit, f.mdef.decimals, f.mdef.signed)


def _funnel_when(f) -> str:
    label = lower_first(Period.parse(f.period).label)
    if f.fit is not None and f.fit["target_basis"] == "partial_window":
        return f"{f.fit['target_window']} (the {label} cannot be computed yet)"
    return label


def funnel_plot(rows: pd.DataFrame, spec: FunnelSpec, source: str = "") -> FunnelChart:
    """The funnel plot of ``rows`` (results rows of one measure and period) with ``spec.focal`` marked."""
    from ..measures.funnel import funnel

    spec = replace(spec, focal=resolve(spec.focal).name, period=Period.parse(spec.period).iso)
    f = funnel(rows[(rows["measure"] == spec.measure) & (rows["period_end"] == spec.period)])
    if f.fit is None:
        raise ValueError(f"nothing to compare for {spec.measure} in {spec.period}: no funnel to draw")
    title = spec.title or _funnel_title(f, spec.focal)
    what = f.mdef.label if f.mdef.unit.lower() in f.mdef.label.lower() else f"{f.mdef.label} ({f.mdef.unit})"
    subtitle = _wrap([f"{what}, by force, {_funnel_when(f)}: each force against England and Wales, with the "
                      "limits chance and the usual spread between forces allow"])
    notes = _funnel_notes(f, source)
    top_in, plot_in, bottom_in = 0.15 + TITLE_IN + LINE_IN * len(subtitle) + 0.55, 4.2, 0.75 + LINE_IN * len(notes)
    height = top_in + plot_in + bottom_in
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    fig.patch.set_facecolor("white")
    ax = fig.add_axes((0.8 / WIDTH_IN, bottom_in / height, 1 - 1.6 / WIDTH_IN, plot_in / height))
    dens = f.compared["denominator"].to_numpy(float)
    xs = np.geomspace(dens.min() / 1.6, dens.max() * 1.6, 240)
    ax.axhline(float(f.fit["target"]), color=ACCENT, linewidth=1.6, zorder=3)
    ax.annotate(f"England and Wales: {_fmt(f, f.fit['target'])}", xy=(0.0, float(f.fit["target"])),
                xycoords=("axes fraction", "data"), xytext=(3, 3), textcoords="offset points", fontsize=8,
                color=text_colour(ACCENT), fontweight="bold", va="bottom", ha="left")
    handles = _funnel_limits(ax, f, xs) + _funnel_points(ax, f, spec.focal)
    _funnel_axes(ax, f, xs)
    left, y = 0.12 / WIDTH_IN, 1 - 0.15 / height
    fig.text(left, y, title, ha="left", va="top", fontsize=12.5, fontweight="bold")
    for i, line in enumerate(subtitle):
        fig.text(left, y - (TITLE_IN + LINE_IN * i) / height, line, ha="left", va="top", fontsize=9, color=TEXT)
    fig.legend(handles=handles, loc="upper left", ncol=3, frameon=False, fontsize=7.5, borderaxespad=0,
               bbox_to_anchor=(left, y - (TITLE_IN + LINE_IN * len(subtitle) + 0.05) / height))
    for i, line in enumerate(notes):
        fig.text(left, (0.05 + LINE_IN * (len(notes) - i)) / height, line, ha="left", va="top", fontsize=7.5,
                 color=TEXT)
    return FunnelChart(fig, funnel_alt(f, spec.focal), title, f, spec, rows, source)
