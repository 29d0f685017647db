"""The reproduction ledger: every published number, reproduced or with the missing input named."""

from __future__ import annotations

import pandas as pd
import pytest

from peel_helpers import measures
from peel_helpers.measures import datareturn
from peel_helpers.reports import ledger
from peel_helpers.data import published

REPORT = "2017-06-30"
STATUSES = {"reproduced", "reproduced, differs", "confirmed by source note", "partial window", "not reproducible",
            "not reproduced", "not applicable"}


@pytest.fixture(autouse=True)
def _no_user_file(no_user_data_return):
    """Every test here starts with no user data-return file."""


@pytest.fixture(scope="module")
def cambs(real_data_dir):
    measures.clear_caches()
    return ledger.build("Cambridgeshire", REPORT)


@pytest.mark.realdata
def test_cambridgeshire_ledger_lists_every_published_number(cambs):
    values = published.report_values()
    assert list(cambs["id"]) == list(values["id"])
    assert list(cambs["published"]) == list(values["value"])
    assert list(cambs.columns) == ledger.COLUMNS
    assert set(cambs["status"]) <= STATUSES
    assert set(cambs["cause"].dropna()) <= {c for c in ledger.CAUSES} | {
        "outcomes assigned after the report's snapshot; release vintage"}
    for row in cambs.itertuples():
        if row.status in ("reproduced", "reproduced, differs", "confirmed by source note"):
            assert pd.notna(row.reproduced_value), row.id
            assert isinstance(row.source_file, str) and row.source_file, row.id
        elif row.status == "not applicable":
            assert row.reproduced.startswith("not applicable"), row.id
        else:  # says exactly what is missing
            assert isinstance(row.missing_input, str) and len(row.missing_input) > 10, row.id
            assert row.reproduced.startswith(("not reproducible from open data", "not reproduced")), row.id


@pytest.mark.realdata
def test_eaw_shows_both_population_bases(cambs):
    row = cambs.set_index("measure").loc["eaw_per_million"]
    row = row[row["area"] == "Cambridgeshire"].iloc[0]
    assert row["published"] == pytest.approx(75.4)
    assert row["reproduced_value"] == pytest.approx(1e6 * 64 / 841_300)
    assert round(row["reproduced_value"], 1) == 76.1
    assert row["cause"] == "population base"
    assert "848,8" in row["comparison"] and "841,300" in row["comparison"]
    assert "policeforceareatablesyearendingmarch2018v2.xlsx" in row["source_file"]
    assert len(row["sha256"].split("; ")[0]) == 64


@pytest.mark.realdata
def test_outcome_shares_compare_like_with_like(cambs):
    for measure in ("outcome_charge_summons_pct", "outcome_not_yet_assigned_pct"):
        row = cambs[cambs["measure"] == measure].iloc[0]
        assert row["status"] == "partial window" and pd.isna(row["reproduced_value"])
        assert "2016/17 Q2, 2016/17 Q3, 2016/17 Q4" in row["missing_input"]
        assert "prc-outcomes-open-data-mar2017-tables-240724.xlsx" in row["missing_input"]
        assert row["comparison"].startswith("2017/18 Q1 only") and "not the 12-month value" in row["comparison"]
        assert "outcomes-open-data-2017-18.csv.gz" in row["source_file"]


@pytest.mark.realdata
def test_other_force_sees_england_and_wales_numbers(real_data_dir):
    kent = ledger.build("Kent", REPORT)
    assert set(kent["area"]) == {"England and Wales"}
    assert any("not in the project's published table" in n for n in ledger.notes("Kent", REPORT))
    city = ledger.build("City of London", REPORT)
    assert {"City of London", "England and Wales"} == set(city["area"])


def test_other_period_is_empty_with_a_note():
    frame = ledger.build("Cambridgeshire", "2018-03-31")
    assert frame.empty and list(frame.columns) == ledger.COLUMNS
    assert any("nothing to compare" in n for n in ledger.notes("Cambridgeshire", "2018-03-31"))


@pytest.mark.realdata
def test_synthetic_data_return_is_reproduced_in_the_ledger(real_data_dir, monkeypatch, tmp_path):
    # SYNTHETIC: made-up Cambridgeshire DA arrests and offences, not HMICFRS data
    path = tmp_path / "synthetic_data_return.csv"
    path.write_text("force,period_end,measure,numerator,denominator,value,unit,source,note\n"
                    "Cambridgeshire,2017-06-30,da_arrests,530,1000,,,synthetic,SYNTHETIC test value\n", encoding="utf-8")
    monkeypatch.setenv(datareturn.ENV_VAR, str(path))
    frame = ledger.build("Cambridgeshire", REPORT)
    row = frame[(frame["measure"] == "da_arrests_per_100") & (frame["area"] == "Cambridgeshire")].iloc[0]
    assert row["reproduced_value"] == pytest.approx(53.0) and row["difference"] == pytest.approx(0.2)
    assert "synthetic_data_return.csv" in row["source_file"]
    assert any("synthetic_data_return.csv" in n for n in ledger.notes("Cambridgeshire", REPORT))


@pytest.mark.realdata
def test_cli_prints_and_writes_csv(real_data_dir, tmp_path, capsys):
    assert ledger.main(["--force", "cambridgeshire", "--period", REPORT]) == 0
    out = capsys.readouterr().out
    assert "Reproduction ledger: Cambridgeshire" in out and "R12" in out and "population base" in out
    target = tmp_path / "ledger.csv"
    assert ledger.main(["--force", "Cambridgeshire", "--csv", str(target)]) == 0
    written = pd.read_csv(target)
    assert len(written) == len(published.report_values())


def test_cli_bad_force_is_one_line(capsys):
    assert ledger.main(["--force", "Cambridgshire"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Unknown force") and "\n" not in err and "Cambridgeshire" in err
