"""Measures computed from the real official files (offline mirror), by the project's own code."""

import pandas as pd
import pytest

from peel_helpers import measures
from peel_helpers.core.errors import ParameterError, PeriodError
from peel_helpers.core.forces import FORCE_NAMES

pytestmark = pytest.mark.realdata

JUNE_2017 = "2017-06-30"
MARCH_2018 = "2018-03-31"


@pytest.fixture(autouse=True)
def _data(real_data_dir):
    measures.clear_caches()
    yield
    measures.clear_caches()


def test_recorded_crime_rate_uses_mid_2016_population():
    r = measures.force_value("recorded_crime_per_1000", "Cambridgeshire Constabulary", JUNE_2017)
    assert r.numerator == 61_699 and r.denominator == 841_300
    assert r.value == pytest.approx(1000 * 61_699 / 841_300)
    assert r.display == "73.3"
    change = measures.force_value("recorded_crime_change_pct", "cambridgeshire", JUNE_2017)
    assert change.value == pytest.approx(100 * (61_699 - 49_750) / 49_750)
    assert change.display.startswith("+24.0")


def test_by_force_shape_and_city_of_london_flag():
    frame = measures.by_force("recorded_crime_per_1000", JUNE_2017)
    assert list(frame["force"]) == list(FORCE_NAMES)
    assert (frame["status"] == "ok").all()
    city = frame.set_index("force").loc["City of London"]
    assert "transient" in city["flag"]
    assert frame.set_index("force").loc["Kent", "flag"] is pd.NA or pd.isna(frame.set_index("force").loc["Kent", "flag"])


def test_england_and_wales_is_sum_over_sum():
    frame = measures.by_force("recorded_crime_per_1000", JUNE_2017)
    agg = measures.england_and_wales("recorded_crime_per_1000", JUNE_2017)
    assert agg.value == pytest.approx(1000 * frame["numerator"].sum() / frame["denominator"].sum())
    assert agg.value != pytest.approx(frame["value"].mean(), abs=0.01)
    assert len(agg.included) == 43 and agg.excluded.empty


def test_outcome_shares_for_a_fully_covered_window():
    shares = {k: measures.force_value(k, "Cambridgeshire", MARCH_2018) for k in measures.MEASURES
              if k.startswith("outcome_") or k == "action_taken"}
    assert all(r.status == "ok" for r in shares.values())
    parts = ["outcome_charge_summons", "outcome_tic", "outcome_ooc_formal", "outcome_ooc_informal"]
    assert shares["action_taken"].value == pytest.approx(sum(shares[k].value for k in parts))
    whole = shares["outcome_charge_summons"].denominator
    assert whole == 17_126 + 16_988 + 17_013 + 15_067  # offences recorded in 2017/18, summed over outcome types


def test_partial_window_is_never_computed_as_whole():
    frame = measures.by_force("outcome_charge_summons", JUNE_2017)
    non_excluded = frame[frame["status"] != "excluded"]
    assert (non_excluded["status"] == "partial").all() and frame["value"].isna().all()
    reason = non_excluded["reason"].iloc[0]
    for q in ("2016/17 Q2", "2016/17 Q3", "2016/17 Q4"):
        assert q in reason
    assert "mar2017" in reason  # names the Home Office workbook that would supply them
    ew = measures.ew_value("outcome_charge_summons", JUNE_2017)
    assert ew.value is None and ew.display == measures.DASH and "partial" in ew.reason
    cov = measures.outcome_coverage(JUNE_2017)
    assert cov["missing"] == ["2016/17 Q2", "2016/17 Q3", "2016/17 Q4"] and cov["available"] == ["2017/18 Q1"]


def test_annex_a_exclusion_shows_as_dash_with_reason():
    suffolk = measures.force_value("action_taken", "Suffolk", JUNE_2017)
    assert suffolk.display == measures.DASH and suffolk.reason.startswith("Annex A:")


def test_asb_rate_beside_ons_rate():
    cmp = measures.asb_rate_comparison(JUNE_2017).set_index("force")
    cam = cmp.loc["Cambridgeshire"]
    assert cam["incidents"] == 24_288 and cam["population"] == 841_300  # ONS P7, Apr 2016 to Mar 2017
    assert cam["rate_per_1000"] == pytest.approx(1000 * 24_288 / 841_300)
    # ONS's published rate rests on an older population base; nothing is tuned to match it
    diff = (cmp["rate_per_1000"] - cmp["ons_rate_per_1000"]).abs().dropna()
    assert 0.2 < diff.max() < 0.7  # up to about 0.6 per 1,000
    city = cmp.loc["City of London"]
    assert pd.isna(city["ons_rate_per_1000"]) and "+" in city["ons_rate_note"]


def test_asb_rates_sit_near_mid_2015_in_ons_tables():
    from peel_helpers import data

    pop = data.load("population")
    p15 = pop[pop.mid_year == 2015].set_index("force")["population"]
    cmp = measures.asb_rate_comparison(JUNE_2017).set_index("force")
    with_15 = 1000 * cmp["incidents"] / p15.reindex(cmp.index)
    gap = (with_15 - cmp["ons_rate_per_1000"]).abs().dropna()
    assert gap.max() < 0.25


def test_population_fallback_is_flagged_not_hidden():
    # Annex A's base for the 12 months to 31 March 2018 is mid-2017, which the population table now
    # holds (ONS Table P3, year ending June 2018): it is used as it is, with no fallback note.
    pop = measures.population(MARCH_2018)
    assert set(pop["population_year"]) == {2017}
    assert pop["note"].isna().all()
    assert pop.set_index("force").loc["Cambridgeshire", "population"] == 847_200
    frame = measures.by_force("recorded_crime_per_1000", MARCH_2018)
    assert not frame["flag"].fillna("").str.contains("latest available").any()


def test_force_in_numbers_has_every_panel():
    fin = measures.force_in_numbers("Cambridgeshire", JUNE_2017)
    assert len(fin) == len(measures.FORCE_IN_NUMBERS)
    row = fin.set_index("measure").loc["Recorded crime (excluding fraud) per 1,000 population"]
    assert row["Cambridgeshire"] == "73.3"


def test_bad_inputs_give_one_line_errors():
    with pytest.raises(ParameterError, match="Unknown measure"):
        measures.by_force("crime_rate", JUNE_2017)
    with pytest.raises(PeriodError) as err:
        measures.by_force("recorded_crime_per_1000", "2030-06-30")
    assert "covers" in str(err.value) and "\n" not in str(err.value)
