"""Key findings (:func:`peel_helpers.reports.findings.key_findings`): every number in the sentences is
recomputed here from the rows of ``results()`` with plain pandas (the value, its rank among the forces
with a value for the same window, England and Wales's value and the verdict's centre), and the words
of each verdict from the row's own verdict columns; the lead says what lies outside the usual spread
between forces, or that nothing does."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from peel_helpers.measures.registry import FORCE_IN_NUMBERS, MEASURES

pytestmark = pytest.mark.realdata

CASES = [("Cambridgeshire", "2017-06-30"), ("Cleveland", "2018-03-31"), ("City of London", "2018-03-31"),
         ("Suffolk", "2017-06-30"), ("Kent", "2018-03-31")]
NUMBER = re.compile(r"[+\-]?\d[\d,]*(?:\.\d+)?")
FORBIDDEN = re.compile(r"\b(high|low|poor|good|bad|worse|better|best|worst|concern\w*)\b", re.I)


@pytest.fixture(scope="module")
def rows(real_data_dir, no_user_data_return_module):
    from peel_helpers import results
    from peel_helpers.measures import clear_caches

    clear_caches()
    yield results(measures=list(FORCE_IN_NUMBERS), periods=["2017-06-30", "2018-03-31"])
    clear_caches()


def _findings(force: str, period: str) -> str:
    from peel_helpers.reports import notebook as nb

    return nb.key_findings(nb.validate(force=force, period_end=period)).text


def _number(value: float, key: str) -> str:
    """The value as the report prints it: one decimal, a sign for a change, % for a share."""
    mdef = MEASURES[key]
    text = f"{value:+.{mdef.decimals}f}" if mdef.signed else f"{value:,.{mdef.decimals}f}"
    return text + ("%" if mdef.unit.startswith("%") else "")


def _bare(number: str) -> str:
    return number.lstrip("+").rstrip("%")


def _suffix(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _expected(rows: pd.DataFrame, force: str, period: str, key: str) -> dict:
    """What one line must say, from the rows alone."""
    mine = rows[(rows["measure"] == key) & (rows["period_end"] == period)]
    me = mine[mine["force"] == force].iloc[0]
    ew = mine[mine["force"] == "England and Wales"].iloc[0]
    peers = mine[(mine["area"] == "force") & mine["value"].notna() & (mine["window"] == me["window"])]
    if MEASURES[key].uses_population:                       # A-CITY: its rates per resident are not ranked
        peers = peers[peers["force"] != "City of London"]
    ranked = force in set(peers["force"])
    above = int((peers["value"].astype(float) > float(me["value"])).sum()) if ranked else None
    compared = me["vs_ew"] in ("above", "below", "within")
    words = None
    if compared:
        value, centre = float(me["value"]), float(me["vs_ew_centre"])
        edge = float(me["vs_ew_chance_high"] if value > centre else me["vs_ew_chance_low"])
        chance = ("within what chance alone gives" if me["vs_ew_chance"] == "within" else
                  ("far " if abs(value - centre) > 3 * abs(edge - centre) else "") + "larger than chance alone")
        spread = (f"and larger than forces usually differ: {me['vs_ew']} the usual spread between forces"
                  if me["vs_ew"] != "within" else
                  ("and" if me["vs_ew_chance"] == "within" else "but") + " within the usual spread between forces")
        words = f"{chance}, {spread}"
    return {"row": me, "value": _number(float(me["value"]), key), "ew": _number(float(ew["value"]), key),
            "centre": _number(float(me["vs_ew_centre"]), key) if compared else None,
            "position": None if above is None else above + 1, "of": len(peers), "words": words}


def _line(text: str, key: str) -> str:
    label = MEASURES[key].label
    (line,) = [s for s in text.splitlines() if s.startswith(f"- **{label}**: ")]
    return line


def _check_rank(line: str, position: int, of: int) -> None:
    if of == 1:
        assert "the only force with a value" in line, line
        return
    found = re.search(r"the (?:(\d+)(st|nd|rd|th) )?(highest|lowest) of (\d+) forces", line)
    assert found, line
    nth, suffix, end, total = found.groups()
    assert not nth or suffix == _suffix(int(nth)), line
    assert int(total) == of, line
    place = int(nth or 1)
    assert (place if end == "highest" else of - place + 1) == position, line


@pytest.mark.parametrize("force, period", CASES)
def test_every_number_in_the_key_findings_comes_from_the_results_rows(rows, force, period):
    text = _findings(force, period)
    assert not FORBIDDEN.search(text), FORBIDDEN.search(text)
    mine = rows[(rows["force"] == force) & (rows["period_end"] == period)]
    with_value = [k for k in FORCE_IN_NUMBERS if pd.notna(mine.loc[mine["measure"] == k, "value"].iloc[0])]
    assert len([s for s in text.splitlines() if s.startswith("- **")]) == len(with_value)
    for key in with_value:
        exp = _expected(rows, force, period, key)
        line = _line(text, key)
        head = line.split("**: ", 1)[1]
        assert head.startswith(exp["value"]), (line, exp["value"])
        assert f"; England and Wales {exp['ew']}" in line, (line, exp["ew"])
        row = exp["row"]
        if row["basis"] == "partial_window":
            assert f"({row['window']})" in line                     # a part-window value says so
        if row["basis"] == "published":
            assert "(published value, copied from the report)" in line
        if exp["position"] is None:
            assert "Neither ranked nor compared" in line and "A-CITY" in line and "highest" not in line
        else:
            _check_rank(line, exp["position"], exp["of"])
        if exp["words"]:
            assert line.endswith(f" is {exp['words']}."), (line, exp["words"])
            if exp["centre"] != exp["ew"]:
                assert f"without the City of London ({exp['centre']})" in line, line
        else:
            assert "compared with England and Wales: " in line
        # every number in the line is one of those above, or part of the label, window or reason it quotes
        places = {exp["position"], exp["of"] - exp["position"] + 1} if exp["position"] else set()
        allowed = {_bare(n) for n in (exp["value"], exp["ew"], exp["centre"]) if n} | {str(exp["of"])}
        allowed |= {str(n) for n in places}
        quoted = " ".join(str(v) for v in (MEASURES[key].label, MEASURES[key].unit, row["window"],
                                           row["vs_ew_method"], row["reason"]) if isinstance(v, str))
        for number in NUMBER.findall(head):
            assert _bare(number) in allowed or number in quoted, (number, line)


@pytest.mark.parametrize("force, period", CASES)
def test_the_lead_says_what_is_outside_the_usual_spread_or_that_nothing_is(rows, force, period):
    text = _findings(force, period)
    lead = text.split("\n\n", 1)[0]
    mine = rows[(rows["force"] == force) & (rows["period_end"] == period) & rows["value"].notna()]
    compared = mine[mine["vs_ew"].isin(["above", "below", "within"])]
    unusual = compared[compared["vs_ew"].isin(["above", "below"])]
    bullets = [s for s in text.splitlines() if s.startswith("- **")]
    if len(unusual):
        assert lead.startswith("**Outside the usual spread between forces**")
        for _, r in unusual.iterrows():
            assert f"{MEASURES[r['measure']].label.lower()} ({r['vs_ew']} it)" in lead
        assert f"The other {len(compared) - len(unusual)} values compared are within it." in lead
        # what a flag is worth: two-sided 99.8% limits put 1 value in 500 outside by chance
        assert (f"chance alone puts about 1 value in 500 outside them, so about 1 report in "
                f"{round(500 / len(compared))} comparing {len(compared)} values would show such a flag" in lead)
        firsts = {b.split("**")[1] for b in bullets[:len(unusual)]}     # what is unusual comes first
        assert firsts == {MEASURES[k].label for k in unusual["measure"]}
    else:
        assert lead.startswith("**Nothing lies outside the usual spread between forces**")
        assert f"all {len(compared)} of {force}'s values that can be compared" in lead
        beyond = int((compared["vs_ew_chance"] != "within").sum())
        assert (f"For {beyond} of them the gap" in lead) == (beyond > 0)
    left = mine[~mine["vs_ew"].isin(["above", "below", "within"])]
    if len(left):
        assert f"Not compared: {', '.join(MEASURES[k].label.lower() for k in left['measure'])} (each line says" in lead
    else:
        assert "Not compared" not in lead


def test_the_city_of_london_is_not_ranked_on_rates_per_resident_and_others_are_told_why(rows):
    city = _findings("City of London", "2018-03-31")
    line = _line(city, "recorded_crime_per_1000")
    assert "Neither ranked nor compared" in line and "resident population of under 10,000" in line
    kent = _findings("Kent", "2018-03-31")
    assert "the City of London's rates per resident are not ranked (A-CITY)" in kent
    assert "of 42 forces" in _line(kent, "recorded_crime_per_1000")


def test_measures_without_a_value_are_named_with_their_reason(rows):
    text = _findings("Suffolk", "2017-06-30")
    missing = rows[(rows["force"] == "Suffolk") & (rows["period_end"] == "2017-06-30") & rows["value"].isna()]
    for _, r in missing.iterrows():
        assert MEASURES[r["measure"]].label.lower() in text
        assert r["reason"] in text


def test_key_findings_are_marked_for_the_report_to_put_first(rows):
    from peel_helpers.reports import notebook as nb

    note = nb.key_findings(nb.validate(force="Kent", period_end="2018-03-31"))
    _, meta = note._repr_mimebundle_()
    assert meta == {"peel": {"role": "key_findings"}}
