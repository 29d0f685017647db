"""The results table checked against oracles: every expected value is computed here, from the raw
official files of the offline mirror, by an independent path (the csv module and openpyxl), never
from the package's readers or measures."""

from __future__ import annotations

import csv
import gzip
import re
from collections import defaultdict

import pandas as pd
import pytest

from peel_helpers import results
from peel_helpers.core.errors import ParameterError, PeriodError, UnknownForceError
from peel_helpers.core.forces import FORCE_NAMES
from peel_helpers.measures import COLUMNS, clear_caches

pytestmark = pytest.mark.realdata

FORCES = ("Cambridgeshire", "Kent", "City of London", "Metropolitan Police")
NOT_TERRITORIAL = {"British Transport Police", "Action Fraud", "CIFAS", "UK Finance"}
ACTION_TAKEN = (1, 2, 3, 4, 6, 7, 8)


@pytest.fixture(scope="module", autouse=True)
def _fresh(real_data_dir, no_user_data_return_module):
    clear_caches()
    yield
    clear_caches()


# --------------------------------------------------------------------------- oracles (independent reads)

@pytest.fixture(scope="module")
def crime_counts(raw_files) -> dict:
    """(period label dd-mm-yyyy, PFA) -> recorded crime excluding fraud, summed with the csv module."""
    out = defaultdict(int)
    with open(raw_files["rec_crime_pfa"], newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            if row["Offence"] != "Fraud offences":
                out[(row["12 months ending"], row["PFA"])] += int(row["Rolling year total number of offences"])
    return out


def _sheet(path, name) -> list[tuple]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    return list(wb[name].iter_rows(values_only=True))


def _clean(name) -> str:
    return re.sub(r"\d+$", "", str(name)).strip()


@pytest.fixture(scope="module")
def populations(raw_files) -> dict:
    """(area name, mid-year) -> population from Table P9, read with openpyxl; force rows have E23/W15 codes."""
    rows = _sheet(raw_files["pfa_tables_mar2018"], "Table P9")
    header = next(r for r in rows if r[0] == "Area Code")
    out = {}
    for r in rows:
        if r[0] and re.match(r"^(E23|W15)\d{6}$", str(r[0])):
            for year, value in zip(header[2:], r[2:]):
                if isinstance(year, int) and value is not None:
                    out[(_clean(r[1]), year)] = int(value)
    return out


@pytest.fixture(scope="module")
def asb_counts(raw_files) -> dict:
    """(area name, year ending March) -> ASB incidents from Table P7, read with openpyxl."""
    rows = _sheet(raw_files["pfa_tables_mar2018"], "Table P7")
    h = next(i for i, r in enumerate(rows) if r[0] == "Area Code")
    years = {}
    for j, label in enumerate(rows[h - 1]):
        m = re.search(r"Mar '(\d\d)", str(label or ""))
        if m:
            years[j] = 2000 + int(m.group(1))
    out = {}
    for r in rows[h + 1:]:
        if r[0] and re.match(r"^(E23|W15)\d{6}$", str(r[0])):
            for j, year in years.items():
                if isinstance(r[j], (int, float)):
                    out[(_clean(r[1]), year)] = int(r[j])
    return out


@pytest.fixture(scope="module")
def outcome_sums(raw_files) -> dict:
    """(force_name, quarter, outcome_type) -> offences, from the gzipped CSV with the csv module."""
    out = defaultdict(int)
    with gzip.open(raw_files["outcomes_2017_18_csv"], "rt", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["financial_year"] == "2017/18":
                out[(row["force_name"], int(row["financial_quarter"]), int(row["outcome_type"]))] += int(row["offences"])
    return out


def _raw_outcome_name(force: str) -> str:
    return "London, City of" if force == "City of London" else force


def _row(table: pd.DataFrame, force: str, measure: str, period: str) -> pd.Series:
    rows = table[(table["force"] == force) & (table["measure"] == measure) & (table["period_end"] == period)]
    assert len(rows) == 1, (force, measure, period, len(rows))
    return rows.iloc[0]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return results()


# --------------------------------------------------------------------------- recorded crime

@pytest.mark.parametrize("force", FORCES)
@pytest.mark.parametrize("period, label, year", [("2017-06-30", "30-06-2017", 2016), ("2016-06-30", "30-06-2016", 2015)])
def test_recorded_crime_rate_against_raw_files(table, crime_counts, populations, force, period, label, year):
    row = _row(table, force, "recorded_crime_per_1000", period)
    count, pop = crime_counts[(label, force)], populations[(force, year)]
    assert row["numerator"] == count and row["denominator"] == pop
    assert row["value"] == pytest.approx(1000 * count / pop, rel=1e-12)
    assert row["basis"] == "reproduced" and row["population_year"] == year
    assert "rec-crime-pfa.csv" in row["source"] and "policeforceareatablesyearendingmarch2018v2.xlsx" in row["source"]


@pytest.mark.parametrize("force", FORCES)
def test_recorded_crime_change_against_raw_files(table, crime_counts, force):
    row = _row(table, force, "recorded_crime_change_pct", "2017-06-30")
    new, old = crime_counts[("30-06-2017", force)], crime_counts[("30-06-2016", force)]
    assert row["value"] == pytest.approx(100 * (new - old) / old, rel=1e-12)


def test_england_and_wales_recorded_crime_is_sum_over_sum(table, crime_counts, populations):
    count = sum(v for (label, pfa), v in crime_counts.items() if label == "30-06-2017" and pfa not in NOT_TERRITORIAL)
    pop = sum(v for (name, year), v in populations.items() if year == 2016)
    row = _row(table, "England and Wales", "recorded_crime_per_1000", "2017-06-30")
    assert row["value"] == pytest.approx(1000 * count / pop, rel=1e-12)
    assert row["n_forces"] == 43 and row["area"] == "aggregate" and pd.isna(row["excluded"])


def test_must_show_values(table):
    cam = _row(table, "Cambridgeshire", "recorded_crime_per_1000", "2017-06-30")
    assert round(cam["value"], 1) == 73.3 and cam["basis"] == "reproduced" and cam["population_year"] == 2016
    da = _row(table, "Cambridgeshire", "da_arrests_per_100", "2017-06-30")
    assert da["value"] == pytest.approx(52.8) and da["basis"] == "published"
    ew = table[(table["area"] == "aggregate") & (table["measure"] == "recorded_crime_per_1000")]
    assert ew["n_forces"].notna().all()


# --------------------------------------------------------------------------- outcomes

@pytest.mark.parametrize("force", ("Cambridgeshire", "Kent", "Sussex", "City of London"))
@pytest.mark.parametrize("measure, types", [("outcome_charge_summons", (1,)), ("action_taken", ACTION_TAKEN),
                                            ("outcome_not_yet_assigned", (0,))])
def test_outcome_shares_against_raw_file(table, outcome_sums, force, measure, types):
    name = _raw_outcome_name(force)
    num = sum(v for (f, q, t), v in outcome_sums.items() if f == name and t in types)
    den = sum(v for (f, q, t), v in outcome_sums.items() if f == name)
    row = _row(table, force, measure, "2018-03-31")
    assert row["numerator"] == num and row["denominator"] == den
    assert row["value"] == pytest.approx(100 * num / den, rel=1e-12)
    assert row["basis"] == "reproduced" and row["window"] == "12 months to 31 March 2018"


def test_outcomes_england_and_wales_full_year(table, outcome_sums):
    num = sum(v for (f, q, t), v in outcome_sums.items() if f != "British Transport Police" and t in ACTION_TAKEN)
    den = sum(v for (f, q, t), v in outcome_sums.items() if f != "British Transport Police")
    row = _row(table, "England and Wales", "action_taken", "2018-03-31")
    assert row["value"] == pytest.approx(100 * num / den, rel=1e-12) and row["n_forces"] == 43


def test_report_window_is_drawn_from_the_one_quarter_loaded(table, outcome_sums):
    """12 months to 30 June 2017: only 2017/18 Q1 is loaded. Shares are over that quarter, labelled as
    part of the window; England and Wales leaves out Suffolk (Annex A) and says so."""
    kent = _row(table, "Kent", "action_taken", "2017-06-30")
    num = sum(v for (f, q, t), v in outcome_sums.items() if f == "Kent" and q == 1 and t in ACTION_TAKEN)
    den = sum(v for (f, q, t), v in outcome_sums.items() if f == "Kent" and q == 1)
    assert kent["value"] == pytest.approx(100 * num / den, rel=1e-12)
    assert kent["basis"] == "partial_window" and kent["window"] == "April–June 2017 only: 1 of 4 quarters"
    assert "2016/17 Q2, 2016/17 Q3, 2016/17 Q4" in kent["reason"]
    ew = _row(table, "England and Wales", "action_taken", "2017-06-30")
    keep = [f for f in {k[0] for k in outcome_sums} if f not in ("British Transport Police", "Suffolk")]
    num = sum(v for (f, q, t), v in outcome_sums.items() if f in keep and q == 1 and t in ACTION_TAKEN)
    den = sum(v for (f, q, t), v in outcome_sums.items() if f in keep and q == 1)
    assert ew["value"] == pytest.approx(100 * num / den, rel=1e-12)
    assert ew["basis"] == "partial_window" and ew["n_forces"] == 42 and ew["excluded"].startswith("Suffolk (Annex A")
    suffolk = _row(table, "Suffolk", "action_taken", "2017-06-30")
    assert pd.isna(suffolk["value"]) and suffolk["status"] == "excluded" and suffolk["basis"] == "not_available"


def test_one_england_and_wales_value_for_april_june_2017(table, outcome_sums):
    """April–June 2017 is Figure 1's window for the 12 months to 30 June 2017 (Suffolk left out by Annex A)
    and a quarter of the trends section: both give the same England and Wales value, over 42 forces
    (it was 15.959% over 42 in the figure and 15.980% over 43 in trends)."""
    from peel_helpers.measures import outcomes

    keep = [f for f in {k[0] for k in outcome_sums} if f not in ("British Transport Police", "Suffolk")]
    num = sum(v for (f, q, t), v in outcome_sums.items() if f in keep and q == 1 and t in ACTION_TAKEN)
    den = sum(v for (f, q, t), v in outcome_sums.items() if f in keep and q == 1)
    quarters = outcomes.by_quarter(["action_taken"])
    ew = quarters[(quarters["area"] == "aggregate") & (quarters["quarter"] == "2017/18 Q1")].iloc[0]
    figure = _row(table, "England and Wales", "action_taken", "2017-06-30")
    assert ew["value"] == pytest.approx(100 * num / den, rel=1e-12) == figure["value"]
    assert ew["n_forces"] == figure["n_forces"] == 42 and ew["excluded"].startswith("Suffolk (Annex A")
    suffolk = quarters[(quarters["force"] == "Suffolk") & (quarters["quarter"] == "2017/18 Q1")].iloc[0]
    assert pd.isna(suffolk["value"]) and suffolk["status"] == "excluded" and suffolk["reason"].startswith("Annex A")
    later = quarters[(quarters["area"] == "aggregate") & (quarters["quarter"] == "2017/18 Q2")].iloc[0]
    assert later["n_forces"] == 43     # the 2017 exclusion covers only the windows that contain the quarter
    assert quarters["source"].str.contains("outcomes-open-data-2017-18.csv.gz (sha256 ", regex=False).all()
    counted = quarters[quarters["status"] == "ok"]
    assert len(counted) > 100 and (counted["basis"] == "reproduced").all()


def test_sussex_negative_not_yet_assigned_is_flagged(table, outcome_sums):
    net = sum(v for (f, q, t), v in outcome_sums.items() if f == "Sussex" and t == 0)
    assert net == -70   # the source's own figure, summed here
    row = _row(table, "Sussex", "outcome_not_yet_assigned", "2018-03-31")
    assert row["numerator"] == -70 and row["value"] < 0
    assert any("negative rows in the source" in flag for flag in row["flag"])
    kent = _row(table, "Kent", "outcome_charge_summons", "2018-03-31")   # no negative rows in its count
    assert not any("negative" in flag for flag in kent["flag"])


def test_a_flag_is_one_item_of_a_list_never_cut_into_fragments(table, raw_files):
    """Gwent's negative-count flag contains "; ": it is one item of the row's flag list, and Force in
    numbers shows it as one note (it used to show "...(summing to -44", "kept as published)", ...)."""
    negative = 0
    with gzip.open(raw_files["outcomes_2017_18_csv"], "rt", newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            if rec["force_name"] == "Gwent" and rec["outcome_type"] == "0" and int(rec["offences"]) < 0:
                negative += int(rec["offences"])
    assert negative < 0
    row = _row(table, "Gwent", "outcome_not_yet_assigned", "2018-03-31")
    assert isinstance(row["flag"], list) and len(row["flag"]) == 1, row["flag"]
    (flag,) = row["flag"]
    assert f"(summing to {negative:,.0f}; kept as published)" in flag and flag.startswith("the count includes")
    from peel_helpers.reports import notebook as nb

    notes = nb.force_in_numbers(nb.validate(force="Gwent", period_end="2018-03-31")).notes()
    assert flag in notes
    assert not [n for n in notes if n.startswith("kept as published") or n.startswith("without them")], notes


def test_cheshire_caveat_reaches_the_england_and_wales_asb_sum(table, asb_counts):
    """The England and Wales ASB rate for the year ending March 2018 sums Cheshire's 11-month count
    (ONS footnote), so its row carries that caveat."""
    cheshire = _row(table, "Cheshire", "asb_incidents_per_1000", "2018-03-31")
    assert cheshire["numerator"] == asb_counts[("Cheshire", 2018)]
    assert any("11 months" in flag for flag in cheshire["flag"])
    ew = _row(table, "England and Wales", "asb_incidents_per_1000", "2018-03-31")
    assert ew["n_forces"] == 43 and ew["numerator"] == sum(v for (f, y), v in asb_counts.items() if y == 2018)
    assert any("Cheshire" in flag and "11 months" in flag for flag in ew["flag"]), ew["flag"]


# --------------------------------------------------------------------------- anti-social behaviour

@pytest.mark.parametrize("force", ("Cambridgeshire", "Kent", "City of London", "Metropolitan Police"))
def test_asb_rate_against_raw_file(table, asb_counts, populations, force):
    row = _row(table, force, "asb_incidents_per_1000", "2017-06-30")
    incidents, pop = asb_counts[(force, 2017)], populations[(force, 2016)]
    assert row["value"] == pytest.approx(1000 * incidents / pop, rel=1e-12)
    assert row["window"] == "year ending 31 March 2017" and row["population_year"] == 2016
    # ASB incidents come from ONS Table P7 of the March 2018 workbook, never from the crime or outcome files
    assert "policeforceareatablesyearendingmarch2018v2.xlsx (sha256 " in row["source"]
    assert "rec-crime-pfa.csv" not in row["source"] and "outcomes-open-data" not in row["source"]


def test_asb_england_and_wales(table, asb_counts, populations):
    incidents = sum(v for (name, year), v in asb_counts.items() if year == 2017)
    pop = sum(v for (name, year), v in populations.items() if year == 2016)
    row = _row(table, "England and Wales", "asb_incidents_per_1000", "2017-06-30")
    assert row["value"] == pytest.approx(1000 * incidents / pop, rel=1e-12) and row["n_forces"] == 43


# --------------------------------------------------------------------------- data return (published values)

def test_published_values_keep_their_basis(table):
    from peel_helpers.core.paths import PUBLISHED_DIR

    with open(PUBLISHED_DIR / "data_return.csv", newline="", encoding="utf-8") as fh:
        published = {(r["force"], r["measure"]): r for r in csv.DictReader(fh)}
    for (force, base), key in ((("Cambridgeshire", "da_arrests"), "da_arrests_per_100"),
                               (("England and Wales", "da_arrests"), "da_arrests_per_100"),
                               (("England and Wales", "eaw"), "eaw_per_million")):
        row = _row(table, force, key, "2017-06-30")
        assert row["value"] == pytest.approx(float(published[(force, base)]["value"]))
        assert row["basis"] == "published" and "PEEL: Police effectiveness 2017" in row["source"]
    ew = _row(table, "England and Wales", "da_arrests_per_100", "2017-06-30")
    assert pd.isna(ew["n_forces"]) and "Durham" in ew["excluded"]   # published, not a sum: no count


# --------------------------------------------------------------------------- the API

def test_columns_and_one_row_per_key(table):
    assert list(table.columns) == list(COLUMNS)
    assert str(table["value"].dtype) == "Float64" and str(table["population_year"].dtype) == "Int64"
    assert set(table["basis"]) <= {"reproduced", "published", "supplied", "partial_window", "not_available"}
    key = table[table["area"] == "force"][["force", "measure", "period_end"]]
    assert not key.duplicated().any()
    assert set(table[table["area"] == "force"]["force"]) == set(FORCE_NAMES)
    assert table.loc[table["basis"] == "not_available", "value"].isna().all()
    assert table.loc[table["basis"] == "not_available", "reason"].notna().all()


def test_narrowing_and_spellings():
    rows = results(forces=["cambridgeshire constabulary", "E23000032"], measures="recorded_crime_per_1000",
                   periods="30/06/2017")
    assert set(rows["force"]) == {"Cambridgeshire", "Kent", "England and Wales"}
    assert set(results(forces="Kent", measures="action_taken", periods="2018-03-31", aggregates=False)["force"]) == {"Kent"}


@pytest.mark.parametrize("kwargs, error, text", [
    ({"measures": "crime_rate"}, ParameterError, "did you mean"),
    ({"forces": "Atlantis"}, UnknownForceError, "Unknown force 'Atlantis'"),
    ({"periods": "2030-06-30"}, PeriodError, "No source covers"),
    ({"periods": "2017-05-31"}, PeriodError, "not a quarter end"),
])
def test_bad_arguments_are_one_line_errors(kwargs, error, text):
    with pytest.raises(error) as info:
        results(**kwargs)
    assert text in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("argument", ["forces", "measures", "periods"])
@pytest.mark.parametrize("empty", [[], (), set()])
def test_an_empty_list_is_a_clear_error_not_an_empty_or_a_whole_table(argument, empty):
    """Case 16: ``periods=[]`` gave an empty frame, ``forces=[]`` the England and Wales rows, ``measures=[]``
    every measure, each without a word. An empty list now says what it means and what to pass instead."""
    with pytest.raises(ValueError) as info:
        results(**{argument: empty})
    msg = str(info.value)
    assert "\n" not in msg and f"{argument}=[]" in msg and "None" in msg, msg
    assert isinstance(info.value, ParameterError)


def test_england_and_wales_alone_is_asked_for_by_name():
    rows = results(forces=["England and Wales"], measures="recorded_crime_per_1000", periods="2018-03-31")
    assert list(rows["force"]) == ["England and Wales"] and set(rows["area"]) == {"aggregate"}


def test_check_periods_builds_no_rows_and_agrees_with_the_table(monkeypatch):
    """measures.check_periods: the periods the table holds are exactly those it accepts, and it computes
    no results to say so."""
    from peel_helpers import measures
    from peel_helpers.core.periods import Period
    from peel_helpers.measures import table

    held = sorted(set(results(forces=["England and Wales"])["period_end"]))

    def no_build(*args, **kwargs):
        raise AssertionError("check_periods built the results table")

    monkeypatch.setattr(table, "build", no_build)
    monkeypatch.setattr(table, "_full", no_build)
    assert [p.iso for p in measures.check_periods(held)] == held
    assert measures.check_periods([Period.parse("2017-06-30")]) == [Period.parse("2017-06-30")]
    for bad in ("2030-06-30", "1999-03-31"):
        with pytest.raises(PeriodError, match="No source covers"):
            measures.check_periods([bad])
    with pytest.raises(ParameterError, match=r"periods=\[\]"):
        measures.check_periods([])


def test_the_rules_shown_for_the_2017_window_are_annex_a_exclusions():
    """What a report's "About the data" lists for the 12 months to 30 June 2017: the forces Annex A of
    the 2017 report leaves out, written down here from its text, each with its reason and source."""
    from peel_helpers.core.periods import Period
    from peel_helpers.measures import rules

    excluded, caveats = rules.rules_for(Period.parse("2017-06-30"))
    pairs = set(zip(excluded["force"], excluded["measure"]))
    annex_a = {("Durham", "da_arrests_per_100"), ("Lancashire", "da_arrests_per_100"),
               ("Warwickshire", "da_arrests_per_100"), ("West Mercia", "da_arrests_per_100"),
               ("North Yorkshire", "da_arrests_per_100"), ("Suffolk", "action_taken"),
               ("Bedfordshire", "asb_powers_per_million"), ("Greater Manchester", "asb_powers_per_million"),
               ("Metropolitan Police", "asb_powers_per_million"), ("Suffolk", "asb_powers_per_million")}
    assert annex_a <= pairs
    assert set(excluded["period_end"].astype(str).str[:10]) == {"2017-06-30"}
    assert excluded["reason"].str.len().gt(10).all() and excluded["source"].str.startswith("Annex A").all()
    assert ("City of London", "recorded_crime_per_1000") in set(zip(caveats["force"], caveats["measure"]))
    assert list(caveats.columns) == ["measure", "period_end", "force", "flag", "assumption"]


def test_a_window_with_no_outcome_data_counts_nothing(table):
    """A force × window the outcome files do not cover has no count at all, not a count of 0 (which would
    read as "no offences had this outcome"). Most such rows are windows before the loaded outcome files begin."""
    outcome = table[table["measure"].str.startswith("outcome_") | (table["measure"] == "action_taken")]
    missing = outcome[outcome["status"] == "missing"]
    assert len(missing) > 1000 and missing["numerator"].isna().all() and missing["value"].isna().all()


def test_england_and_wales_gives_the_forces_common_reason_when_none_has_a_value(table):
    """No outcome data before the loaded files: every force's row says why, and so, in the same words,
    does England and Wales (it is not summed from nothing)."""
    ew = _row(table, "England and Wales", "action_taken", "2005-03-31")
    kent = _row(table, "Kent", "action_taken", "2005-03-31")
    assert pd.isna(ew["value"]) and kent["reason"].startswith("partial window: outcomes for 2004/05 Q1")
    assert ew["reason"] == kent["reason"]
