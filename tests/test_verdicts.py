"""The comparison with England and Wales in plain words (:mod:`peel_helpers.measures.verdicts`): one
sentence with both verdicts and the limits in the value's unit, and a few words for a panel.

The rows here are SYNTHETIC (made up, laid out as results rows) except in the last tests, which read the
real results table and check every number of a sentence against a computation made in the test."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from peel_helpers.core.forces import FORCE_NAMES
from peel_helpers.measures import verdicts

NAMES = list(FORCE_NAMES[:12])
FORBIDDEN = re.compile(r"\b(high|low|poor|good|bad|worse|better|best|worst|concern\w*)\b", re.I)


def _rows(values: list[float], vs_ew=None, chance=None, **extra) -> pd.DataFrame:
    """SYNTHETIC results rows of one share measure: 12 forces around England and Wales at 14.8%, every
    force with spread limits 6.4%–26.0% and chance-alone limits 14.6%–15.1%."""
    n = len(values)
    rows = pd.DataFrame({"force": NAMES[:n], "area": "force", "measure": "action_taken", "period_end": "2018-03-31",
                         "value": values, "basis": "reproduced", "window": "12 months to 31 March 2018",
                         "vs_ew": vs_ew or ["within"] * n, "vs_ew_chance": chance or ["above"] * n,
                         "vs_ew_centre": 14.8, "vs_ew_low": 6.4, "vs_ew_high": 26.0, "vs_ew_chance_low": 14.6,
                         "vs_ew_chance_high": 15.1, "vs_ew_method": "99.8% funnel limits around England and Wales"})
    for column, value in extra.items():
        rows[column] = value
    ew = {"force": "England and Wales", "area": "aggregate", "measure": "action_taken", "period_end": "2018-03-31",
          "value": 14.8, "basis": "reproduced"}
    return pd.concat([rows, pd.DataFrame([ew])], ignore_index=True)


VALUES = [25.3, 24.1, 22.0, 20.0, 18.0, 16.0, 15.0, 14.7, 13.0, 12.0, 11.2, 9.0]


def _row(rows: pd.DataFrame, name: str) -> pd.Series:
    return rows[rows["force"] == name].iloc[0]


def test_the_sentence_of_the_issue_with_both_verdicts_and_the_limits():
    rows = _rows(VALUES)
    kent = NAMES[10]
    assert verdicts.sentence(_row(rows, kent), rows) == (
        f"{kent}: 11.2%, among the lowest of 12 forces compared. The gap from England and Wales (14.8%) is far larger "
        "than chance alone, but 5 other forces differ from it as much or more: within the usual spread between "
        "forces (limits 6.4% to 26.0%).")
    assert verdicts.short_verdict(_row(rows, kent)) == "within usual spread"
    assert verdicts.chance_short(_row(rows, kent)) == "beyond chance alone"
    assert verdicts.chance_sentence(_row(rows, kent)) == (
        f"Around England and Wales (14.8%), chance alone would keep a force with {kent}'s base within 14.6% to 15.1% "
        "(99.8% limits).")


def test_a_gap_just_beyond_chance_is_not_far_and_one_within_chance_says_so():
    rows = _rows(VALUES, chance=["above"] * 6 + ["above", "within"] + ["below"] * 4)
    just = _row(rows, NAMES[6])       # 15.0%: 0.2 points from 14.8%, the chance limit 0.3 away on that side
    assert "is larger than chance alone, but" in verdicts.sentence(just, rows)
    inside = verdicts.sentence(_row(rows, NAMES[7]), rows)
    assert "is within what chance alone gives, and within the usual spread between forces (limits 6.4% to 26.0%)" \
        in inside
    assert verdicts.chance_short(_row(rows, NAMES[7])) == "within chance alone"


def test_above_the_usual_spread_and_the_first_and_last_places():
    rows = _rows(VALUES, vs_ew=["above"] + ["within"] * 11)
    top = verdicts.sentence(_row(rows, NAMES[0]), rows)
    assert top.startswith(f"{NAMES[0]}: 25.3%, the highest of 12 forces compared.")
    assert "far larger than chance alone, and larger than forces usually differ: above the usual spread between " \
           "forces (limits 6.4% to 26.0%)." in top
    assert verdicts.short_verdict(_row(rows, NAMES[0])) == "above usual spread"
    assert verdicts.sentence(_row(rows, NAMES[11]), rows).startswith(f"{NAMES[11]}: 9.0%, the lowest of 12 forces")
    assert ", 5th highest of 12 forces compared." in verdicts.sentence(_row(rows, NAMES[4]), rows)
    alone = verdicts.sentence(_row(rows, NAMES[1]), rows)
    assert "but 1 other force differs from it as much or more" in alone


@pytest.mark.parametrize("of", [12, 42, 43])
def test_among_the_highest_and_lowest_are_the_top_and_bottom_fifth_rounded_up(of):
    """Places 2 to ceil(of / 5) are "among the highest", the same count from the bottom "among the
    lowest", every other place its ordinal (written out here without the package's helpers)."""
    fifth = -(-of // 5)
    for position in range(2, of):
        words = verdicts.position_words(position, of)
        if position <= fifth:
            assert words.startswith("among the highest of"), (position, of, words)
        elif position > of - fifth:
            assert words.startswith("among the lowest of"), (position, of, words)
        else:
            suffix = "th" if 10 <= position % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(position % 10, "th")
            assert words.startswith(f"{position}{suffix} highest of {of} forces"), (position, of, words)


def test_the_furthest_force_within_the_spread_says_no_other_is_as_far():
    rows = _rows([14.0, 14.5, 20.0, 14.9], chance=["below", "within", "above", "within"])
    text = verdicts.sentence(_row(rows, NAMES[2]), rows)
    assert "and no other force is as far from it, but it is within the usual spread between forces" in text


def test_values_not_compared_say_why_and_published_or_part_window_values_say_so():
    rows = _rows(VALUES[:3], vs_ew=["not_compared", "within", "not_compared"],
                 chance=["not_compared", "above", "not_compared"],
                 basis=["published", "partial_window", "reproduced"],
                 window=["12 months to 31 March 2018", "April–June 2017 only: 1 of 4 quarters", None],
                 vs_ew_method=["no counts: published value", "99.8% funnel limits around England and Wales",
                               "this value covers another window"])
    published = verdicts.sentence(_row(rows, NAMES[0]), rows)
    assert published.startswith(f"{NAMES[0]}: 25.3% (published value, copied from the report). Not compared with "
                                "England and Wales: it has no counts behind it (a published value)")
    assert verdicts.short_verdict(_row(rows, NAMES[0])) == "not compared"
    part = verdicts.sentence(_row(rows, NAMES[1]), rows)
    assert part.startswith(f"{NAMES[1]}: 24.1% (April–June 2017 only: 1 of 4 quarters), the only force compared.")
    other = verdicts.sentence(_row(rows, NAMES[2]), rows)
    assert other.endswith("Not compared with England and Wales: this value covers another window.")
    assert verdicts.chance_sentence(_row(rows, NAMES[2])) == ""


def test_verdict_words_give_both_verdicts_without_the_limits():
    rows = _rows(VALUES, vs_ew=["above"] + ["within"] * 11, chance=["above"] * 7 + ["within"] + ["below"] * 4)
    assert verdicts.verdict_words(_row(rows, NAMES[0])) == (
        "far larger than chance alone, and larger than forces usually differ: above the usual spread between forces")
    assert verdicts.verdict_words(_row(rows, NAMES[10])) == (
        "far larger than chance alone, but within the usual spread between forces")
    assert verdicts.verdict_words(_row(rows, NAMES[7])) == (
        "within what chance alone gives, and within the usual spread between forces")
    rows.loc[3, "vs_ew"] = "not_compared"
    assert verdicts.verdict_words(_row(rows, NAMES[3])) == ""


def test_no_value_gives_its_reason():
    rows = _rows(VALUES[:2])
    rows.loc[0, ["value", "reason"]] = [None, "Annex A: no data"]
    assert verdicts.sentence(_row(rows, NAMES[0]), rows) == f"{NAMES[0]}: no value (Annex A: no data)."
    assert verdicts.short_verdict(_row(rows, NAMES[0])) == "no value"


# --------------------------------------------------------------------------- the real results table

@pytest.fixture(scope="module")
def table(real_data_dir, no_user_data_return_module):
    from peel_helpers import results
    from peel_helpers.measures import clear_caches

    clear_caches()
    yield results(periods=["2018-03-31"])
    clear_caches()


@pytest.mark.realdata
def test_every_number_in_kents_action_taken_sentence_comes_from_the_results(table):
    rows = table[table["measure"] == "action_taken"]
    forces = rows[rows["area"] == "force"]
    kent = forces[forces["force"] == "Kent"].iloc[0]
    text = verdicts.sentence(kent, rows)
    ranked = forces.sort_values("value", ascending=False)["force"].tolist()
    centre = float(rows.loc[rows["force"] == "England and Wales", "value"].iloc[0])
    gap = abs(float(kent["value"]) - centre)
    as_far = int(((forces["value"].astype(float) - centre).abs() >= gap).sum()) - 1
    assert ranked.index("Kent") + 1 == 42 and len(ranked) == 43
    assert text == (f"Kent: {float(kent['value']):.1f}%, among the lowest of 43 forces. The gap from England and "
                    f"Wales ({centre:.1f}%) is far larger than chance alone, but {as_far} other forces differ from it "
                    f"as much or more: within the usual spread between forces (limits {float(kent['vs_ew_low']):.1f}% "
                    f"to {float(kent['vs_ew_high']):.1f}%).")
    assert abs(float(kent["value"]) - centre) > 3 * (centre - float(kent["vs_ew_chance_low"]))      # "far"


@pytest.mark.realdata
def test_no_sentence_uses_a_word_no_verdict_backs(table):
    forces = table[table["area"] == "force"]
    said = 0
    for (_, _), rows in table.groupby(["measure", "period_end"]):
        for _, row in rows[rows["area"] == "force"].iterrows():
            text = verdicts.sentence(row, rows)
            said += 1
            assert not FORBIDDEN.search(text), text
            if row["vs_ew"] in verdicts.COMPARED:
                assert "limits " in text and verdicts.short_verdict(row).endswith("usual spread")
    assert said == len(forces)
