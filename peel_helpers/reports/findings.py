"""Key findings: the few sentences that open a force's report, generated from the results rows of its
headline measures (:data:`~peel_helpers.measures.registry.FORCE_IN_NUMBERS`) for one window.

Each measure with a value gets one line: the value with its basis (a published value, or one over part
of the window, says so), its rank among the forces with a value for the same window (highest first;
the City of London's rates per resident are not ranked, and its own lines say why), England and
Wales's value, and both verdicts in the words of :mod:`peel_helpers.measures.verdicts`. What lies
outside the usual spread between forces comes first, and the first sentence says whether anything
does. Measures with no value are named together, with the reason.

No word here judges a force: the verdicts say "above" or "below" the usual spread, never "worse".
"""

from __future__ import annotations

import pandas as pd

from ..core.periods import Period
from ..core.text import ENGLAND_AND_WALES, ordinal
from ..measures import verdicts
from ..measures.funnel import PER_HEAD_LEFT_OUT
from ..measures.registry import FORCE_IN_NUMBERS, MEASURES, fmt
from ..measures.table import aggregate_row
from .common import Note, results_rows
from .params import Params

UNUSUAL = ("above", "below")


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def not_ranked(row) -> str:
    """Why a force's value is left out of the ranking ("" when it is ranked): the City of London's
    rates per resident."""
    if MEASURES[row["measure"]].uses_population and row["force"] in PER_HEAD_LEFT_OUT:
        return PER_HEAD_LEFT_OUT[row["force"]]
    return ""


def rank(row, rows: pd.DataFrame) -> tuple[int | None, int]:
    """(position, of): the force's place, highest value first, among the forces in ``rows`` with a
    value for the same measure, period and window (ties in force-name order), leaving out the values
    :func:`not_ranked` names; position None for a value left out."""
    peers = rows[(rows["area"] == "force") & (rows["measure"] == row["measure"])
                 & (rows["period_end"] == row["period_end"]) & rows["value"].notna()
                 & (rows["window"].astype("string") == _text(row["window"]))]
    peers = peers[[not not_ranked(r) for _, r in peers.iterrows()]]
    order = peers.assign(_v=pd.to_numeric(peers["value"]).astype(float))
    names = list(order.sort_values(["_v", "force"], ascending=[False, True], kind="mergesort")["force"])
    return (names.index(row["force"]) + 1 if row["force"] in names else None), len(names)


def rank_words(position: int | None, of: int) -> str:
    """'the highest of 43 forces', 'the 5th highest of 43 forces', 'the 3rd lowest of 42 forces', 'the
    only force with a value'; counted from the nearer end."""
    if position is None:
        return "not ranked"
    if of == 1:
        return "the only force with a value"
    if position == 1:
        return f"the highest of {of} forces"
    if position == of:
        return f"the lowest of {of} forces"
    if position <= (of + 1) // 2:
        return f"the {ordinal(position)} highest of {of} forces"
    return f"the {ordinal(of - position + 1)} lowest of {of} forces"


def _unit_tail(key: str) -> str:
    """' per 1,000 population', ' of offences recorded' (after '10.7%'), '' for a change in per cent."""
    unit = MEASURES[key].unit
    if unit.startswith("%"):
        return unit[1:] if unit != "% change" else ""
    return f" {unit}"


def value_text(row, period: Period) -> str:
    """The force's value as a reader should take it: '73.3 per 1,000 population', '10.7% of offences
    recorded (April–June 2017 only: 1 of 4 quarters)', '52.8 per 100 offences (published value, copied
    from the report)', '28.9 per 1,000 population (year ending 31 March 2017)'."""
    text = verdicts.value_words(fmt(row["value"], MEASURES[row["measure"]]) + _unit_tail(row["measure"]),
                                row.get("basis"), row.get("window"))
    window = _text(row.get("window"))
    if row.get("basis") not in ("partial_window",) and window and not window.startswith(period.label):
        text += f" ({window})"
    return text


def _england_and_wales(row, ew) -> str:
    """'England and Wales 76.4', with its basis where it is not reproduced, and for a verdict centred
    elsewhere (a rate per head without the City of London) the gap's centre as well."""
    if ew is None or pd.isna(ew["value"]):
        return "no England and Wales value"
    text = f"{ENGLAND_AND_WALES} {fmt(ew['value'], MEASURES[row['measure']])}"
    if ew["basis"] == "partial_window" and _text(ew["window"]) == _text(row["window"]):
        text += " over the same months"
    elif ew["basis"] in verdicts.BASIS_WORDS:
        text += f" ({verdicts.BASIS_WORDS[ew['basis']]})"
    return text


def finding(row, rows: pd.DataFrame, period: Period) -> str:
    """One line for one measure: value and basis, rank, England and Wales, and the verdicts in words."""
    mdef = MEASURES[row["measure"]]
    ew = aggregate_row(rows[(rows["measure"] == row["measure"]) & (rows["period_end"] == row["period_end"])])
    head = f"**{mdef.label}**: {value_text(row, period)}"
    position, of = rank(row, rows)
    if not verdicts.compared(row):
        ranked = "" if position is None else f", {rank_words(position, of)}"
        left = "Neither ranked nor compared" if position is None else "Not compared"
        return (f"{head}{ranked}; {_england_and_wales(row, ew)}. {left} with England and Wales: "
                f"{verdicts.not_compared_words(row)}.")
    centre = fmt(row["vs_ew_centre"], mdef)
    shown = fmt(ew["value"], mdef) if ew is not None and pd.notna(ew["value"]) else ""
    gap = "the gap is" if centre == shown else f"the gap from {verdicts.centre_words(row)} is"
    return f"{head}, {rank_words(position, of)}; {_england_and_wales(row, ew)}: {gap} {verdicts.verdict_words(row)}."


def _lead(name: str, period: Period, have: pd.DataFrame) -> str:
    """The first sentences: what lies outside the usual spread between forces, or that nothing does; then
    the values not compared."""
    left = have[~have["vs_ew"].isin(verdicts.COMPARED)]
    tail = (f" Not compared: {', '.join(MEASURES[k].label.lower() for k in left['measure'])} (each line says why)."
            if len(left) else "")
    return _compared_lead(name, period, have) + tail


def _compared_lead(name: str, period: Period, have: pd.DataFrame) -> str:
    compared = have[have["vs_ew"].isin(verdicts.COMPARED)]
    unusual = compared[compared["vs_ew"].isin(UNUSUAL)]
    when = f"the {period.label[:1].lower() + period.label[1:]}"
    if compared.empty:
        return f"None of {name}'s values for {when} can be compared with England and Wales; each line says why."
    if len(unusual):
        items = "; ".join(f"{MEASURES[r['measure']].label.lower()} ({r['vs_ew']} it)" for _, r in unusual.iterrows())
        rest = len(compared) - len(unusual)
        tail = f" The other {rest} values compared are within it." if rest else ""
        return (f"**Outside the usual spread between forces** in {when}: {items}.{tail} "
                f"{verdicts.by_chance(len(compared))}")
    beyond = int((compared["vs_ew_chance"] != "within").sum())
    chance = (f" For {beyond} of them the gap from England and Wales is larger than chance alone would give, but "
              "no larger than forces usually differ." if beyond else "")
    return (f"**Nothing lies outside the usual spread between forces** in {when}: all {len(compared)} of "
            f"{name}'s values that can be compared with England and Wales are within it.{chance}")


def _missing(name: str, rows: pd.DataFrame) -> str:
    """'No value for Kent in this window for calls for assistance per 1,000 population, ...; the reason: ...'."""
    lines = []
    for reason, group in rows.groupby(rows["reason"].fillna("no value"), sort=False):
        labels = ", ".join(MEASURES[k].label.lower() for k in group["measure"])
        lines.append(f"No value for {name} in this window for {labels}; the reason: {reason}.")
    return " ".join(lines)


def key_findings(p: Params) -> Note:
    """The report's key findings for ``p``'s force and window, as a list of plain sentences (output role
    ``key_findings``: the combined report puts them first, after the title block)."""
    rows = results_rows(measures=list(FORCE_IN_NUMBERS), periods=[p.period])
    mine = rows[(rows["area"] == "force") & (rows["force"] == p.name)]
    mine = mine.set_index("measure").reindex([k for k in FORCE_IN_NUMBERS if k in set(mine["measure"])])
    mine = mine.reset_index()
    have = mine[mine["value"].notna()]
    first = have["vs_ew"].isin(UNUSUAL)
    lines = [f"- {finding(r, rows, p.period)}" for _, r in pd.concat([have[first], have[~first]]).iterrows()]
    text = _lead(p.name, p.period, have) + "\n\n" + "\n".join(lines)
    gone = mine[mine["value"].isna()]
    if len(gone):
        text += "\n\n" + _missing(p.name, gone)
    if have["measure"].map(lambda k: MEASURES[k].uses_population).any() and p.name not in PER_HEAD_LEFT_OUT:
        text += ("\n\nRanks count from the highest value among the forces with a value for the same window; the "
                 "City of London's rates per resident are not ranked (A-CITY).")
    else:
        text += "\n\nRanks count from the highest value among the forces with a value for the same window."
    return Note(text, role="key_findings")
