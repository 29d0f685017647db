"""The funnel plot: every force's value against its base for one measure and period, with the 95% and
99.8% limits around England and Wales of chance alone and of the usual spread between forces
(:mod:`peel_helpers.measures.funnel`), the focal force marked and described in words
(:mod:`peel_helpers.measures.verdicts`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ...core.forces import resolve
from ...core.periods import Period
from ...core.text import ENGLAND_AND_WALES, basis_words, format_value, lower_first
from ...measures import verdicts
from ...measures.funnel import PER_HEAD_LEFT_OUT, funnel
from .base import BaseChart
from .style import ACCENT, DPI, FOCUS, GRID, LINE_IN, OTHER, TEXT, TITLE_IN, WIDTH_IN, text_colour, wrap


@dataclass(frozen=True)
class FunnelSpec:
    """A funnel plot: every force's value against its denominator for one measure and period, with
    the 95% and 99.8% limits around England and Wales, widened for over-dispersion."""

    measure: str
    period: str
    focal: str
    title: str | None = None


@dataclass
class FunnelChart(BaseChart):
    """A drawn funnel plot with its data (``.data``: the :class:`~peel_helpers.measures.funnel.Funnel`)."""

    def drawn_rows(self) -> pd.DataFrame:
        """The results rows plotted: each force with a value, and England and Wales (the centre line)."""
        rows = self.rows[(self.rows["measure"] == self.spec.measure) & (self.rows["period_end"] == self.spec.period)]
        return rows[rows["value"].notna()].reset_index(drop=True)

    @property
    def caption(self) -> str:
        return f"{funnel_what(self.data)}, by force, {_funnel_when(self.data)}: each force against England and Wales"

    def _draw(self, spec: FunnelSpec) -> "FunnelChart":
        return funnel_plot(self.rows, spec, self.source)


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
    if row["vs_ew"] in ("above", "below", "within"):
        return f"{focal} is {row['vs_ew']} the usual spread between forces for {short}"
    return f"{focal}: {short} not compared with England and Wales"


def _sentence(f, focal: str) -> str:
    return verdicts.sentence(f.forces.set_index("force").loc[focal].rename(None).to_dict() | {"force": focal},
                             f.forces)


def _funnel_notes(f, focal: str, source: str) -> list[str]:
    """The focal force in words, the method (with tau²), the forces outside the 99.8% limits, forces
    not compared, the source."""
    out = f.outside()
    named = ", ".join(f"{r.force} ({r.vs_ew})" for r in out.itertuples()) or "none"
    lines = [_sentence(f, focal), f"Method: {f.fit['method']}.",
             f"Outside the 99.8% limits of the usual spread between forces: {named}. Outside the 99.8% limits of "
             f"chance alone: {len(f.outside(adjusted=False))} of {len(f.compared)} forces."]
    left = f.forces[f.forces["vs_ew"] == "not_compared"]
    for reason, group in left.groupby("vs_ew_method", sort=False):
        names = list(group["force"])
        lines.append(f"Not compared: {', '.join(names) if len(names) <= 8 else f'{len(names)} forces'}: {reason}.")
    return wrap(lines + [f"Source: {source}"])


def _funnel_limits(ax, f, xs) -> list:
    handles = []
    for level, style, width in ((0.998, "-", 1.3), (0.95, (0, (4, 2)), 1.0)):
        low, high = f.limits(xs, level)
        ax.plot(xs, low, color=TEXT, linestyle=style, linewidth=width)
        ax.plot(xs, high, color=TEXT, linestyle=style, linewidth=width)
        handles.append(Line2D([], [], color=TEXT, linestyle=style, linewidth=width,
                              label=f"{level:.1%}".replace(".0%", "%") + ": usual spread between forces"))
    low, high = f.limits(xs, 0.998, adjusted=False)
    ax.plot(xs, low, color="#8C8C8C", linestyle=":", linewidth=1.0)
    ax.plot(xs, high, color="#8C8C8C", linestyle=":", linewidth=1.0)
    handles.append(Line2D([], [], color="#8C8C8C", linestyle=":", label="99.8%: chance alone"))
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
    """Text alternative: what is drawn, the focal force in words (value, rank, both verdicts and the
    limits), its 95% interval, who is outside."""
    me = f.forces.set_index("force").loc[focal]
    what = f"{lower_first(f.mdef.label)} against {lower_first(denominator_label(f.mdef))}"
    parts = [f"Funnel plot of {what} for {len(f.compared)} forces, {_funnel_when(f)}, with 95% and 99.8% limits "
             f"around {_centre_label(f)}: those of chance alone, and those widened by the usual spread between "
             f"forces (τ² = {f.fit['tau2']:.4g}).", _sentence(f, focal)]
    if pd.notna(me["ci_low"]):
        parts.append(f"{focal}'s 95% interval: {_fmt(f, me['ci_low'])} to {_fmt(f, me['ci_high'])}.")
    out = f.outside()
    parts.append("Outside the 99.8% limits of the usual spread between forces: "
                 + (", ".join(f"{r.force} ({r.vs_ew})" for r in out.itertuples()) or "no force") + ".")
    parts.append(f"Outside the 99.8% limits of chance alone: {len(f.outside(adjusted=False))} forces.")
    left = int((f.forces["vs_ew"] == "not_compared").sum())
    if left:
        parts.append(f"{left} {'force is' if left == 1 else 'forces are'} not compared and listed under the chart.")
    return " ".join(parts)


def _centre_label(f) -> str:
    """'England and Wales (14.8%)', or 'England and Wales without the City of London (81.9)'."""
    if f.fit["target_less"]:
        return f"{ENGLAND_AND_WALES} without the {' and '.join(PER_HEAD_LEFT_OUT)} ({_fmt(f, f.fit['target'])})"
    return f"{ENGLAND_AND_WALES} ({_fmt(f, f.fit['target'])})"


def _fmt(f, value) -> str:
    return format_value(value, f.mdef.unit, f.mdef.decimals, f.mdef.signed)


def _funnel_when(f) -> str:
    label = lower_first(Period.parse(f.period).label)
    if f.fit is not None and f.fit["target_basis"] == "partial_window":
        return f"{f.fit['target_window']} (the {label} cannot be computed yet)"
    return label


def funnel_what(f) -> str:
    """'Investigations where action was taken (% of offences recorded)': the measure and its unit."""
    return f.mdef.label if f.mdef.unit.lower() in f.mdef.label.lower() else f"{f.mdef.label} ({f.mdef.unit})"


def funnel_plot(rows: pd.DataFrame, spec: FunnelSpec, source: str = "") -> FunnelChart:
    """The funnel plot of ``rows`` (results rows of one measure and period) with ``spec.focal`` marked."""
    spec = replace(spec, focal=resolve(spec.focal).name, period=Period.parse(spec.period).iso)
    f = funnel(rows[(rows["measure"] == spec.measure) & (rows["period_end"] == spec.period)])
    if f.fit is None:
        raise ValueError(f"nothing to compare for {spec.measure} in {spec.period}: no funnel to draw")
    title = spec.title or _funnel_title(f, spec.focal)
    subtitle = wrap([f"{funnel_what(f)}, by force, {_funnel_when(f)}: each force against England and Wales, with "
                      "the limits chance and the usual spread between forces allow"])
    notes = _funnel_notes(f, spec.focal, source)
    top_in, plot_in, bottom_in = 0.15 + TITLE_IN + LINE_IN * len(subtitle) + 0.55, 4.2, 0.75 + LINE_IN * len(notes)
    height = top_in + plot_in + bottom_in
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    fig.patch.set_facecolor("white")
    ax = fig.add_axes((0.8 / WIDTH_IN, bottom_in / height, 1 - 1.6 / WIDTH_IN, plot_in / height))
    dens = f.compared["denominator"].to_numpy(float)
    xs = np.geomspace(dens.min() / 1.6, dens.max() * 1.6, 240)
    ax.axhline(float(f.fit["target"]), color=ACCENT, linewidth=1.6, zorder=3)
    ax.annotate(_centre_label(f), xy=(0.0, float(f.fit["target"])),
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
