"""The trends section: a force against England and Wales over every window the data cover, and the
crime outcomes by financial quarter (three-month values, never set beside 12-month ones)."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from ..core.periods import Period
from ..core.text import ENGLAND_AND_WALES, lower_first
from . import tables
from .common import Note, results_rows, source_line
from .figures.bartext import resident_notes
from .params import Params


def _gaps(rows: pd.DataFrame) -> list[str]:
    """'No value for the 12 months to ... (and N more): reason' lines, one per reason."""
    missing = rows[rows["value"].isna()]
    out = []
    for reason, group in missing.groupby("reason", sort=False, dropna=False):
        ends = sorted(group["period_end"])
        span = ends[0] if len(ends) == 1 else f"{ends[0]} to {ends[-1]} ({len(ends)} windows)"
        out.append(f"{group['force'].iloc[0]}: no value for {span}: {reason if isinstance(reason, str) else 'no value'}.")
    return out


def trend(p: Params, key: str, *, march_only: bool = False):
    """The force against England and Wales for every window the data cover, with the report's window
    marked; windows without a value are named under the chart with the reason."""
    from ..core.periods import REPORT_PERIOD
    from ..measures.registry import measure
    from .figures import LineSpec, lines

    mdef = measure(key)
    rows = results_rows(forces=[p.name], measures=[key])
    rows = rows[rows["force"].isin([p.name, ENGLAND_AND_WALES])]
    if march_only:
        rows = rows[rows["period_end"].str.endswith("-03-31")]
    have = rows[rows["value"].notna() & rows["basis"].isin(["reproduced", "supplied", "published"])]
    if have.empty:
        return Note(f"**No chart:** no {lower_first(mdef.label)} value for {p.name} in any window.", no_data=True,
                    role="figure")
    covered = rows[rows["period_end"].between(have["period_end"].min(), have["period_end"].max())]
    frame = pd.DataFrame({"x": pd.to_datetime(have["period_end"]), "series": have["force"], "value": have["value"],
                          "basis": have["basis"], "label": have["window"]})
    marks = tuple(dict.fromkeys([(REPORT_PERIOD.iso, "2017 report's window"), (p.period.iso, "this report's window")]))
    first, last = Period.parse(have["period_end"].min()), Period.parse(have["period_end"].max())
    unit_note = "" if mdef.unit in mdef.label else f" ({mdef.unit})"  # no "per 1,000 population (per 1,000 population)"
    spec = LineSpec(f"{mdef.short[:1].upper() + mdef.short[1:]}: {p.name} against England and Wales",
                    f"{mdef.label}{unit_note}, {lower_first(first.label)} to "
                    f"{last.label.removeprefix('12 months to ')}{', years ending March' if march_only else ''}",
                    mdef.unit, p.name, marks if p.period != REPORT_PERIOD else marks[:1], mdef.decimals)
    spec = replace(spec, caveats=tuple(resident_notes(key, have["force"], against="England and Wales's, whose line "
                                                     "looks flat beside it only because of the scale")))
    return lines(frame, spec, source=source_line(key), notes=_gaps(covered), rows=have)


def outcome_quarters(p: Params, keys: tuple[str, ...] = ("action_taken", "outcome_charge_summons",
                                                           "outcome_evidential_difficulties", "outcome_no_suspect",
                                                           "outcome_not_yet_assigned")):
    """Each outcome share by financial quarter for the force (three-month values, never 12-month ones)."""
    from ..measures import outcomes
    from ..measures.registry import MEASURES
    from .figures import LineSpec, lines

    rows = outcomes.by_quarter(list(keys))
    mine = rows[rows["force"] == p.name]
    frame = pd.DataFrame({"x": pd.to_datetime(mine["quarter_end"]), "series": mine["measure"].map(
        {k: MEASURES[k].short for k in keys}), "value": mine["value"], "basis": mine["basis"], "label": mine["quarter"]})
    quarters = sorted(set(mine["quarter"]))
    spec = LineSpec(f"Crime outcomes by quarter: {p.name}",
                    f"Share of the offences recorded in each quarter (% of offences recorded), {p.name}, "
                    f"{quarters[0]} to {quarters[-1]} ({len(quarters)} quarters loaded)", "% of offences recorded",
                    "", (), 1)
    left_out = mine[mine["status"] == "excluded"].drop_duplicates("quarter")
    notes = [f"{p.name}: no value for {q}: {reason}." for q, reason in zip(left_out["quarter"], left_out["reason"])]
    chart = lines(frame, spec, source=source_line("action_taken"),
                  notes=["Each point is one quarter's offences, so the values are not 12-month shares."] + notes,
                  rows=mine[mine["value"].notna()])
    chart.quarters = rows
    return chart


def outcome_quarters_table(p: Params, key: str = "action_taken") -> tables.Table:
    """One outcome share by quarter: the force and England and Wales side by side."""
    from ..measures import outcomes
    from ..measures.registry import MEASURES

    rows = outcomes.by_quarter([key])
    lines_, shown = [], []
    for quarter, group in rows.groupby("quarter", sort=True):
        mine = group[group["force"] == p.name]
        ew = group[group["area"] == "aggregate"]
        shown += [mine, ew]
        cell = lambda g: tables.Cell(tables.format_value(g["value"].iloc[0], "%") if len(g) else "–")  # noqa: E731
        lines_.append([tables.Cell(group["window"].iloc[0]), cell(mine), cell(ew),
                       tables.Cell(str(int(ew["n_forces"].iloc[0])) if len(ew) else "–")])
    return tables.Table(["Quarter", p.name, ENGLAND_AND_WALES, "Forces summed"], lines_, rows,
                        f"{MEASURES[key].label} by quarter", shown=pd.concat(shown, ignore_index=True))
