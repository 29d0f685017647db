"""Rate maths, the Annex A rules and the England and Wales aggregation rule, on SYNTHETIC numbers
made up here (no real data)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from peel_helpers.core.forces import FORCE_NAMES
from peel_helpers.measures import aggregate, rules
from peel_helpers.measures.rates import implied_denominator, rate


def test_rate_scalar_and_vector():
    assert rate(61_699, 841_300, 1_000) == pytest.approx(73.3377, abs=1e-4)
    assert rate(5, 0, 100) is None and rate(None, 10, 100) is None
    vec = rate(pd.Series([1, 2, None]), pd.Series([1000, 0, 1000]), 1_000)
    assert vec.iloc[0] == 1 and pd.isna(vec.iloc[1]) and pd.isna(vec.iloc[2])


def test_exclusions_for_several_periods_are_those_of_each_period():
    """The several-period lookup the quarterly outcome shares use gives, period by period, exactly the
    one-period lookup (rows and their order)."""
    from peel_helpers.measures.registry import MEASURES

    periods = ["2016-06-30", "2016-09-30", "2017-03-31", "2017-06-30", "2017-09-30", "2018-03-31"]
    for key in MEASURES:
        several = rules.exclusions_in(key, periods)
        for period in periods:
            one = rules.exclusions(key, period)
            mine = several[several["period_end"] == period].drop(columns="period_end").reset_index(drop=True)
            pd.testing.assert_frame_equal(mine, one, check_dtype=False)
    # no period: the rules for every period, each once (data/caveats.csv has one such row for the ASB rate
    # per head: Warwickshire's estimated incidents, and one for every rate per head: the City's population)
    assert sorted(rules.caveats("asb_incidents_per_1000", None)["force"]) == ["City of London", "Warwickshire"]


def test_a_quarter_left_out_of_several_windows_keeps_its_own_windows_reason(tmp_path, monkeypatch):
    """SYNTHETIC rules: Kent is left out of the outcome shares of the 12 months to 30 June 2017 (reason
    A) and to 30 September 2017 (reason B). Its April-June 2017 quarter lies in both windows and takes
    reason A (the quarter's own window comes first); July-September 2017 lies only in the second: B."""
    from peel_helpers.core.periods import FinancialQuarter
    from peel_helpers.measures import outcomes

    path = tmp_path / "exclusions.csv"
    path.write_text("measure,period_end,force,reason,source\n"
                    "outcomes,2017-06-30,Kent,reason A,synthetic\noutcomes,2017-09-30,Kent,reason B,synthetic\n",
                    encoding="utf-8")
    monkeypatch.setattr(rules, "EXCLUSIONS_PATH", path)
    for cached in (rules._table, rules._matched, outcomes._quarter_exclusions):
        cached.cache_clear()
    try:
        left = outcomes._quarter_exclusions("action_taken", (FinancialQuarter(2017, 1), FinancialQuarter(2017, 2)))
    finally:
        for cached in (rules._table, rules._matched, outcomes._quarter_exclusions):
            cached.cache_clear()
    assert list(left.itertuples(index=False, name=None)) == [("2017/18 Q1", "Kent", "reason A"),
                                                            ("2017/18 Q2", "Kent", "reason B")]


def test_implied_population_from_a_published_rate():
    assert implied_denominator(64, 75.4, 1_000_000) == pytest.approx(848_806, abs=1)
    assert implied_denominator(64, 0, 1_000_000) is None


def test_exclusion_rules_cover_annex_a():
    da = rules.exclusions("da_arrests_per_100", "2017-06-30")
    assert set(da["force"]) == {"Durham", "Lancashire", "Warwickshire", "West Mercia", "North Yorkshire"}
    da16 = rules.exclusions("da_arrests_per_100", "2016-06-30")
    assert {"Cambridgeshire", "Derbyshire", "Durham", "Gloucestershire"} <= set(da16["force"])
    assert list(rules.exclusions("ocg_per_million", "2018-03-31")["force"]) == ["City of London"]  # every period
    assert list(rules.exclusions("action_taken", "2017-06-30")["force"]) == ["Suffolk"]           # by family
    assert rules.exclusions("action_taken", "2018-03-31").empty


def test_caveats_reach_rates_per_head_only():
    assert "City of London" in set(rules.caveats("recorded_crime_per_1000", "2017-06-30")["force"])
    assert "City of London" not in set(rules.caveats("recorded_crime_change_pct", "2017-06-30")["force"])


def _rows(values: dict, measure="action_taken", period="2018-03-31", basis="reproduced", window="12 months") -> pd.DataFrame:
    """SYNTHETIC force rows: force -> (numerator, denominator)."""
    recs = []
    for force in FORCE_NAMES:
        num, den = values.get(force, (None, None))
        ok = num is not None
        recs.append({"force": force, "measure": measure, "period_end": period, "numerator": num, "denominator": den,
                     "value": 100 * num / den if ok else None, "basis": basis if ok else "not_available",
                     "status": "ok" if ok else "missing", "reason": None if ok else "not supplied",
                     "window": window if ok else None, "population_year": None, "flag": None})
    frame = pd.DataFrame(recs)
    for col in ("numerator", "denominator", "value"):
        frame[col] = frame[col].astype("Float64")
    return rules.apply(frame)


def test_aggregate_is_sum_over_sum_not_mean_of_rates():
    rows = _rows({f: (10, 100) for f in FORCE_NAMES} | {"City of London": (9, 10)})
    agg = aggregate.summed(rows).iloc[0]
    assert agg["value"] == pytest.approx(100 * (42 * 10 + 9) / (42 * 100 + 10))
    assert not math.isclose(agg["value"], rows["value"].mean())
    assert agg["force"] == "England and Wales" and agg["n_forces"] == 43 and pd.isna(agg["excluded"])


def test_a_sum_over_some_forces_is_never_called_england_and_wales():
    agg = aggregate.summed(_rows({"Kent": (10, 100), "Essex": (30, 100)}, basis="supplied")).iloc[0]
    assert agg["force"] == "2 of 43 forces" and agg["basis"] == "supplied" and agg["value"] == pytest.approx(20)
    assert "41 forces (not supplied)" in agg["excluded"]


def test_annex_a_exclusion_leaves_the_label_as_england_and_wales():
    rows = _rows({f: (10, 100) for f in FORCE_NAMES}, period="2017-06-30")   # Suffolk excluded for 2017
    agg = aggregate.summed(rows).iloc[0]
    assert agg["force"] == "England and Wales" and agg["n_forces"] == 42
    assert agg["excluded"].startswith("Suffolk (Annex A:")


def test_part_year_force_never_enters_a_12_month_sum():
    rows = _rows({f: (10, 100) for f in FORCE_NAMES})
    kent = rows["force"] == "Kent"
    rows.loc[kent, ["numerator", "denominator", "value", "basis", "window"]] = [
        90, 100, 90.0, "partial_window", "April–June 2017 only: 1 of 4 quarters"]
    agg = aggregate.summed(rows).iloc[0]
    assert agg["value"] == pytest.approx(10.0) and agg["n_forces"] == 42
    assert agg["force"] == "42 of 43 forces" and "Kent (only April–June 2017" in agg["excluded"]


def test_every_force_on_the_same_part_window_sums_that_part_and_says_so():
    rows = _rows({f: (10, 100) for f in FORCE_NAMES}, basis="partial_window",
                 window="April–June 2017 only: 1 of 4 quarters")
    agg = aggregate.summed(rows).iloc[0]
    assert agg["basis"] == "partial_window" and agg["force"] == "England and Wales"
    assert agg["window"] == "April–June 2017 only: 1 of 4 quarters" and agg["value"] == pytest.approx(10.0)


def test_one_force_with_only_a_part_window_is_a_one_force_part_sum():
    """SYNTHETIC: the only force with a value has it over part of the window: the sum is that part, over
    1 force, and never called England and Wales."""
    rows = _rows({"Kent": (15, 100)}, basis="partial_window", window="April–June 2017 only: 1 of 4 quarters")
    agg = aggregate.summed(rows).iloc[0]
    assert agg["basis"] == "partial_window" and agg["n_forces"] == 1 and agg["force"] == "1 of 43 forces"
    assert agg["value"] == pytest.approx(15.0)


def test_published_england_and_wales_stays_beside_a_partial_sum():
    rows = _rows({"Kent": (10, 100)}, measure="da_arrests_per_100", period="2017-06-30", basis="supplied")
    published = pd.DataFrame([{"measure": "da_arrests_per_100", "period_end": "2017-06-30", "value": 45.5,
                               "numerator": None, "denominator": None, "basis": "published", "note": "SYNTHETIC",
                               "source": "report", "window": "12 months"}])
    out = aggregate.rows(rows, published)
    assert list(out["force"]) == ["England and Wales", "1 of 43 forces"]
    assert list(out["basis"]) == ["published", "supplied"]
    assert out.iloc[0]["value"] == 45.5 and pd.isna(out.iloc[0]["n_forces"])


def test_flags_are_kept_whole_as_separate_items():
    """A flag containing "; " stays one item when flags are merged (it used to be cut at "; ")."""
    two_parts = "counted jointly with a neighbour; rate uses the combined population"
    merged = rules.merge_flags([[two_parts], None, ["a"]], [None, two_parts, ["a", two_parts]])
    assert merged == [[two_parts], [two_parts], ["a", two_parts]]
    rows = _rows({"Warwickshire": (1, 10), "West Mercia": (2, 10)}, measure="ocg_per_million", period="2016-06-30")
    warks = rows.set_index("force").loc["Warwickshire", "flag"]
    assert warks == ["2016 OCGs were counted jointly with West Mercia; rate uses the combined population"]


def test_a_caveat_on_a_summed_force_reaches_the_aggregate():
    """Cheshire's ASB count for the year ending March 2018 covers 11 months (caveats.csv): the sum that
    includes it carries the caveat; a sum that leaves Cheshire out does not."""
    everyone = _rows({f: (10, 1000) for f in FORCE_NAMES}, measure="asb_incidents_per_1000", period="2018-03-31")
    agg = aggregate.summed(everyone).iloc[0]
    assert agg["force"] == "England and Wales"
    assert any("Cheshire" in flag and "11 months" in flag for flag in agg["flag"]), agg["flag"]
    assert any("Warwickshire" in flag for flag in agg["flag"])
    without = _rows({f: (10, 1000) for f in FORCE_NAMES if f not in ("Cheshire", "Warwickshire")},
                    measure="asb_incidents_per_1000", period="2018-03-31")
    part = aggregate.summed(without).iloc[0]
    assert part["force"] == "41 of 43 forces"
    assert not any("Cheshire" in flag or "Warwickshire" in flag for flag in part["flag"]), part["flag"]


def test_a_caveat_on_an_excluded_force_does_not_reach_the_aggregate():
    rows = _rows({f: (10, 100) for f in FORCE_NAMES}, measure="asb_powers_per_million", period="2017-06-30")
    rows.loc[rows["force"] == "Merseyside", "status"] = "excluded"
    agg = aggregate.summed(rows).iloc[0]
    assert any("Hertfordshire" in flag for flag in agg["flag"])
    assert not any("Merseyside" in flag for flag in agg["flag"])


def test_rate_of_series_is_nullable_float():
    out = rate(pd.Series([1, 3, None]), pd.Series([2, 0, 4]), 100)
    assert str(out.dtype) == "Float64"
    assert out[0] == 50 and pd.isna(out[1]) and pd.isna(out[2])     # a zero or missing part gives NA
