"""The words of a by-force bar chart: title, subtitle, notes and legend (:func:`annotate`), the
England and Wales lines and their labels, and the text alternative (:func:`alt_text`)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.markers import MarkerStyle
from matplotlib.patches import Patch
from matplotlib.transforms import IdentityTransform

from ...core.periods import Period
from ...core.text import basis_sentence, basis_words, lower_first, ordinal
from ...measures.verdicts import value_words
from .bardata import ChartData
from .style import (ACCENT, BAR_STYLE, CUT_RATIO, DIAMOND, INTERVAL_NOTE, LINE_IN, OTHER, ROW_IN, TEXT, TITLE_IN,
                    WIDTH_IN, text_colour, wrap)


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


def comparison_drawn(d: ChartData) -> bool:
    """Whether the chart draws its comparison window: a diamond for some force, or its England and
    Wales line. Only then does any of its words (subtitle, legend, alt text, guide) name that window."""
    if not d.spec.comparison:
        return False
    agg = d.previous_aggregate
    return bool(d.forces["prev"].notna().any() or (agg is not None and pd.notna(agg["value"])))


def subtitle_text(d: ChartData) -> str:
    """What is drawn: measure, by force, England and Wales, the window (and the comparison window, when
    it is drawn). The chart's subtitle, and its caption in a report."""
    what = d.mdef.label if d.mdef.unit.lower() in d.mdef.label.lower() else f"{d.mdef.label} ({d.mdef.unit})"
    sub = f"{what}, by force, England and Wales, {_period_text(d)}"
    return sub + (f", with {_comparison_text(d)}" if comparison_drawn(d) else "")


def _no_comparison(d: ChartData) -> str:
    """'No comparison is drawn: no force has a value for the comparison window (reason).' ("" when one is
    drawn or none was asked for). The reason is the one most forces give."""
    if not d.spec.comparison or comparison_drawn(d):
        return ""
    reasons = d.forces["prev_reason"].dropna()
    why = f" ({reasons.value_counts().index[0].split(' (')[0]})" if len(reasons) else ""
    return f"No comparison is drawn: no force has a value for the comparison window{why}."


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


RESIDENT_NOTE = ("{name}: a rate per resident. Under 10,000 people live in the City, against the several hundred "
                 "thousand who work in or visit it, so its rate per resident is far above any other force's and not "
                 "comparable with {against} (A-CITY).")


def resident_notes(key: str, names, against: str = "them") -> list[str]:
    """The caveat for each force drawn whose rate per resident the rules call misleading (the City of
    London), for a measure per head of population: one line each, under the chart and in its alt text."""
    from ...measures.funnel import PER_HEAD_LEFT_OUT
    from ...measures.registry import MEASURES

    if not MEASURES[key].uses_population:
        return []
    return [RESIDENT_NOTE.format(name=n, against=against) for n in PER_HEAD_LEFT_OUT if n in set(names)]


def note_lines(d: ChartData, source: str) -> list[str]:
    """The interval lines (when drawn), forces without a value grouped by reason, the cut axis if any, the
    caveat on a rate per resident drawn for the City of London, then the source line."""
    lines = [INTERVAL_NOTE] if d.spec.intervals else []
    for reason, group in d.forces[d.forces["value"].isna()].groupby("reason", sort=False):
        names = list(group["force"])
        who = ", ".join(names) if len(names) <= 8 else f"{len(names)} forces"
        lines.append(f"Not shown: {who}: {reason}.")
    if d.cut is not None:
        lines.append(cut_sentence(d))
    lines += [_no_comparison(d)] if _no_comparison(d) else []
    lines += resident_notes(d.spec.measure, d.forces.loc[d.forces["drawn"], "force"])
    return wrap(lines + [f"Source: {source}"])



# --------------------------------------------------------------------------- layout

@dataclass
class Layout:
    """Where the parts of a bar chart go: its height, the space above and below the bars, the text lines."""

    height: float
    top_in: float
    bottom_in: float
    subtitle: list[str]
    notes: list[str]


def layout(d: ChartData, source: str) -> Layout:
    """The figure's height and text lines for ``d``: one row per force drawn, title, subtitle, legend, notes."""
    n = max(int(d.forces["drawn"].sum()), 1)
    subtitle, notes = wrap([subtitle_text(d)]), note_lines(d, source)
    legend_in = 0.3 if _legend_handles(d) else 0.0
    top_in = 0.15 + TITLE_IN + LINE_IN * len(subtitle) + legend_in + 0.2 + 0.16 * (1 + comparison_drawn(d))
    bottom_in = 0.55 + LINE_IN * len(notes)
    return Layout(top_in + ROW_IN * n + 0.2 + bottom_in, top_in, bottom_in, subtitle, notes)


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


def annotate(fig: Figure, d: ChartData, lay: Layout) -> str:
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


def alt_text(d: ChartData) -> str:
    """Text alternative: what is drawn, the focal value with its basis and rank, the aggregate."""
    rank, of = d.rank
    what = d.mdef.label if d.mdef.unit.lower() in d.mdef.label.lower() else f"{d.mdef.label} ({d.mdef.unit})"
    parts = [f"Horizontal bar chart of {lower_first(what)} by force, {_period_text(d)}, sorted from highest to "
             f"lowest, with {of} of {len(d.forces)} forces shown."]
    me = d.forces.set_index("force").loc[d.spec.focal]
    if rank is not None:
        parts.append(f"{d.spec.focal}: {value_words(d.fmt(me['value']), me['basis'], me['window'])}, "
                     f"ranked {rank} of {of} (1 = highest).")
    else:
        parts.append(f"{d.spec.focal}: no value ({me['reason']}).")
    agg = d.aggregate
    if agg is not None and pd.notna(agg["value"]):
        parts.append(f"{agg['force']}: {value_words(d.fmt(agg['value']), agg['basis'], agg['window'])}.")
    else:
        parts.append("No England and Wales value.")
    if comparison_drawn(d):
        parts.append(_comparison_alt(d, me))
    elif d.spec.comparison:
        parts.append("No comparison is drawn: no force has a value for the comparison window.")
    if d.spec.intervals:
        parts.append("Lines through the bars show each value's 95% interval"
                     + (f"; {d.spec.focal}'s runs from {d.fmt(me['ci_low'])} to {d.fmt(me['ci_high'])}."
                        if pd.notna(me["ci_low"]) else "."))
    if d.cut is not None:
        parts.append(cut_sentence(d))
    parts += resident_notes(d.spec.measure, d.forces.loc[d.forces["drawn"], "force"])
    missing = int(d.forces["value"].isna().sum())
    if missing:
        parts.append(f"{missing} {'force has' if missing == 1 else 'forces have'} no value and "
                     f"{'is' if missing == 1 else 'are'} listed under the chart.")
    return " ".join(parts)


def _comparison_alt(d: ChartData, me: pd.Series) -> str:
    """The diamonds in words: the period (or part-window) they cover, the focal force's value and the
    comparison aggregate, each under its own label and with its basis."""
    mine = value_words(d.fmt(me["prev"]), me["prev_basis"], me["prev_window"])
    agg = d.previous_aggregate
    if agg is None or pd.isna(agg["value"]):
        theirs = "no England and Wales value"
    else:
        theirs = f"{agg['force']} {value_words(d.fmt(agg['value']), agg['basis'], agg['window'])}"
    return f"Diamonds mark {_comparison_text(d)}: {d.spec.focal} {mine}, {theirs}."




def guide_text(d: ChartData) -> str:
    """How to read the chart, in words that follow what it draws: the bars and the England and Wales line;
    the hatching of values not reproduced over the whole window, where there are any; the diamonds and the
    dashed line only where the comparison window is drawn, and otherwise that it is not."""
    shown = d.forces[d.forces["value"].notna()]
    bases = set(shown["basis"])
    out = [f"The bars show each force's value for {_window_text(d.spec.period, d.windows, 'the ')}, highest first, "
           f"{d.spec.focal} in dark blue."]
    if d.aggregate is not None and pd.notna(d.aggregate["value"]):
        out.append(f"The solid orange line is {d.aggregate['force']}'s value for the same months.")
    if "partial_window" in bases:
        out.append(f"Cross-hatched bars are values over part of the window only ({'; '.join(d.windows)}), shown "
                   "so that nothing is hidden, but not 12-month values.")
    for basis in ("published", "supplied"):
        if basis in bases:
            look = "hatched and outlined" if basis == "published" else "back-hatched"
            out.append(f"{look[:1].upper() + look[1:]} bars are {basis_words(basis)} values "
                       f"({basis_sentence(basis)}).")
    if comparison_drawn(d):
        prev = d.forces[d.forces["prev"].notna()]
        if len(prev):
            part = " (cross-hatched where they cover part of it)" if (prev["prev_basis"] == "partial_window").any() \
                else ""
            out.append(f"Hollow diamonds mark each force's value for {_comparison_text(d)}{part}.")
        agg = d.previous_aggregate
        if agg is not None and pd.notna(agg["value"]):
            out.append(f"The dashed orange line is {agg['force']}'s value for {_comparison_text(d)}.")
    elif d.spec.comparison:
        out.append(_no_comparison(d))
    if d.spec.intervals:
        out.append("The lines through the bars are each value's 95% interval.")
    if d.forces["value"].isna().any():
        out.append("Forces without a value are named under the chart, with the reason.")
    return " ".join(out)
