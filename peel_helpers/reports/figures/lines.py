"""Lines over time in the house style: the focal series dark blue, England and Wales orange, others
from the categorical palette, each line named at its last point, and alt text giving each series'
first and last value and the change between them."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure

from ...core.text import ENGLAND_AND_WALES, format_value, lower_first
from .base import BaseChart
from .style import ACCENT, CATEGORICAL, DPI, FOCUS, GRID, LINE_IN, TEXT, TITLE_IN, WIDTH_IN, text_colour, wrap


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
    caveats: tuple[str, ...] = ()                 # said under the chart and in its alt text (a rate per resident)


@dataclass
class LineChart(BaseChart):
    """A drawn line chart (``.data``: the frame drawn; ``.spec``: its :class:`LineSpec`; ``.notes``: the
    lines under it, before the source)."""

    notes: tuple[str, ...] = ()

    def drawn_rows(self) -> pd.DataFrame:
        """The results rows drawn (or, for a chart made from a bare frame, that frame)."""
        return self.rows if self.rows is not None else self.data

    @property
    def caption(self) -> str:
        return self.spec.subtitle

    def _draw(self, spec: LineSpec) -> "LineChart":
        return lines(self.data, spec, self.source, list(self.notes), self.rows)


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
    note_lines = wrap(list(notes or []) + list(spec.caveats) + [f"Source: {source}"])
    subtitle = wrap([spec.subtitle])
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
    alt = " ".join([_line_alt(frame, spec), *spec.caveats])
    return LineChart(fig, alt, spec.title, frame, spec, rows, source, tuple(notes or ()))


