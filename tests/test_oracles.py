"""Oracles for every force, England and Wales, every measure family and a spread of windows.

Every expected value is computed here from the raw files of the offline mirror by an independent
path (the csv module and openpyxl, read once per module), never through the package's readers,
registry or constants. The definitions are written down here from the Home Office outcomes framework
and the report's Annex A:

* recorded crime excludes fraud ("Fraud offences", recorded nationally) and British Transport Police;
  the national fraud bodies (Action Fraud, CIFAS, UK Finance) are not forces;
* rates per head divide by the ONS mid-year estimate of the calendar year before the one the window
  ends in (Annex A: mid-2016 for the 12 months to 30 June 2017);
* ASB incidents are published for years ending 31 March: a window uses the latest such year ending
  on or before its end;
* outcome shares are outcomes of the given types over all offences recorded in the window's
  financial quarters; Annex A leaves Suffolk out of the 2017 outcomes and Dorset out of 2016's;
* England and Wales is sum of numerators over sum of denominators across the forces allowed.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import re
from collections import defaultdict

import pandas as pd
import pytest

from peel_helpers import results
from peel_helpers.measures import clear_caches

pytestmark = pytest.mark.realdata

NOT_FORCES = {"British Transport Police", "Action Fraud", "CIFAS", "UK Finance"}
FRAUD = "Fraud offences"
# Home Office outcomes framework, outcome type numbers (the open data's outcome_type column)
OUTCOME_TYPES = {
    "outcome_charge_summons": (1,),                  # charged/summonsed
    "outcome_tic": (4,),                             # taken into consideration
    "outcome_ooc_formal": (2, 3, 6),                 # cautions (youths, adults), penalty notices for disorder
    "outcome_ooc_informal": (7, 8),                  # cannabis/khat warning, community resolution
    "outcome_evidential_difficulties": (14, 16),     # evidential difficulties: victim does not support action
    "outcome_no_suspect": (18,),                     # investigation complete: no suspect identified
    "outcome_not_yet_assigned": (0,),
    "action_taken": (1, 2, 3, 4, 6, 7, 8),           # Annex A: charged/summonsed, TIC, out-of-court
}
# the Home Office's own group names for those types, as the raw file labels them
OUTCOME_GROUPS = {2: "Out-of-court (formal)", 3: "Out-of-court (formal)", 6: "Out-of-court (formal)",
                  7: "Out-of-court (informal)", 8: "Out-of-court (informal)", 1: "Charged/Summonsed",
                  4: "Taken into consideration", 14: "Evidential difficulties (victim does not support action)",
                  16: "Evidential difficulties (victim does not support action)",
                  18: "Investigation complete – no suspect identified", 0: "Not yet assigned an outcome"}
ANNEX_A_OUTCOME_EXCLUSIONS = {"2017-06-30": {"Suffolk"}, "2016-06-30": {"Dorset"}}

RECORDED_CRIME_WINDOWS = ["2004-03-31", "2008-06-30", "2011-03-31", "2013-12-31", "2016-06-30", "2017-06-30",
                          "2017-12-31", "2018-03-31", "2018-06-30", "2018-12-31"]
OUTCOME_WINDOWS = ["2016-06-30", "2017-06-30", "2017-09-30", "2017-12-31", "2018-03-31", "2018-06-30", "2018-12-31"]
ASB_WINDOWS = ["2008-03-31", "2010-06-30", "2013-12-31", "2016-09-30", "2017-06-30", "2018-03-31", "2018-12-31"]


# --------------------------------------------------------------------------- the raw files, read once

def _label(iso: str) -> str:
    """'2017-06-30' -> '30-06-2017', the file's date label (it writes 31 December 2017 as 30-12-2017)."""
    d = dt.date.fromisoformat(iso)
    return "30-12-2017" if iso == "2017-12-31" else d.strftime("%d-%m-%Y")


def _clean(name) -> str:
    return re.sub(r"\d+$", "", str(name)).strip()


def _rows(path, sheet) -> list[tuple]:
    import openpyxl

    return list(openpyxl.load_workbook(path, read_only=True, data_only=True)[sheet].iter_rows(values_only=True))


@pytest.fixture(scope="module")
def raw(raw_files) -> dict:
    crime = defaultdict(int)
    with open(raw_files["rec_crime_pfa"], newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            if row["Offence"] != FRAUD and row["PFA"] not in NOT_FORCES:
                crime[(row["12 months ending"], row["PFA"])] += int(row["Rolling year total number of offences"])
    forces = sorted({pfa for _, pfa in crime})
    codes = {}
    populations = {}
    p9 = _rows(raw_files["pfa_tables_mar2018"], "Table P9")
    header = next(r for r in p9 if r[0] == "Area Code")
    for r in p9:
        if r[0] and re.match(r"^(E23|W15)\d{6}$", str(r[0])):
            codes[str(r[0])] = _clean(r[1])
            for year, value in zip(header[2:], r[2:]):
                if isinstance(year, int) and value is not None:
                    populations[(_clean(r[1]), year)] = int(value)
    p3 = _rows(raw_files["pfa_tables_jun2018"], "Table P3")
    header = next(r for r in p3 if r[0] == "Area Code")
    col = next(i for i, h in enumerate(header) if h and "mid-2017" in str(h))
    for r in p3:
        if r[0] in codes:
            populations[(codes[r[0]], 2017)] = int(r[col])
    return {"crime": crime, "forces": forces, "populations": populations, "codes": codes,
            "asb": _asb(raw_files, codes), **_outcomes(raw_files)}


def _asb(raw_files, codes) -> dict:
    rows = _rows(raw_files["pfa_tables_mar2018"], "Table P7")
    h = next(i for i, r in enumerate(rows) if r[0] == "Area Code")
    years = {j: 2000 + int(m.group(1)) for j, label in enumerate(rows[h - 1])
             if (m := re.search(r"Mar '(\d\d)", str(label or "")))}
    out = {}
    for r in rows[h + 1:]:
        if r[0] in codes:
            for j, year in years.items():
                if isinstance(r[j], (int, float)):
                    out[(codes[r[0]], year)] = int(r[j])
    return out


def _outcomes(raw_files) -> dict:
    """(force, (start_year, quarter), type) -> offences; and the outcome groups the file gives each type."""
    sums, groups = defaultdict(int), defaultdict(set)
    with gzip.open(raw_files["outcomes_2017_18_csv"], "rt", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["force_name"] in ("NA", "", "British Transport Police"):
                continue
            force = "City of London" if row["force_name"] == "London, City of" else row["force_name"]
            quarter = (int(row["financial_year"][:4]), int(row["financial_quarter"]))
            sums[(force, quarter, int(row["outcome_type"]))] += int(row["offences"])
            groups[int(row["outcome_type"])].add(row["outcome_group"])
    return {"outcomes": sums, "outcome_groups": groups}


@pytest.fixture(scope="module")
def table(real_data_dir, no_user_data_return_module) -> pd.DataFrame:
    clear_caches()
    frame = results().set_index(["force", "measure", "period_end"])
    yield frame
    clear_caches()


# --------------------------------------------------------------------------- rules, written down here

def population_year(iso: str) -> int:
    return dt.date.fromisoformat(iso).year - 1


def asb_year(iso: str) -> int:
    d = dt.date.fromisoformat(iso)
    return d.year if d.month >= 3 else d.year - 1


def _quarters(iso: str) -> list[tuple[int, int]]:
    d = dt.date.fromisoformat(iso)
    end_q = {6: 1, 9: 2, 12: 3, 3: 4}[d.month]
    start = d.year - 1 if d.month == 3 else d.year
    out, year, q = [], start, end_q
    for _ in range(4):
        out.append((year, q))
        year, q = (year - 1, 4) if q == 1 else (year, q - 1)
    return sorted(out)


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def window_label(iso: str) -> str:
    d = dt.date.fromisoformat(iso)
    return f"12 months to {d.day} {MONTHS[d.month - 1]} {d.year}"


def part_label(quarters: list[tuple[int, int]]) -> str:
    """'April–June 2017 only: 1 of 4 quarters' for financial quarters (start year, quarter)."""
    first, last = quarters[0], quarters[-1]
    start_month = {1: 4, 2: 7, 3: 10, 4: 1}[first[1]]
    start_year = first[0] + (first[1] == 4)
    end_month = {1: 6, 2: 9, 3: 12, 4: 3}[last[1]]
    end_year = last[0] + (last[1] == 4)
    months = (f"{MONTHS[start_month - 1]}\u2013{MONTHS[end_month - 1]} {end_year}" if start_year == end_year else
              f"{MONTHS[start_month - 1]} {start_year}\u2013{MONTHS[end_month - 1]} {end_year}")
    return f"{months} only: {len(quarters)} of 4 quarters"


JUNE_2018_TABLES = "policeforceareadatatablesyearendingjune2018corrected.xlsx"   # mid-2017 (Table P3)
MARCH_2018_TABLES = "policeforceareatablesyearendingmarch2018v2.xlsx"           # mid-2002 to mid-2016 (Table P9)


def population_file(year: int) -> str:
    return JUNE_2018_TABLES if year == 2017 else MARCH_2018_TABLES


def _check(table, force, measure, period, value, numerator, denominator, *, sources=(), not_sources=(), **fields):
    row = table.loc[(force, measure, period)]
    problems = []
    if not (row["value"] == pytest.approx(value, rel=1e-12)):
        problems.append(f"value {row['value']} != {value}")
    if row["numerator"] != numerator or row["denominator"] != denominator:
        problems.append(f"counts {row['numerator']}/{row['denominator']} != {numerator}/{denominator}")
    for key, want in fields.items():
        if row[key] != want:
            problems.append(f"{key} {row[key]!r} != {want!r}")
    if fields.get("status") == "ok" and not pd.isna(row["reason"]):
        problems.append(f"a full value with a reason for being missing: {row['reason']!r}")
    for name in sources:
        if name not in str(row["source"]):
            problems.append(f"source {row['source']!r} does not name {name}")
    for name in not_sources:
        if name in str(row["source"]):
            problems.append(f"source {row['source']!r} names {name}, which does not supply this value")
    return [f"{force}, {measure}, {period}: " + "; ".join(problems)] if problems else []


# --------------------------------------------------------------------------- recorded crime

def test_the_file_holds_43_forces(raw):
    assert len(raw["forces"]) == 43 and len(raw["codes"]) == 43
    assert set(raw["forces"]) == set(raw["codes"].values())


@pytest.mark.parametrize("period", RECORDED_CRIME_WINDOWS)
def test_recorded_crime_rate_every_force_and_england_and_wales(table, raw, period):
    year, label = population_year(period), _label(period)
    problems = []
    for force in raw["forces"]:
        count, pop = raw["crime"][(label, force)], raw["populations"][(force, year)]
        problems += _check(table, force, "recorded_crime_per_1000", period, 1000 * count / pop, count, pop,
                           population_year=year, basis="reproduced", status="ok", window=window_label(period),
                           area="force", unit="per 1,000 population",
                           sources=("rec-crime-pfa.csv", population_file(year)),
                           not_sources=() if year == 2017 else (JUNE_2018_TABLES,))
    count = sum(raw["crime"][(label, f)] for f in raw["forces"])
    pop = sum(raw["populations"][(f, year)] for f in raw["forces"])
    problems += _check(table, "England and Wales", "recorded_crime_per_1000", period, 1000 * count / pop, count, pop,
                       population_year=year, n_forces=43, basis="reproduced", status="ok", area="aggregate",
                       window=window_label(period))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("period", [p for p in RECORDED_CRIME_WINDOWS if p >= "2004"])
def test_recorded_crime_change_every_force_and_england_and_wales(table, raw, period):
    d = dt.date.fromisoformat(period)
    before = _label(d.replace(year=d.year - 1).isoformat())
    problems = []
    for force in raw["forces"]:
        new, old = raw["crime"][(_label(period), force)], raw["crime"][(before, force)]
        problems += _check(table, force, "recorded_crime_change_pct", period, 100 * (new - old) / old, new - old, old,
                           basis="reproduced", status="ok", unit="% change", sources=("rec-crime-pfa.csv",),
                           window=f"{window_label(period)} vs "
                                  f"{window_label(d.replace(year=d.year - 1).isoformat())[len('12 months to '):]}")
    new = sum(raw["crime"][(_label(period), f)] for f in raw["forces"])
    old = sum(raw["crime"][(before, f)] for f in raw["forces"])
    problems += _check(table, "England and Wales", "recorded_crime_change_pct", period, 100 * (new - old) / old,
                       new - old, old, n_forces=43)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("period, previous", [("2003-03-31", "2002-03-31"), ("2007-06-30", "2006-06-30")])
def test_a_change_with_no_previous_window_in_the_file_is_missing(table, raw, period, previous):
    assert _label(previous) not in {label for label, _ in raw["crime"]}     # the file has no such window
    for force in ("Kent", "City of London", "England and Wales"):
        row = table.loc[(force, "recorded_crime_change_pct", period)]
        assert pd.isna(row["value"]) and row["basis"] == "not_available" and row["status"] == "missing", force
    row = table.loc[("Kent", "recorded_crime_change_pct", period)]
    assert row["reason"] == f"no 12 months to {previous} in rec-crime-pfa.csv to compare with"
    rate = table.loc[("Kent", "recorded_crime_per_1000", period)]
    assert rate["status"] == "ok" and pd.isna(rate["reason"])


def test_a_window_the_file_does_not_cover_says_so_before_the_population(real_data_dir):
    """The 12 months to 31 March 2019: neither counts nor mid-2018 are loaded; the file's gap is the reason."""
    from peel_helpers.core.periods import Period
    from peel_helpers.measures import crime
    from peel_helpers.measures.registry import MEASURES

    rows = crime.rows([MEASURES["recorded_crime_per_1000"]], [Period.parse("2019-03-31")])
    assert len(rows) == 43 and rows["value"].isna().all() and (rows["status"] == "missing").all()
    assert rows["reason"].str.startswith("rec-crime-pfa.csv has no 12 months ending on this date (it covers "
                                         "2003-03-31 to 2018-12-31)").all()


# --------------------------------------------------------------------------- anti-social behaviour

@pytest.mark.parametrize("period", ASB_WINDOWS)
def test_asb_rate_every_force_and_england_and_wales(table, raw, period):
    year, incidents_year = population_year(period), asb_year(period)
    window = f"year ending 31 March {incidents_year}"
    problems = []
    for force in raw["forces"]:
        n, pop = raw["asb"][(force, incidents_year)], raw["populations"][(force, year)]
        problems += _check(table, force, "asb_incidents_per_1000", period, 1000 * n / pop, n, pop,
                           population_year=year, window=window, basis="reproduced", status="ok",
                           sources=("policeforceareatablesyearendingmarch2018v2.xlsx", population_file(year)))
    n = sum(raw["asb"][(f, incidents_year)] for f in raw["forces"])
    pop = sum(raw["populations"][(f, year)] for f in raw["forces"])
    problems += _check(table, "England and Wales", "asb_incidents_per_1000", period, 1000 * n / pop, n, pop,
                       population_year=year, n_forces=43, window=window, basis="reproduced", status="ok")
    assert not problems, "\n".join(problems)


def test_a_window_whose_population_year_is_not_loaded_has_no_rate(real_data_dir):
    """The 12 months to 31 March 2019 need mid-2018, which no loaded table holds: no rate, and why."""
    from peel_helpers.core.periods import Period
    from peel_helpers.measures import population

    frame = population.for_periods([Period.parse("2018-12-31"), Period.parse("2019-03-31")])
    assert len(frame) == 86 and set(frame["population_year"]) == {2017, 2018}
    later = frame[frame["population_year"] == 2018]
    assert later["population"].isna().all() and len(later) == 43
    assert (later["population_reason"] == "no mid-2018 population estimate in the loaded ONS tables (they cover "
            "mid-2002 to mid-2017), so no rate per head is computed").all()
    assert frame.loc[frame["population_year"] == 2017, "population_reason"].isna().all()


def test_a_window_before_the_first_asb_year_has_no_rate(table):
    row = table.loc[("Kent", "asb_incidents_per_1000", "2007-12-31")]
    assert pd.isna(row["value"]) and row["basis"] == "not_available" and row["status"] == "missing"
    assert row["reason"].startswith("ONS Table P7 has no year ending 2007-03-31 (it covers years ending 2008-03-31 to")
    assert row["window"] == "year ending 31 March 2007" and row["population_year"] == 2006


# --------------------------------------------------------------------------- outcomes

def test_outcome_types_are_the_home_office_groups(raw):
    for otype, group in OUTCOME_GROUPS.items():
        assert raw["outcome_groups"][otype] == {group}, otype


@pytest.mark.parametrize("measure", sorted(OUTCOME_TYPES))
@pytest.mark.parametrize("period", OUTCOME_WINDOWS)
def test_outcome_share_every_force_and_england_and_wales(table, raw, measure, period):
    types = OUTCOME_TYPES[measure]
    loaded = {q for (_, q, _) in raw["outcomes"]}
    have = [q for q in _quarters(period) if q in loaded]
    excluded = ANNEX_A_OUTCOME_EXCLUSIONS.get(period, set())
    problems, num_sum, den_sum, summed = [], 0, 0, 0
    for force in raw["forces"]:
        row = table.loc[(force, measure, period)]
        if force in excluded:
            if not (pd.isna(row["value"]) and row["status"] == "excluded"):
                problems.append(f"{force}, {period}: Annex A leaves it out, but it has {row['value']}")
            continue
        if not have:
            if pd.notna(row["value"]):
                problems.append(f"{force}, {period}: no quarter loaded, but a value {row['value']}")
            continue
        num = sum(raw["outcomes"].get((force, q, t), 0) for q in have for t in types)
        den = sum(v for (f, q, _), v in raw["outcomes"].items() if f == force and q in have)
        full = len(have) == 4
        problems += _check(table, force, measure, period, 100 * num / den, num, den,
                           basis="reproduced" if full else "partial_window", status="ok" if full else "partial",
                           window=window_label(period) if full else part_label(have), unit="% of offences recorded",
                           sources=("outcomes-open-data-2017-18.csv.gz",))
        num_sum, den_sum, summed = num_sum + num, den_sum + den, summed + 1
    if have:
        assert summed == 43 - len(excluded)
        full = len(have) == 4
        problems += _check(table, "England and Wales", measure, period, 100 * num_sum / den_sum, num_sum, den_sum,
                           n_forces=summed, basis="reproduced" if full else "partial_window",
                           status="ok" if full else "partial", window=window_label(period) if full else part_label(have))
        ew = table.loc[("England and Wales", measure, period)]
        left_out = str(ew["excluded"]) if isinstance(ew["excluded"], str) else ""
        if sorted(re.findall(r"(\w[\w ]*?) \(Annex A", left_out)) != sorted(excluded):
            problems.append(f"England and Wales, {measure}, {period}: says it leaves out {left_out!r}")
    assert not problems, "\n".join(problems)


def test_outcome_coverage_names_the_missing_quarters_and_their_file(real_data_dir):
    """The report's window needs three 2016/17 quarters from the Home Office's 2016/17 workbook (SOURCES.md)."""
    from peel_helpers.measures import outcomes

    cov = outcomes.coverage("2017-06-30")
    assert cov["needed"] == ["2016/17 Q2", "2016/17 Q3", "2016/17 Q4", "2017/18 Q1"]
    assert cov["available"] == ["2017/18 Q1"] and cov["missing"] == ["2016/17 Q2", "2016/17 Q3", "2016/17 Q4"]
    assert not cov["complete"] and cov["window"] == "April\u2013June 2017 only: 1 of 4 quarters"
    [wanted] = cov["files"]
    assert wanted["financial_year"] == "2016/17"
    assert wanted["filename"] == "prc-outcomes-open-data-mar2017-tables-240724.xlsx"
    assert wanted["url"].endswith("/prc-outcomes-open-data-mar2017-tables-240724.xlsx")
    full = outcomes.coverage("2018-03-31")
    assert full["complete"] and full["files"] == [] and full["window"] == "12 months to 31 March 2018"
