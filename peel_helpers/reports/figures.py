"""One chart style for every by-force figure, after the Analysis Function guidance.

:func:`force_bars` draws the report's by-force chart: one horizontal bar per force,
sorted by value, the focal force in dark blue and every other force in grey, and the
England and Wales value as a labelled orange line. With ``previous=`` it becomes the
two-year variant: the earlier 12 months are drawn as hollow diamonds on the same rows,
so the two years differ in shape as well as colour, and a legend names both.

Forces without a value are never drawn as zero: they are listed, with the reason, in a
note under the chart. Every chart carries alt text stating the focal force's value, its
rank and the England and Wales value; :meth:`Chart.show` puts that text into the PNG's
output metadata, where the HTML export turns it into ``<img alt>``.

Figures are plain :class:`matplotlib.figure.Figure` objects rendered with Agg, so nothing
depends on pyplot's global state or on the notebook's display backend.
"""

from __future__ import annotations

import base64
import io
import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..core.text import format_value

FOCUS = "#12436D"
OTHER = "#BFBFBF"
ACCENT = "#F46A25"
TEXT = "#3D3D3D"
GRID = "#D9D9D9"
CATEGORICAL = ("#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1")

FONT = "DejaVu Sans"
DPI = 100
WIDTH_IN = 8.0
ROW_IN = 0.2            # height of one force row
LEFT_IN = 1.75          # room for the longest force name
TITLE_IN = 0.42
LINE_IN = 0.2           # one line of subtitle or note text
WRAP = 118              # characters per note line at 8pt over the figure width


@dataclass
class Chart:
    """A rendered figure and its text alternative."""

    figure: Figure
    alt: str
    title: str
    rank: int | None = None
    of: int = 0

    def png(self) -> bytes:
        buf = io.BytesIO()
        FigureCanvasAgg(self.figure)
        self.figure.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
        return buf.getvalue()

    def show(self) -> None:
        """Display as a PNG with the alt text in the output metadata."""
        from IPython.display import display

        data = base64.b64encode(self.png()).decode("ascii")
        display({"image/png": data, "text/plain": self.alt}, raw=True,
                metadata={"image/png": {"alt": self.alt}})

    def _repr_mimebundle_(self, include=None, exclude=None):
        data = base64.b64encode(self.png()).decode("ascii")
        return {"image/png": data, "text/plain": self.alt}, {"image/png": {"alt": self.alt}}


# --------------------------------------------------------------------------- text helpers

def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"




def _values(frame: pd.DataFrame) -> pd.DataFrame:
    """force, value (float64 with NaN), reason: plain types, whatever dtypes came in."""
    out = pd.DataFrame({
        "force": [str(f) for f in frame["force"]],
        "value": pd.to_numeric(frame["value"], errors="coerce").astype("Float64").to_numpy(dtype="float64", na_value=np.nan),
    })
    reasons = frame["reason"] if "reason" in frame else pd.Series([None] * len(frame))
    out["reason"] = [str(r) if isinstance(r, str) and r else "no value" for r in reasons]
    return out


def _missing_lines(frame: pd.DataFrame, what: str) -> list[str]:
    """'Not shown (reason): A, B.' lines, grouped by reason; long lists become counts."""
    missing = frame[np.isnan(frame["value"].to_numpy())]
    lines = []
    for reason, group in missing.groupby("reason", sort=False):
        names = list(group["force"])
        who = ", ".join(names) if len(names) <= 8 else f"{len(names)} forces"
        lines.append(f"{what} {who}: {reason}.")
    return lines


def _wrap(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        out.extend(textwrap.wrap(line, WRAP) or [""])
    return out


def rank_of(frame: pd.DataFrame, force: str) -> tuple[int | None, int]:
    """Rank of ``force`` (1 = highest value) among forces with a value, and how many have one."""
    have = frame[~np.isnan(frame["value"].to_numpy())]
    if force not in set(have["force"]):
        return None, len(have)
    ordered = have.sort_values("value", ascending=False, kind="mergesort")["force"].tolist()
    return ordered.index(force) + 1, len(have)


# --------------------------------------------------------------------------- the chart

def force_bars(
    values: pd.DataFrame,
    *,
    focal: str,
    measure: str,
    unit: str,
    period_label: str,
    source: str,
    short: str,
    ew: float | None = None,
    previous: pd.DataFrame | None = None,
    previous_label: str | None = None,
    ew_previous: float | None = None,
    notes: list[str] | tuple[str, ...] = (),
    decimals: int = 1,
) -> Chart:
    """Horizontal bars for every force with a value, sorted high to low.

    ``values`` (and ``previous``) have columns force, value and optionally reason, as
    :func:`peel_helpers.measures.by_force` returns them. ``short`` names the measure in
    a few words for the title ("action taken", "domestic abuse arrests").
    """
    import seaborn as sns  # imported here so that `import peel_helpers.reports.figures` stays cheap

    cur = _values(values)
    prev = _values(previous) if previous is not None else None
    if prev is not None:
        cur = cur.merge(prev[["force", "value"]].rename(columns={"value": "prev"}), on="force", how="left")
    else:
        cur["prev"] = np.nan

    has_cur = ~np.isnan(cur["value"].to_numpy())
    has_prev = ~np.isnan(cur["prev"].to_numpy())
    drawn = cur[has_cur | has_prev].copy()
    # sorted by this period's value; forces with only the earlier value go last
    drawn["_key"] = np.where(np.isnan(drawn["value"]), -np.inf, drawn["value"])
    drawn = drawn.sort_values(["_key", "force"], ascending=[False, True], kind="mergesort").reset_index(drop=True)
    names = drawn["force"].tolist()
    rank, of = rank_of(cur, focal)
    two_year = prev is not None

    # ---- text
    this_year = period_label.removeprefix("12 months to ")
    focal_value = format_value(_lookup(cur, focal, "value"), unit, decimals)
    ew_text = format_value(ew, unit, decimals)
    if rank is not None and of > 1:
        title = f"{focal} ranks {ordinal(rank)} of {of} forces for {short}"
    elif rank is not None:
        title = f"{focal} against England and Wales for {short}"
    else:
        title = f"No {short} value for {focal} in this period"
    what = measure if unit.lower() in measure.lower() else f"{measure} ({unit})"
    subtitle = [f"{what}, by force, England and Wales, {_lower_first(period_label)}"]
    if two_year and previous_label:
        subtitle[0] = f"{what}, by force, England and Wales, {_lower_first(period_label)} and {_lower_first(previous_label)}"
    subtitle = _wrap(subtitle)
    note_lines = _missing_lines(cur, "Not shown:" if not two_year else f"No value for {this_year}:")
    if two_year:
        only_prev = cur[has_cur & ~has_prev]
        if len(only_prev):
            note_lines += _missing_lines(
                prev[prev["force"].isin(only_prev["force"])], f"No value for {(previous_label or '').removeprefix('12 months to ')}:")
    note_lines = _wrap(list(notes) + note_lines + [f"Source: {source}"])

    # ---- geometry (inches)
    n = max(len(names), 1)
    legend_in = 0.3 if two_year else 0.0
    ew_rows = 2 if two_year and ew_previous is not None and not pd.isna(ew_previous) else 1
    top_in = 0.15 + TITLE_IN + LINE_IN * len(subtitle) + legend_in + 0.2 + 0.16 * ew_rows
    bottom_in = 0.55 + LINE_IN * len(note_lines)
    plot_in = ROW_IN * n + 0.2
    height = top_in + plot_in + bottom_in
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    fig.patch.set_facecolor("white")
    ax = fig.add_axes((LEFT_IN / WIDTH_IN, bottom_in / height, 1 - (LEFT_IN + 0.45) / WIDTH_IN, plot_in / height))

    if len(names):
        x = drawn["value"].to_numpy(dtype="float64")
        colours = {name: (FOCUS if name == focal else OTHER) for name in names}
        bar_x = np.where(np.isnan(x), 0.0, x)
        sns.barplot(x=bar_x, y=np.array(names, dtype=object), hue=np.array(names, dtype=object), order=names,
                    hue_order=names, palette=colours, saturation=1, legend=False, orient="h", ax=ax,
                    width=0.72 if not two_year else 0.62, linewidth=0, dodge=False)
        for i, value in enumerate(x):
            if np.isnan(value):
                ax.patches[i].set_visible(False) if i < len(ax.patches) else None
        if two_year:
            px = drawn["prev"].to_numpy(dtype="float64")
            ok = ~np.isnan(px)
            ax.scatter(px[ok], np.arange(len(names))[ok], marker="D", s=20, facecolor="white",
                       edgecolor=TEXT, linewidth=1.1, zorder=4)
        if focal in names:
            i = names.index(focal)
            if not np.isnan(x[i]):
                ax.text(x[i], i, f" {format_value(x[i], unit, decimals)}", va="center", ha="left",
                        fontsize=8, color=FOCUS, fontweight="bold", zorder=5)
    ax.set_ylim(n - 0.5, -0.5)

    # ---- England and Wales lines
    top = -0.5
    if ew is not None and not pd.isna(ew):
        ax.axvline(ew, color=ACCENT, linewidth=1.8, zorder=3)
        label = f"England and Wales {this_year}: {ew_text}" if ew_rows == 2 else f"England and Wales {ew_text}"
        ax.annotate(label, xy=(ew, top), xytext=(0, 3), textcoords="offset points",
                    ha="center", va="bottom", fontsize=8, color=ACCENT, fontweight="bold", annotation_clip=False)
    if two_year and ew_previous is not None and not pd.isna(ew_previous):
        ax.axvline(ew_previous, color=ACCENT, linewidth=1.2, linestyle=(0, (3, 2)), zorder=3)
        ax.annotate(f"England and Wales {(previous_label or '').removeprefix('12 months to ')}: "
                    f"{format_value(ew_previous, unit, decimals)} (dashed)", xy=(ew_previous, top), xytext=(0, 14),
                    textcoords="offset points", ha="center", va="bottom", fontsize=7.5, color=ACCENT,
                    annotation_clip=False)

    # ---- axes style: value gridlines only, no spines but the baseline
    finite = np.concatenate([drawn["value"].to_numpy(dtype="float64"), drawn["prev"].to_numpy(dtype="float64"),
                             np.array([v for v in (ew, ew_previous) if v is not None and not pd.isna(v)], dtype="float64")])
    finite = finite[~np.isnan(finite)]
    hi = float(finite.max()) if finite.size else 1.0
    lo = min(0.0, float(finite.min())) if finite.size else 0.0
    ax.set_xlim(lo * 1.08, hi * 1.12 if hi > 0 else 1.0)
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    ax.grid(axis="y", visible=False)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(TEXT)
    ax.tick_params(axis="y", length=0, labelsize=7.5, colors=TEXT)
    ax.tick_params(axis="x", labelsize=8, colors=TEXT)
    ax.set_ylabel("")
    ax.set_xlabel(unit[0].upper() + unit[1:], fontsize=8, color=TEXT)
    for label in ax.get_yticklabels():
        if label.get_text() == focal:
            label.set_fontweight("bold")
            label.set_color(FOCUS)
    if not len(names):
        ax.set_yticks([])
        ax.text(0.5, 0.5, "No force has a value for this period", transform=ax.transAxes, ha="center",
                va="center", fontsize=9, color=TEXT)

    # ---- title block (left-aligned at the figure edge) and notes
    left = 0.12 / WIDTH_IN
    y = 1 - 0.15 / height
    fig.text(left, y, title, ha="left", va="top", fontsize=12.5, fontweight="bold", color="black")
    y -= TITLE_IN / height
    for line in subtitle:
        fig.text(left, y, line, ha="left", va="top", fontsize=9, color=TEXT)
        y -= LINE_IN / height
    if two_year:
        handles = [Patch(facecolor=FOCUS, label=f"{this_year} ({focal})"),
                   Patch(facecolor=OTHER, label=f"{this_year} (other forces)")]
        if has_prev.any():
            handles.append(Line2D([], [], marker="D", linestyle="none", markerfacecolor="white", markeredgecolor=TEXT,
                                  label=(previous_label or "previous 12 months").removeprefix("12 months to ")))
        fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(left, y + 0.02 / height), ncol=3,
                   frameon=False, fontsize=8, handlelength=1.2, borderaxespad=0, columnspacing=1.5)
    y = (0.55 + LINE_IN * len(note_lines) - 0.5) / height
    for line in note_lines:
        fig.text(left, y, line, ha="left", va="top", fontsize=7.5, color=TEXT)
        y -= LINE_IN / height

    # ---- alt text
    alt = _alt_text(focal, short, measure, unit, period_label, focal_value, rank, of, ew_text, cur, two_year,
                    previous_label, ew_previous, decimals)
    return Chart(fig, alt, title, rank, of)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _lookup(frame: pd.DataFrame, force: str, column: str) -> float | None:
    row = frame[frame["force"] == force]
    if row.empty or np.isnan(row[column].iloc[0]):
        return None
    return float(row[column].iloc[0])


def _alt_text(focal, short, measure, unit, period_label, focal_value, rank, of, ew_text, cur, two_year,
              previous_label, ew_previous, decimals) -> str:
    what = measure if unit.lower() in measure.lower() else f"{measure} ({unit})"
    parts = [f"Horizontal bar chart of {_lower_first(what)} by force, {_lower_first(period_label)}, "
             f"sorted from highest to lowest, with {of} of {len(cur)} forces shown."]
    if rank is not None:
        parts.append(f"{focal}: {focal_value}, ranked {rank} of {of} (1 = highest).")
    else:
        reason = cur.loc[cur["force"] == focal, "reason"]
        parts.append(f"{focal}: no value ({reason.iloc[0] if len(reason) else 'not in the data'}).")
    parts.append(f"England and Wales: {ew_text}.")
    if two_year:
        prev_value = _lookup(cur, focal, "prev")
        when = _lower_first(previous_label or "previous 12 months")
        if np.isnan(cur["prev"].to_numpy()).all():
            parts.append(f"No force has a value for the {when}, so only one period is drawn.")
        else:
            parts.append(f"Diamonds mark the {when}: {focal} {format_value(prev_value, unit, decimals)}, "
                         f"England and Wales {format_value(ew_previous, unit, decimals)}.")
    missing = int(np.isnan(cur["value"].to_numpy()).sum())
    if missing:
        parts.append(f"{missing} {'force has' if missing == 1 else 'forces have'} no value for "
                     f"{_lower_first(period_label)} and {'is' if missing == 1 else 'are'} listed under the chart.")
    return " ".join(parts)
