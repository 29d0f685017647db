"""The HMICFRS data-return input: validation, published values, supplied values and their basis,
England and Wales labels, and a file edited in a running process.

The "returns" used here are SYNTHETIC: a few forces with made-up numbers, written by the tests into
tmp_path and labelled as synthetic in the file itself. They are not HMICFRS data.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest

from peel_helpers import results
from peel_helpers.core.errors import DataFileError, PeriodError, SchemaError, UnknownForceError
from peel_helpers.core.forces import FORCE_NAMES
from peel_helpers.measures import datareturn

HEADER = "force,period_end,measure,numerator,denominator,value,unit,source,note"
SYNTHETIC_NOTE = "SYNTHETIC test value - not HMICFRS data"
# 12 months to 30 June 2017. Durham is left out of 2017 DA arrests by Annex A, Bedfordshire out of
# ASB powers; City of London (published row) out of OCGs.
SYNTHETIC_ROWS = [
    ("Kent", "da_arrests", 4000, "", ""), ("Kent", "da_offences", 10000, "", ""),
    ("Bedfordshire", "da_arrests", 1500, 5000, ""),
    ("Durham", "da_arrests", 2000, 4000, ""),
    ("Kent", "asb_powers_criminal_behaviour_orders", 100, 1_800_000, ""),
    ("Kent", "asb_powers_dispersal_orders", 80, 1_800_000, ""),
    ("Durham", "asb_powers_total", 120, 600_000, ""),
    ("Bedfordshire", "asb_powers_total", 90, 650_000, ""),
    ("Kent", "ocg", 90, 1_800_000, ""), ("Durham", "ocg", 30, 600_000, ""), ("Bedfordshire", "ocg", 40, 650_000, ""),
]


def write_synthetic(path, rows=SYNTHETIC_ROWS, period="2017-06-30"):
    lines = [HEADER]
    for force, measure, num, den, value in rows:
        lines.append(f"{force},{period},{measure},{num},{den},{value},,synthetic test fixture,{SYNTHETIC_NOTE}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_user_file(no_user_data_return):
    """Every test here starts with no user data-return file."""


@pytest.fixture
def synthetic(monkeypatch, tmp_path):
    path = write_synthetic(tmp_path / "synthetic_data_return.csv")
    monkeypatch.setenv(datareturn.ENV_VAR, str(path))
    return path


def _value(measure, force, period="2017-06-30") -> pd.Series:
    from peel_helpers.measures import value

    return value(measure, force, period)


# --------------------------------------------------------------------------- the published defaults

def test_default_table_holds_only_published_values():
    table = datareturn.load()
    assert list(table.columns) == datareturn.COLUMNS + ["where", "origin"]
    assert (table["origin"] == "published").all()
    assert set(table["force"]) == {"Cambridgeshire", "England and Wales", "City of London"}
    assert table["numerator"].dtype == "Float64"


@pytest.mark.realdata
def test_published_values_are_marked_published(real_data_dir):
    cam = _value("da_arrests_per_100", "Cambridgeshire")
    assert cam["value"] == pytest.approx(52.8) and cam["basis"] == "published"
    kent = _value("da_arrests_per_100", "Kent")
    assert pd.isna(kent["value"]) and kent["basis"] == "not_available" and kent["reason"] == datareturn.MISSING_REASON
    eaw = _value("eaw_per_million", "Cambridgeshire")
    assert eaw["value"] == pytest.approx(75.4) and eaw["numerator"] == 64 and eaw["basis"] == "published"
    none = _value("calls_for_assistance_per_1000", "England and Wales")
    assert none["basis"] == "not_available" and pd.isna(none["value"])


# --------------------------------------------------------------------------- a supplied return

@pytest.mark.realdata
def test_supplied_values_are_marked_supplied(real_data_dir, synthetic):
    kent = _value("da_arrests_per_100", "Kent")
    assert kent["value"] == pytest.approx(40.0) and kent["basis"] == "supplied"   # 4000 / own DA offences 10000
    assert "da offences" in kent["note"]
    durham = _value("da_arrests_per_100", "Durham")
    assert durham["status"] == "excluded" and pd.isna(durham["value"]) and durham["reason"].startswith("Annex A")
    assert _value("da_arrests_per_100", "Cambridgeshire")["basis"] == "published"   # published row still there


@pytest.mark.realdata
def test_partial_supplied_sum_is_labelled_not_england_and_wales(real_data_dir, synthetic):
    rows = results(measures="da_arrests_per_100", periods="2017-06-30", forces=["England and Wales"])
    agg = rows.set_index("force")
    assert set(agg.index) == {"England and Wales", "2 of 43 forces"}
    assert agg.loc["England and Wales", "basis"] == "published" and agg.loc["England and Wales", "value"] == 45.5
    part = agg.loc["2 of 43 forces"]
    assert part["basis"] == "supplied" and part["n_forces"] == 2
    assert part["value"] == pytest.approx(100 * (4000 + 1500) / (10000 + 5000))
    assert "Durham" in part["excluded"] and "not all of England and Wales" in part["reason"]


@pytest.mark.realdata
def test_asb_power_types_add_up_and_default_population(real_data_dir, synthetic):
    kent = _value("asb_powers_per_million", "Kent")
    assert kent["value"] == pytest.approx(1e6 * 180 / 1_800_000) and "sum of the power types supplied" in kent["note"]
    assert kent["basis"] == "supplied" and kent["status"] == "ok" and "synthetic test fixture" in kent["source"]
    assert "(criminal behaviour orders, dispersal orders)" in kent["note"]
    assert _value("asb_powers_per_million", "Bedfordshire")["status"] == "excluded"
    ocg = _value("ocg_per_million", "City of London")
    assert ocg["status"] == "excluded" and ocg["numerator"] == 46   # the published count is kept


@pytest.mark.realdata
def test_count_only_uses_the_ons_population(real_data_dir, monkeypatch, tmp_path):
    import openpyxl

    monkeypatch.setenv(datareturn.ENV_VAR, str(write_synthetic(tmp_path / "n.csv", [("Kent", "ocg", 90, "", "")])))
    ws = openpyxl.load_workbook(real_data_dir / "raw" / "policeforceareatablesyearendingmarch2018v2.xlsx",
                                read_only=True, data_only=True)["Table P9"]
    rows = list(ws.iter_rows(values_only=True))
    year_col = next(r for r in rows if r[0] == "Area Code").index(2016)
    pop = next(r for r in rows if r[1] == "Kent")[year_col]
    row = _value("ocg_per_million", "Kent")
    assert row["value"] == pytest.approx(1e6 * 90 / pop) and row["population_year"] == 2016
    assert "ONS mid-2016 population" in row["note"] and row["basis"] == "supplied"


@pytest.mark.realdata
def test_full_supply_gives_a_summed_england_and_wales(real_data_dir, monkeypatch, tmp_path):
    rows = [(f, "eaw", 10, 1_000_000, "") for f in FORCE_NAMES]
    monkeypatch.setenv(datareturn.ENV_VAR, str(write_synthetic(tmp_path / "all.csv", rows)))
    agg = results(measures="eaw_per_million", periods="2017-06-30", forces=["England and Wales"])
    assert list(agg["force"]) == ["England and Wales"]
    assert agg.iloc[0]["basis"] == "supplied" and agg.iloc[0]["value"] == pytest.approx(10.0)
    assert agg.iloc[0]["n_forces"] == 43 and "21.8" in agg.iloc[0]["note"]   # the published value is noted


@pytest.mark.realdata
def test_a_supplied_england_and_wales_count_is_divided_not_multiplied(real_data_dir, monkeypatch, tmp_path):
    """SYNTHETIC: an England and Wales row given as a count over its base is the count over the base."""
    path = write_synthetic(tmp_path / "ew.csv", [("England and Wales", "da_arrests", 30_000, 60_000, "")])
    monkeypatch.setenv(datareturn.ENV_VAR, str(path))
    agg = results(measures="da_arrests_per_100", periods="2017-06-30", forces=["England and Wales"]).set_index("force")
    ew = agg.loc["England and Wales"]
    assert ew["value"] == pytest.approx(50.0) and ew["basis"] == "supplied"
    assert ew["numerator"] == 30_000 and ew["denominator"] == 60_000


@pytest.mark.realdata
def test_editing_the_file_takes_effect_in_the_same_process(real_data_dir, monkeypatch, tmp_path):
    path = write_synthetic(tmp_path / "live.csv", [("Kent", "ocg", 90, 1_800_000, "")])
    monkeypatch.setenv(datareturn.ENV_VAR, str(path))
    assert _value("ocg_per_million", "Kent")["value"] == pytest.approx(50.0)
    write_synthetic(path, [("Kent", "ocg", 180, 1_800_000, "")])
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert _value("ocg_per_million", "Kent")["value"] == pytest.approx(100.0)   # no restart, no cache clearing


def test_default_file_location(monkeypatch, tmp_path):
    target = tmp_path / "input" / "data_return.csv"
    target.parent.mkdir()
    write_synthetic(target, [("Kent", "ocg", 5, 1_000_000, "")])
    monkeypatch.setattr(datareturn, "USER_PATH", target)
    assert datareturn.user_file() == target
    assert datareturn.check() == "data_return.csv"
    table = datareturn.load()
    assert table[(table["force"] == "Kent")]["origin"].tolist() == ["user"]


# --------------------------------------------------------------------------- validation: one line each

def _expect(tmp_path, monkeypatch, body: str, error, *needles):
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    monkeypatch.setenv(datareturn.ENV_VAR, str(path))
    with pytest.raises(error) as info:
        datareturn.check()
    msg = str(info.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, msg
    return msg


@pytest.mark.parametrize("body, error, needles", [
    (f"{HEADER}\nCambridgshire,2017-06-30,ocg,5,,,,,\n", UnknownForceError, ("bad.csv row 2", "Cambridgeshire")),
    (f"{HEADER}\nKent,2017-06-15,ocg,5,,,,,\n", PeriodError, ("row 2", "quarter end")),
    (f"{HEADER}\nKent,2017-06-30,da_arrest,5,,,,,\n", SchemaError, ("unknown measure", "da_arrests")),
    (f"{HEADER}\nKent,2017-06-30,ocg,-5,,,,,\n", SchemaError, ("negative",)),
    (f"{HEADER}\nKent,2017-06-30,ocg,lots,,,,,\n", SchemaError, ("not a number",)),
    ("force,numerator\nKent,5\n", SchemaError, ("missing column", "period_end", "measure")),
    (f"{HEADER},colour\nKent,2017-06-30,ocg,5,,,,,,red\n", SchemaError, ("unknown column", "colour")),
    (f"{HEADER},colour,size\nKent,2017-06-30,ocg,5,,,,,,red,2\n", SchemaError, ("unknown column(s) colour, size",)),
    (f"{HEADER}\nKent,2017-06-30,ocg,,,,,,\n", SchemaError, ("numerator",)),
    # case 11: an England and Wales count with no value and no base was dropped without a word
    (f"{HEADER}\nKent,2017-06-30,ocg,5,,,,,\nEngland and Wales,2017-06-30,da_arrests,4000,,,,,\n", SchemaError,
     ("bad.csv row 3", "England and Wales", "da_arrests", "a numerator alone", "value", "denominator")),
    (f"{HEADER}\nKent,2017-06-30,ocg,5,,,,,\nKent,30/06/2017,ocg,6,,,,,\n", SchemaError, ("more than one row",)),
    (f"{HEADER}\nKent,2017-06-30,da_arrests,,,52.8,per 1 million population,,\n", SchemaError,
     ("row 2", "unit 'per 1 million population'", "per 100 offences")),
    (f"{HEADER}\nKent,2017-06-30,ocg,90,,,\"per 1,000 population\",,\n", SchemaError, ("unit", "OCGs")),
    (f"{HEADER}\nKent,2017-06-30,da_arrests,530,1000,50.1,,,\n", SchemaError,
     ("row 2", "value 50.1 disagrees", "530/1000", "53.00")),
    ("", DataFileError, ("bad.csv is empty", "header row")),
    ("\x00\x01\x02\xff\xfe binary", DataFileError, ("bad.csv",)),
])
def test_bad_files_are_one_line_errors(tmp_path, monkeypatch, body, error, needles):
    _expect(tmp_path, monkeypatch, body, error, *needles)


def test_consistent_value_and_units_are_accepted(tmp_path, monkeypatch):
    body = (f"{HEADER}\nKent,2017-06-30,da_arrests,528,1000,52.8,per 100 domestic abuse-related offences,,\n"
            "Kent,2017-06-30,ocg,90,,,OCGs,,\n")
    path = tmp_path / "ok.csv"
    path.write_text(body, encoding="utf-8")
    monkeypatch.setenv(datareturn.ENV_VAR, str(path))
    assert datareturn.check() == "ok.csv"


def test_an_empty_unit_is_the_measure_own_unit_for_a_value_and_its_count_unit_for_a_count(tmp_path):
    """SYNTHETIC rows with the unit left empty: a value takes the rate's unit, a bare count the count's."""
    path = tmp_path / "no_units.csv"
    path.write_text(f"{HEADER}\nKent,2017-06-30,da_arrests,528,1000,52.8,,synthetic,{SYNTHETIC_NOTE}\n"
                    f"Kent,2017-06-30,ocg,90,,,,synthetic,{SYNTHETIC_NOTE}\n", encoding="utf-8")
    table = datareturn.read_file(path).set_index("measure")
    assert table.loc["da_arrests", "unit"] == "per 100 offences"
    assert table.loc["ocg", "unit"] == "OCGs"


def test_env_var_naming_a_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv(datareturn.ENV_VAR, str(tmp_path / "nope.csv"))
    with pytest.raises(DataFileError, match="does not exist"):
        datareturn.load()


@pytest.mark.parametrize("kind, says", [
    ("folder", "is a folder, not a file"),
    ("device", "is not a regular file"),
    ("fifo", "is not a regular file"),
])
def test_env_var_naming_something_that_is_not_a_file(tmp_path, monkeypatch, kind, says):
    """Case 17: a folder, a device or a named pipe said "does not exist"; each now says what it is and
    what to point the variable at (and reading a pipe never blocks)."""
    if kind == "folder":
        target = tmp_path / "returns"
        target.mkdir()
    elif kind == "device":
        target = "/dev/null"
    else:
        target = tmp_path / "pipe.csv"
        os.mkfifo(target)
    monkeypatch.setenv(datareturn.ENV_VAR, str(target))
    for call in (datareturn.check, datareturn.load):
        with pytest.raises(DataFileError) as info:
            call()
        msg = str(info.value)
        assert "\n" not in msg and says in msg and "does not exist" not in msg, msg
        assert datareturn.ENV_VAR in msg and str(target) in msg and "CSV" in msg


def test_a_folder_at_the_default_location_is_one_line(tmp_path, monkeypatch):
    target = tmp_path / "input" / "data_return.csv"
    target.mkdir(parents=True)
    monkeypatch.setattr(datareturn, "USER_PATH", target)
    with pytest.raises(DataFileError) as info:
        datareturn.check()
    assert "is a folder, not a file" in str(info.value) and "or remove it" in str(info.value)


# --------------------------------------------------------------------------- impossible and implausible values
# SYNTHETIC rows: made-up numbers for Kent, typed the way a mistake would be.

@pytest.mark.parametrize("body, needles", [
    (f"{HEADER}\nKent,2017-06-30,calls_for_assistance,1000,,,,,\nKent,2017-06-30,da_calls,900000,,,,,\n",
     ("bad.csv row 3", "da_calls 900,000 over calls_for_assistance 1,000 (bad.csv row 2)", "90,000",
      "possible range 0 to 100")),
    (f"{HEADER}\nKent,2017-06-30,da_offences,,,150,,,\n", ("bad.csv row 2", "da_offences", "150", "0 to 100")),
    (f"{HEADER}\nKent,2017-06-30,da_calls,1500,1000,,,,\n", ("bad.csv row 2", "1,500 over 1,000", "150")),
    (f"{HEADER}\nKent,2017-06-30,calls_for_assistance,,,250000,,,\n",
     ("bad.csv row 2", "calls_for_assistance", "250,000", "per 1,000 population", "0 to 50,000")),
])
def test_impossible_values_are_one_line_errors(tmp_path, monkeypatch, body, needles):
    _expect(tmp_path, monkeypatch, body, SchemaError, *needles)


def test_an_impossible_value_stops_the_build_before_anything_is_written(tmp_path, monkeypatch, capsys):
    from peel_helpers import cli
    from peel_helpers.batch import checks, jobs as batch_jobs, runner

    path = tmp_path / "bad.csv"
    path.write_text(f"{HEADER}\nKent,2017-06-30,calls_for_assistance,1000,,,,,\n"
                    "Kent,2017-06-30,da_calls,900000,,,,,\n", encoding="utf-8")
    monkeypatch.setenv(datareturn.ENV_VAR, str(path))
    out = tmp_path / "out"
    assert cli.main(["build", "--force", "Kent", "--period", "2017-06-30", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.csv row 3" in err and "da_calls" in err, err
    assert not out.exists() or not any(out.rglob("*.html"))
    with pytest.raises(SchemaError, match="bad.csv row 3"):
        datareturn.load()


def test_an_implausible_share_is_a_warning_naming_the_row(tmp_path, monkeypatch, capsys):
    path = tmp_path / "fraction.csv"
    path.write_text(f"{HEADER}\nKent,2017-06-30,da_offences,,,0.12,,,\nKent,2017-06-30,da_arrests,,,150,,,\n",
                    encoding="utf-8")
    monkeypatch.setenv(datareturn.ENV_VAR, str(path))
    assert datareturn.check() == "fraction.csv"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: fraction.csv row 2: da_offences"), err
    assert "0.12" in err[0] and "12% is written 12" in err[0]
    datareturn._TABLES.clear()
    with pytest.warns(datareturn.ImplausibleValueWarning, match="fraction.csv row 2"):
        table = datareturn.load()
    assert set(table["measure"]) >= {"da_offences", "da_arrests"}   # still used: a warning, not an error


@pytest.mark.realdata
def test_a_count_over_the_population_out_of_range_is_an_error(real_data_dir, tmp_path, monkeypatch):
    """250,000 calls per 1,000 people from a count typed with extra digits, divided by the ONS population."""
    from peel_helpers import measures

    path = tmp_path / "digits.csv"
    path.write_text(f"{HEADER}\nKent,2017-06-30,calls_for_assistance,450000000,,,,,\n", encoding="utf-8")
    monkeypatch.setenv(datareturn.ENV_VAR, str(path))
    measures.clear_caches()
    with pytest.raises(SchemaError) as info:
        results(measures="calls_for_assistance_per_1000", periods="2017-06-30")
    msg = str(info.value)
    assert "\n" not in msg and "digits.csv row 2" in msg and "ONS mid-2016 population" in msg and "0 to 50,000" in msg


@pytest.mark.realdata
@pytest.mark.parametrize("counts, named, row", [
    ((100, 5_000_000), ["asb_powers_dispersal_orders"], "row 3"),                        # one type out of range
    ((1_000_000, 1_000_000), ["asb_powers_criminal_behaviour_orders", "asb_powers_dispersal_orders"], "row 2"),
])
def test_an_asb_power_type_out_of_range_is_named_not_the_total(real_data_dir, tmp_path, monkeypatch, counts, named,
                                                               row):
    """Case 18: SYNTHETIC power-type counts for Kent over its ONS population. The error used to name
    asb_powers_total, a measure the file does not hold; it names the type (or the types whose sum is
    impossible) and their rows."""
    from peel_helpers import measures

    cbo, dispersal = counts
    path = tmp_path / "powers.csv"
    path.write_text(f"{HEADER}\nKent,2017-06-30,asb_powers_criminal_behaviour_orders,{cbo},,,,,{SYNTHETIC_NOTE}\n"
                    f"Kent,2017-06-30,asb_powers_dispersal_orders,{dispersal},,,,,{SYNTHETIC_NOTE}\n", encoding="utf-8")
    monkeypatch.setenv(datareturn.ENV_VAR, str(path))
    measures.clear_caches()
    with pytest.raises(SchemaError) as info:
        results(measures="asb_powers_per_million", periods="2017-06-30")
    msg = str(info.value)
    assert "\n" not in msg and "asb_powers_total" not in msg, msg
    assert all(name in msg for name in named) and f"powers.csv {row}" in msg and "0 to 1,000,000" in msg, msg
    if len(named) == 1:
        assert "asb_powers_criminal_behaviour_orders" not in msg and "5,000,000 over the ONS mid-2016 population" in msg


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    """A SYNTHETIC return padded past the size limit with one repeated row (a 200 MB file used to take
    about a minute and 4 GB before its duplicate-row error): refused at once, with one line."""
    import time

    row = "Kent,2017-06-30,ocg,5,1000000,,,synthetic test fixture,SYNTHETIC padding row\n".encode()
    path = tmp_path / "huge.csv"
    with open(path, "wb") as fh:
        fh.write((HEADER + "\n").encode())
        fh.write(row * (12_000_000 // len(row)))
    monkeypatch.setenv(datareturn.ENV_VAR, str(path))
    start = time.perf_counter()
    with pytest.raises(DataFileError) as info:
        datareturn.check()
    assert time.perf_counter() - start < 1.0
    msg = str(info.value)
    assert "\n" not in msg and "huge.csv is 12 MB" in msg and "one row per force, period and measure" in msg


def test_range_edges_are_possible_and_messages_give_the_number_as_typed():
    """The possible range includes its ends: 0% and 100% of calls can be true; 100.5% cannot. The
    messages write the value as it was typed (150, 0.12), without trailing zeros or points."""
    from peel_helpers.measures.registry import MEASURES, range_problem

    share = MEASURES["da_calls_pct"]
    assert range_problem(share, 100.0) is None
    assert range_problem(share, 0.0)[0] == "warning"                  # possible, but below the plausible 1%
    level, why = range_problem(share, 150.0)
    assert level == "error" and why.startswith("150 (% of calls) is outside the possible range 0 to 100")
    assert range_problem(share, 100.5)[0] == "error"
    assert range_problem(share, 0.12)[1].startswith("0.12 (% of calls) is possible but outside")
    assert range_problem(MEASURES["asb_powers_per_million"], 0.0) is None


def test_a_misspelt_measure_suggests_three_names(tmp_path, monkeypatch):
    from peel_helpers.measures.registry import MEASURES, suggest

    assert len(suggest("actoin_taken", MEASURES).split(", ")) == 3
