"""The comparison with England and Wales in plain words: one sentence for a force, and a few words for
a panel or a table cell, from the results rows alone (see :mod:`peel_helpers.measures.funnel`).

Two questions, two verdicts, one sentence::

    Kent: 11.2%, among the lowest of 43 forces. The gap from England and Wales (14.8%) is far larger
    than chance alone, but 9 other forces differ from it as much or more: within the usual spread
    between forces (limits 6.4% to 26.0%).

* the first verdict (``vs_ew_chance``) says whether the gap is larger than the chance variation of a
  count would make it at 99.8%; "far larger" means more than :data:`FAR` times the gap chance alone
  allows (the distance from England and Wales to its 99.8% chance-alone limit on that side);
* the second (``vs_ew``) says whether it is larger than forces usually differ: within, above or below
  the 99.8% limits widened by the spread between forces, which are given in the value's own unit at
  the force's own base;
* the rank is among the forces compared (highest first); "among the highest/lowest" is the top or
  bottom fifth. No word here judges a force: "above" is never "worse", and there is no "high" or
  "poor" that no verdict backs. A published value or a value over part of the window says so; a
  value not compared says why.

Every function is pure: it reads the rows it is given and nothing else.
"""

from __future__ import annotations

import math

import pandas as pd

from ..core.text import DASH, ENGLAND_AND_WALES, N_FORCES, format_value, ordinal
from .funnel import PER_HEAD_LEFT_OUT, VERDICT_LEVEL
from .registry import MEASURES, fmt

FAR = 3.0
COMPARED = ("above", "below", "within")
SHORT = {"above": "above usual spread", "below": "below usual spread", "within": "within usual spread",
         "not_compared": "not compared"}
CHANCE_SHORT = {"above": "beyond chance alone", "below": "beyond chance alone", "within": "within chance alone",
                "not_compared": "not compared"}
BASIS_WORDS = {"published": "published value, copied from the report",
               "supplied": "supplied in the user's data return"}


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def compared(row) -> bool:
    """Whether the row has a verdict (above, below or within)."""
    return _text(row.get("vs_ew")) in COMPARED


def short_verdict(row) -> str:
    """Two or three words for a panel: "within usual spread", "above usual spread", "below usual
    spread" or "not compared" (a row without a value: "no value")."""
    if pd.isna(row.get("value")):
        return "no value"
    return SHORT.get(_text(row.get("vs_ew")), "not compared")


def chance_short(row) -> str:
    """The chance-alone verdict in a few words: "beyond chance alone", "within chance alone" or "not compared"."""
    if pd.isna(row.get("value")):
        return "no value"
    return CHANCE_SHORT.get(_text(row.get("vs_ew_chance")), "not compared")


def limits_text(row, which: str = "vs_ew") -> str:
    """'6.4% to 26.0%': the 99.8% limits of ``which`` ("vs_ew" or "vs_ew_chance") at the force's base,
    in the value's unit, with a decimal more where the two ends would print alike."""
    mdef = MEASURES[row["measure"]]
    low, high = row.get(f"{which}_low"), row.get(f"{which}_high")
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return ""
    decimals = mdef.decimals
    while decimals < mdef.decimals + 2 and f"{low:.{decimals}f}" == f"{high:.{decimals}f}":
        decimals += 1
    return (f"{format_value(low, mdef.unit, decimals, mdef.signed)} to "
            f"{format_value(high, mdef.unit, decimals, mdef.signed)}")


def value_words(text: str, basis, window) -> str:
    """The value as a reader should take it: '11.2%', '52.8 (published value, copied from the report)',
    '15.1% (April–June 2017 only: 1 of 4 quarters)'; "no value" for a dash."""
    if text == DASH:
        return "no value"
    if basis in BASIS_WORDS:
        return f"{text} ({BASIS_WORDS[basis]})"
    if basis == "partial_window" and isinstance(window, str):
        return f"{text} ({window})"
    return text


def rank(row, rows: pd.DataFrame) -> tuple[int | None, int]:
    """(position, of): the force's place among the forces compared in ``rows`` (its measure and
    period), highest value first; position None when the force is not compared."""
    forces = rows[(rows["area"] == "force") & (rows["measure"] == row["measure"])
                  & (rows["period_end"] == row["period_end"]) & rows["vs_ew"].isin(COMPARED)]
    order = forces.assign(_v=pd.to_numeric(forces["value"], errors="coerce").astype(float))
    names = list(order.sort_values(["_v", "force"], ascending=[False, True], kind="mergesort")["force"])
    return (names.index(row["force"]) + 1 if row["force"] in names else None), len(names)


def position_words(position: int, of: int) -> str:
    """'the highest of 43 forces', 'among the lowest of 42 forces compared', '20th highest of 43 forces'."""
    if of == 1:
        return "the only force compared"
    forces = f"{of} forces" + (" compared" if of < N_FORCES else "")
    fifth = max(1, math.ceil(of / 5))
    if position == 1:
        return f"the highest of {forces}"
    if position == of:
        return f"the lowest of {forces}"
    if position <= fifth:
        return f"among the highest of {forces}"
    if position > of - fifth:
        return f"among the lowest of {forces}"
    return f"{ordinal(position)} highest of {forces}"


def centre_words(row) -> str:
    """'England and Wales (14.8%)', or for a rate per head 'England and Wales without the City of London (81.9)'."""
    centre = fmt(row["vs_ew_centre"], MEASURES[row["measure"]])
    without = f"without the {' and '.join(PER_HEAD_LEFT_OUT)}"
    if without in _text(row.get("vs_ew_method")):
        return f"{ENGLAND_AND_WALES} {without} ({centre})"
    return f"{ENGLAND_AND_WALES} ({centre})"


def chance_words(row) -> str:
    """'far larger than chance alone', 'larger than chance alone' or 'within what chance alone gives'."""
    if row["vs_ew_chance"] == "within":
        return "within what chance alone gives"
    value, centre = float(row["value"]), float(row["vs_ew_centre"])
    edge = float(row["vs_ew_chance_high"] if value > centre else row["vs_ew_chance_low"])
    far = abs(value - centre) > FAR * abs(edge - centre)
    return f"{'far ' if far else ''}larger than chance alone"


def as_far(row, rows: pd.DataFrame) -> int:
    """How many other forces compared in ``rows`` are at least as far from the centre as this one."""
    others = rows[(rows["area"] == "force") & (rows["measure"] == row["measure"])
                  & (rows["period_end"] == row["period_end"]) & rows["vs_ew"].isin(COMPARED)
                  & (rows["force"] != row["force"])]
    gap = abs(float(row["value"]) - float(row["vs_ew_centre"]))
    theirs = (pd.to_numeric(others["value"], errors="coerce").astype(float) - float(row["vs_ew_centre"])).abs()
    return int((theirs >= gap).sum())


def unit_words(measure: str) -> str:
    """' per 1,000 population' after a number whose unit is not a percentage ('' for one that is)."""
    unit = MEASURES[measure].unit
    return "" if unit.strip().startswith("%") else f" {unit}"


def verdict_words(row) -> str:
    """Both verdicts in a few words, without the limits or the count of forces as far out, for a
    sentence that gives the value elsewhere: 'far larger than chance alone, but within the usual spread
    between forces'; 'within what chance alone gives, and within the usual spread between forces';
    'larger than chance alone, and larger than forces usually differ: above the usual spread between
    forces' ("" for a row not compared)."""
    if not compared(row):
        return ""
    if row["vs_ew"] in ("above", "below"):
        spread = f"and larger than forces usually differ: {row['vs_ew']} the usual spread between forces"
    else:
        spread = f"{'and' if row['vs_ew_chance'] == 'within' else 'but'} within the usual spread between forces"
    return f"{chance_words(row)}, {spread}"


def _spread_clause(row, rows: pd.DataFrame) -> str:
    limits = f"(limits {limits_text(row)}{unit_words(row['measure'])})"
    if row["vs_ew"] in ("above", "below"):
        return f"and larger than forces usually differ: {row['vs_ew']} the usual spread between forces {limits}"
    if row["vs_ew_chance"] == "within":
        return f"and within the usual spread between forces {limits}"
    n = as_far(row, rows)
    if not n:
        return f"and no other force is as far from it, but it is within the usual spread between forces {limits}"
    who = f"{n} other {'force differs' if n == 1 else 'forces differ'} from it as much or more"
    return f"but {who}: within the usual spread between forces {limits}"


def not_compared_words(row) -> str:
    """Why a value is not compared, as the end of a sentence."""
    method = _text(row.get("vs_ew_method"))
    if method.startswith("no counts"):
        return ("it has no counts behind it (a " + method.removeprefix("no counts: ") + "), so neither chance "
                "nor the spread between forces can be measured")
    return method.removeprefix("not compared: ") or "no comparison was made"


def sentence(row, rows: pd.DataFrame) -> str:
    """The force's value, its place among the forces and both verdicts in one or two sentences, from its
    results ``row`` and the results ``rows`` of its measure and period (forces and England and Wales)."""
    mdef = MEASURES[row["measure"]]
    if pd.isna(row.get("value")):
        why = _text(row.get("reason"))
        return f"{row['force']}: no value{f' ({why})' if why else ''}."
    value = value_words(fmt(row["value"], mdef) + unit_words(row["measure"]), row.get("basis"), row.get("window"))
    if not compared(row):
        return f"{row['force']}: {value}. Not compared with England and Wales: {not_compared_words(row)}."
    position, of = rank(row, rows)
    return (f"{row['force']}: {value}, {position_words(position, of)}. The gap from {centre_words(row)} is "
            f"{chance_words(row)}, {_spread_clause(row, rows)}.")


def chance_sentence(row) -> str:
    """'Around England and Wales (14.8%), chance alone would keep a force with Kent's base within 14.6% to
    15.1% (99.8% limits).' ("" for a row not compared)."""
    if not compared(row):
        return ""
    return (f"Around {centre_words(row)}, chance alone would keep a force with {row['force']}'s base within "
            f"{limits_text(row, 'vs_ew_chance')}{unit_words(row['measure'])} (99.8% limits).")


def by_chance(n: int) -> str:
    """What a flag is worth, for a report that compares ``n`` values: how often chance alone puts a value
    outside the limits when nothing unusual is going on (two-sided, 1 − level; the simulation in
    ``bench/bench_funnel_calibration.py`` measures 0.3 to 1.4 times this, by measure)."""
    per = round(1 / (1 - VERDICT_LEVEL))
    return (f"These are {VERDICT_LEVEL:.1%} limits: with nothing unusual going on, chance alone puts about 1 value "
            f"in {per:,} outside them, so about 1 report in {max(1, round(per / max(n, 1)))} comparing {n} values "
            "would show such a flag by chance. A flag is a reason to ask why, not a judgment of performance.")
