"""The reproduction ledger: every published number, reproduced or with the missing input named."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from peel_helpers import measures
from peel_helpers.data import published
from peel_helpers.measures import datareturn
from peel_helpers.reports import ledger

REPORT = "2017-06-30"
STATUSES = set(ledger.STATUSES)
BASIS_TO_STATUS = {"reproduced": {"reproduced"}, "supplied": {"reproduced"},
                   "published": {"published only", "read from a source"},
                   "partial_window": {"partial window"},
                   "not_available": {"not reproducible", "not reproduced", "not applicable"}}


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
        assert row.status in BASIS_TO_STATUS[row.basis], (row.id, row.basis, row.status)
        if row.status in ("reproduced", "read from a source"):
            assert pd.notna(row.reproduced_value), row.id
            assert isinstance(row.source_file, str) and row.source_file, row.id
        elif row.status == "not applicable":
            assert row.reproduced.startswith("not applicable"), row.id
        else:  # says exactly what is missing
            assert isinstance(row.missing_input, str) and len(row.missing_input) > 10, row.id
            assert row.reproduced.startswith(("not reproducible from open data", "not reproduced")), row.id
    counts = cambs["status"].value_counts().to_dict()
    assert counts == {"not reproducible": 23, "published only": 6, "not applicable": 4, "partial window": 2,
                      "read from a source": 2}


@pytest.mark.realdata
def test_only_statistics_the_project_computes_are_reproduced(cambs):
    """A count of areas in the ONS lookup and a share copied from an ONS footnote are not statistics the
    project computes: they are "read from a source", never counted as reproduced."""
    rows = cambs.set_index("id")
    for measure in ("forces_in_data_collection", "asb_incidents_estimated_pct"):
        row = cambs[cambs["measure"] == measure].iloc[0]
        assert row["status"] == "read from a source" and row["basis"] == "published", (measure, row["status"])
    computed = set(ledger.RESULTS_MEASURES)
    reproduced = cambs[cambs["status"] == "reproduced"]
    assert set(reproduced["measure"]) <= computed, set(reproduced["measure"]) - computed
    assert (rows["status"] == "reproduced").sum() == 0   # with no data-return file, nothing here is computed


@pytest.mark.realdata
def test_published_rates_are_not_called_reproduced(cambs):
    rows = cambs.set_index("id")
    for ident in ("R11", "R12", "R13", "R14", "R15", "R34"):   # warrants, DA arrests, OCGs: the report's values
        assert rows.loc[ident, "basis"] == "published" and rows.loc[ident, "status"] == "published only"
        assert pd.isna(rows.loc[ident, "reproduced_value"]) and pd.isna(rows.loc[ident, "difference"])
    eaw = rows.loc["R12"]
    # the published count over the ONS population is shown beside it, labelled partly published
    assert eaw["comparison"].startswith("partly published") and "841,300" in eaw["comparison"]
    assert "76.1 per million" in eaw["comparison"] and "848,806" in eaw["comparison"]


@pytest.mark.realdata
def test_warwickshire_share_is_read_from_the_ons_footnote(cambs, raw_files):
    import openpyxl

    ws = openpyxl.load_workbook(raw_files["pfa_tables_mar2018"], read_only=True, data_only=True)["Table P7"]
    note = next(str(r[0]) for r in ws.iter_rows(values_only=True) if r[0] and "Warwickshire Police" in str(r[0]))
    expected = float(re.search(r"(\d+)% of anti-social behaviour in year ending March 2016", note).group(1))
    row = cambs.set_index("id").loc["R33"]
    assert row["status"] == "read from a source" and row["reproduced_value"] == expected == 2.0
    assert "Table P7 footnote 9" in row["source_file"]


@pytest.mark.realdata
def test_outcome_shares_compare_like_with_like(cambs):
    for measure in ("outcome_charge_summons_pct", "outcome_not_yet_assigned_pct"):
        row = cambs[cambs["measure"] == measure].iloc[0]
        assert row["status"] == "partial window" and pd.isna(row["reproduced_value"])
        assert "2016/17 Q2, 2016/17 Q3, 2016/17 Q4" in row["missing_input"]
        assert "prc-outcomes-open-data-mar2017-tables-240724.xlsx" in row["missing_input"]
        assert row["comparison"].startswith("April–June 2017 only: 1 of 4 quarters") and \
            "not the 12-month value" in row["comparison"] and row["basis"] == "partial_window"
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
    assert row["basis"] == "supplied" and row["status"] == "reproduced"
    assert row["note"] == "from the user's data-return file"
    unescaped = [re.sub(r"\\(.)", r"\1", n) for n in ledger.notes("Cambridgeshire", REPORT)]   # markdown escapes
    assert any("synthetic_data_return.csv" in n for n in unescaped)


@pytest.mark.realdata
def test_cli_prints_and_writes_csv(real_data_dir, tmp_path, capsys):
    assert ledger.main(["--force", "cambridgeshire", "--period", REPORT]) == 0
    out = capsys.readouterr().out
    assert "Reproduction ledger: Cambridgeshire" in out and "R12" in out and "published only" in out
    target = tmp_path / "ledger.csv"
    assert ledger.main(["--force", "Cambridgeshire", "--csv", str(target)]) == 0
    written = pd.read_csv(target)
    assert len(written) == len(published.report_values())


def test_cli_bad_force_is_one_line(capsys):
    assert ledger.main(["--force", "Cambridgshire"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Unknown force") and "\n" not in err and "Cambridgeshire" in err


# --------------------------------------------------------------------------- --csv that cannot be written (case 12)

@pytest.mark.realdata
@pytest.mark.parametrize("kind", ["a folder", "a path under a file", "a read-only place", "a named pipe"])
def test_csv_that_cannot_be_written_is_one_line_exit_3_and_nothing_written(kind, real_data_dir, tmp_path,
                                                                          read_only_dir, capsys):
    import os

    if kind == "a folder":
        target = tmp_path / "ledgers"
        target.mkdir()
    elif kind == "a path under a file":
        (tmp_path / "notes.txt").write_text("SYNTHETIC\n", encoding="utf-8")
        target = tmp_path / "notes.txt" / "ledger.csv"
    elif kind == "a named pipe":
        target = tmp_path / "ledger.csv"
        os.mkfifo(target)
    else:
        target = read_only_dir / "ledger.csv"
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert ledger.main(["--force", "Cambridgeshire", "--csv", str(target)]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --csv ") and str(target) in err[0], err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    if kind == "a named pipe":
        import stat

        assert stat.S_ISFIFO(os.stat(target).st_mode)        # the pipe is still a pipe


def test_the_help_gives_every_exit_status(capsys):
    with pytest.raises(SystemExit):
        ledger.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Exit status" in text and all(s in text.split("Exit status", 1)[1] for s in ("0 ", "2 ", "3 ")), text
