"""The data behind charts and tables as CSV: spreadsheet-safe (OWASP CSV injection), numbers kept as
numbers, flags in one cell, the results columns (and interval columns when present).

Every file is read back with the standard library's csv module, not with the writer's own code.
The data-return rows are SYNTHETIC, written here and labelled as such."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from peel_helpers.reports import csvout

FORMULAS = ['=HYPERLINK("x")', "+1+2", "-2+3", "@SUM(1)", "\tcmd", "\rcmd", '=cmd|" /C calc"!A0']


def _read(path) -> list[dict]:
    text = path.read_bytes().decode("utf-8-sig")      # no newline translation: a \r inside a cell stays
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_text_that_a_spreadsheet_would_run_is_quoted_and_numbers_stay_numbers(tmp_path):
    frame = pd.DataFrame({"force": ["Kent"] * len(FORMULAS), "source": FORMULAS,
                          "value": [-12.5, 3.0, -0.25, 1e-9, 1234567.0, float("nan"), -7.0]})
    rows = _read(csvout.write_csv(tmp_path / "x.csv", frame))
    for row, formula in zip(rows, FORMULAS):
        assert row["source"] == "'" + formula                  # shown as text, never run
        assert not row["source"].startswith(csvout.FORMULA_START)
    assert [r["value"] for r in rows] == ["-12.5", "3", "-0.25", "1e-09", "1234567", "", "-7"]
    assert float(rows[0]["value"]) == -12.5                     # a negative number is still a number
    assert csvout.safe_text("-3.5") == "-3.5" and csvout.safe_text("+4") == "+4"   # plain numbers as text too
    assert csvout.safe_text("-3.5+cmd") == "'-3.5+cmd" and csvout.safe_text("Kent") == "Kent"


def test_results_columns_flags_and_intervals():
    frame = pd.DataFrame({"force": ["Kent"], "area": ["force"], "measure": ["recorded_crime_per_1000"],
                          "period_end": ["2018-03-31"], "value": [96.7], "numerator": [180000.0],
                          "denominator": [1860000.0], "unit": ["per 1,000 population"], "basis": ["reproduced"],
                          "status": ["ok"], "flag": [["first caveat", "second caveat; with a semicolon"]],
                          "window": ["12 months to 31 March 2018"], "population_year": [2017], "source": ["x.csv"],
                          "ci_low": [96.2], "ci_high": [97.1], "ci_method": ["Byar"], "extra": ["dropped"]})
    out = csvout.results_frame(frame)
    assert "flags" in out and "flag" not in out and "status" not in out and "extra" not in out
    assert list(out.columns[-3:]) == ["ci_low", "ci_high", "ci_method"]
    assert out["flags"].iloc[0] == "first caveat | second caveat; with a semicolon"   # list items, never split
    text = csvout.csv_text(out)
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["value"] == "96.7" and row["population_year"] == "2017" and row["ci_high"] == "97.1"
    again = csvout.frame_from_payload(csvout.payload(frame.drop(columns=["flag"]), "results"))
    assert again["value"].iloc[0] == 96.7 and again["force"].iloc[0] == "Kent"


@pytest.mark.realdata
def test_formula_in_a_supplied_data_return_is_text_in_every_csv(real_data_dir, no_user_data_return, monkeypatch,
                                                                  tmp_path):
    """=HYPERLINK("x") in a data-return file's source and note fields reaches the results table as
    text; the window's results.csv and the national page's table CSV hold it as text, not a formula."""
    from peel_helpers import results
    from peel_helpers.core.periods import Period
    from peel_helpers.measures import datareturn
    from peel_helpers.publish.national import write_national

    supplied = tmp_path / "synthetic_data_return.csv"
    supplied.write_text("force,period_end,measure,numerator,denominator,value,unit,source,note\n"
                        'Kent,2017-06-30,ocg,90,,,,"=HYPERLINK(""x"")","@SUM(1) SYNTHETIC test value"\n',
                        encoding="utf-8")
    monkeypatch.setenv(datareturn.ENV_VAR, str(supplied))
    row = results(forces=["Kent"], measures=["ocg_per_million"], periods=["2017-06-30"]).iloc[0]
    assert row["source"].startswith('=HYPERLINK("x")') and row["basis"] == "supplied"   # the input reached the table
    write_national(tmp_path / "out", Period.parse("2017-06-30"))
    for name in ("results.csv", "national-table-4.csv"):
        kent = [r for r in _read(tmp_path / "out" / "2017-06-30" / name)
                if r["force"] == "Kent" and r["measure"] == "ocg_per_million"]
        assert len(kent) == 1, name
        assert kent[0]["source"].startswith("'=HYPERLINK(\"x\")") and kent[0]["note"].startswith("'@SUM(1)")
        assert float(kent[0]["value"]) == pytest.approx(row["value"])
