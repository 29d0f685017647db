"""Rate maths and the England and Wales aggregation rule (synthetic numbers only)."""

import math

import pandas as pd
import pytest

from peel_helpers.measures import rates
from peel_helpers.core.forces import FORCE_NAMES


def test_scalar_rates():
    assert rates.per_1000(61_699, 841_300) == pytest.approx(73.3377, abs=1e-4)
    assert rates.per_million(64, 841_300) == pytest.approx(76.07, abs=0.01)
    assert rates.per_100(528, 1000) == pytest.approx(52.8)
    assert rates.share_pct(105, 1000) == pytest.approx(10.5)
    assert rates.pct_change(61_699, 49_750) == pytest.approx(24.018, abs=1e-3)


def test_missing_and_zero_denominators_give_none():
    assert rates.per_1000(None, 100) is None
    assert rates.per_1000(5, 0) is None
    assert rates.pct_change(5, None) is None
    vec = rates.per_1000(pd.Series([1, 2, None]), pd.Series([1000, 0, 1000]))
    assert vec.iloc[0] == 1 and pd.isna(vec.iloc[1]) and pd.isna(vec.iloc[2])


def test_implied_population_from_a_published_rate():
    # 64 warrants at 75.4 per million implies about 848,800 people
    assert rates.implied_denominator(64, 75.4, 1_000_000) == pytest.approx(848_806, abs=1)


def _frame(values):
    return pd.DataFrame({"force": list(values), "numerator": [v[0] for v in values.values()],
                         "denominator": [v[1] for v in values.values()]})


def test_aggregate_is_sum_over_sum_not_mean_of_rates():
    frame = _frame({"Metropolitan Police": (900, 9_000_000), "City of London": (9, 9_000)})
    agg = rates.aggregate(frame, "some_measure", "2018-03-31", scale=1_000)
    assert agg.value == pytest.approx(1_000 * 909 / 9_009_000)
    mean_of_rates = (0.1 + 1.0) / 2
    assert not math.isclose(agg.value, mean_of_rates)
    assert agg.included == ["City of London", "Metropolitan Police"] or set(agg.included) == {"City of London", "Metropolitan Police"}
    # every other force is reported as excluded, with a reason
    assert len(agg.excluded) == 41 and agg.excluded["reason"].notna().all()


def test_annex_a_exclusions_are_data_and_reported():
    frame = _frame({name: (10, 100) for name in FORCE_NAMES})
    frame.loc[frame.force == "Suffolk", "numerator"] = 90
    agg = rates.aggregate(frame, "action_taken", "2017-06-30", family="outcomes", scale=100)
    assert agg.value == pytest.approx(10.0)  # Suffolk's 90% is left out
    assert list(agg.excluded["force"]) == ["Suffolk"]
    assert agg.excluded["reason"].iloc[0].startswith("Annex A:")
    # the same rule does not apply to another period
    later = rates.aggregate(frame, "action_taken", "2018-03-31", family="outcomes", scale=100)
    assert later.excluded.empty and later.value > 10.0


def test_exclusion_rules_cover_annex_a():
    da = rates.exclusions("da_arrests_per_100", "2017-06-30", "da_arrests")
    assert set(da["force"]) == {"Durham", "Lancashire", "Warwickshire", "West Mercia", "North Yorkshire"}
    da16 = rates.exclusions("da_arrests_per_100", "2016-06-30", "da_arrests")
    assert {"Cambridgeshire", "Derbyshire", "Durham", "Gloucestershire"} <= set(da16["force"])
    ocg = rates.exclusions("ocg_per_million", "2018-03-31", "ocg")
    assert list(ocg["force"]) == ["City of London"]  # structural: every period


def test_city_of_london_population_caveat_recorded():
    flags = rates.caveats("population", "2017-06-30")
    assert "City of London" in set(flags["force"])
    assert flags.loc[flags.force == "City of London", "flag"].str.contains("transient").all()
