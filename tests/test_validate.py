"""Agreement with ONS's own published tables (P1, P3, P7), against expected values read here from the
raw workbooks with openpyxl and the csv module."""

from __future__ import annotations

import csv
import re

import pandas as pd
import pytest

from peel_helpers.core.forces import FORCE_NAMES
from peel_helpers.measures import compare

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def checked(real_data_dir, no_user_data_return_module):
    return compare.validate()


def _p3(raw_files) -> dict:
    import openpyxl

    rows = list(openpyxl.load_workbook(raw_files["pfa_tables_jun2018"], read_only=True, data_only=True)["Table P3"]
                .iter_rows(values_only=True))
    header = next(r for r in rows if r[0] == "Area Code")
    pop_col = next(i for i, h in enumerate(header) if h and "mid-2017" in str(h))
    rate_col = next(i for i, h in enumerate(header) if h and "Total recorded crime" in str(h))
    return {re.sub(r"\d+$", "", str(r[1])).strip(): (r[pop_col], r[rate_col]) for r in rows if r[0] and r[1]}


def test_every_rate_agrees_or_is_explained(checked):
    crime, asb, lines, ok = checked
    assert ok and crime["explained"].all()
    assert len(crime) == 44 and set(crime["area"]) == set(FORCE_NAMES) | {"England and Wales"}
    assert lines[0].startswith("ONS Table P3") and "0 unexplained" in lines[0]
    assert int(crime["agree"].sum()) >= 29


def test_ons_values_are_the_published_cells(checked, raw_files):
    crime = checked[0].set_index("area")
    p3 = _p3(raw_files)
    for area in ("Cambridgeshire", "Kent", "Metropolitan Police"):
        assert crime.loc[area, "ons_rate"] == pytest.approx(p3[area][1], rel=1e-12)
        assert crime.loc[area, "population"] == p3[area][0]   # mid-2017, read from the same column
    assert pd.isna(crime.loc["City of London", "ons_rate"]) and p3["City of London"][1] == "+"


def test_england_and_wales_agrees_once_btp_is_counted(checked, raw_files):
    total = 0
    with open(raw_files["rec_crime_pfa"], newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            if (row["12 months ending"] == "30-06-2018" and row["Offence"] != "Fraud offences"
                    and row["PFA"] not in ("Action Fraud", "CIFAS", "UK Finance")):
                total += int(row["Rolling year total number of offences"])   # 43 forces and BTP
    p3 = _p3(raw_files)
    forces_pop = sum(p3[f][0] for f in FORCE_NAMES)
    ew = checked[0].set_index("area").loc["England and Wales"]
    assert ew["ours_with_btp"] == pytest.approx(1000 * total / forces_pop, rel=1e-12)
    assert round(ew["ours_with_btp"], 1) == round(p3["ENGLAND AND WALES"][1], 1)
    assert "British Transport Police" in ew["explanation"]


def test_an_unexplained_difference_fails_the_command(monkeypatch, capsys, real_data_dir):
    real = compare.results

    def skewed(*args, **kwargs):   # SYNTHETIC error: Kent's rate moved by 1 per 1,000
        rows = real(*args, **kwargs).copy()
        rows.loc[rows["force"] == "Kent", "value"] += 1
        return rows

    monkeypatch.setattr(compare, "results", skewed)
    assert compare.main([]) == 1
    out = capsys.readouterr()
    assert "Kent: ours" in out.out and "unexplained difference" in out.out and "ERROR" in out.err


def test_asb_rates_match_on_the_population_two_years_before(checked):
    asb = checked[1]
    year = asb[(asb["year_ending"] == 2009) & asb["matchable"]]
    assert len(year) == 42 and year["agree"].all()          # every force, exactly, to one decimal place
    assert asb[asb["force"] == "City of London"]["ons_rate"].isna().all()


def test_the_readme_headline_is_the_measured_one(checked):
    from peel_helpers.core.paths import PROJECT_ROOT

    crime = checked[0]
    text = " ".join((PROJECT_ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"to one decimal place for {int(crime['agree'].sum())} of {len(crime)} areas" in text
    revised = crime["explanation"].str.endswith("on ONS's count our rate agrees").sum()
    assert f"{revised} counts the Home Office revised" in text


def test_the_command_line_runs_it(capsys, checked):
    from peel_helpers.batch import runner

    assert runner.main(["validate"]) == 0
    assert "ONS Table P3" in capsys.readouterr().out
