"""The HMICFRS data-return input: validation, merging, rates and England and Wales aggregates.

The "return" used here is SYNTHETIC: three forces with made-up numbers, written by the tests into
tmp_path and labelled as synthetic in the file itself. It is not HMICFRS data.
"""

from __future__ import annotations

import pandas as pd
import pytest

from peel_helpers import measures
from peel_helpers.measures import datareturn
from peel_helpers.core.errors import DataFileError, PeelError, PeriodError, SchemaError, UnknownForceError
from peel_helpers.core.forces import FORCE_NAMES

HEADER = "force,period_end,measure,numerator,denominator,value,unit,source,note"
SYNTHETIC_NOTE = "SYNTHETIC test value - not HMICFRS data"
# Three forces, 12 months to 30 June 2017. Durham is left out of 2017 DA arrests by Annex A,
# Bedfordshire out of ASB powers; City of London (published row) out of OCGs.
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
    measures.clear_caches()
    return path


# --------------------------------------------------------------------------- defaults

def test_default_table_holds_only_published_values():
    table = datareturn.load()
    assert list(table.columns) == datareturn.COLUMNS + ["origin"]
    assert (table["origin"] == "published").all()
    assert set(table["force"]) == {"Cambridgeshire", "England and Wales", "City of London"}
    assert table["numerator"].dtype == "Float64" and str(table["period_end"].dtype) == "datetime64[ns]"


def test_published_value_shown_as_published():
    frame = datareturn.by_force("da_arrests_per_100", "2017-06-30")
    assert list(frame["force"]) == list(FORCE_NAMES)
    cambs = frame.set_index("force").loc["Cambridgeshire"]
    assert cambs["value"] == pytest.approx(52.8) and cambs["status"] == "ok"
    assert str(cambs["note"]).startswith("published value")
    kent = frame.set_index("force").loc["Kent"]
    assert kent["status"] == "missing" and kent["reason"] == datareturn.MISSING_REASON
    eaw = datareturn.by_force("eaw_per_million", "2017-06-30").set_index("force").loc["Cambridgeshire"]
    assert eaw["value"] == pytest.approx(75.4) and eaw["numerator"] == 64  # not recomputed


def test_default_england_and_wales_is_the_published_value():
    agg = datareturn.england_and_wales("da_arrests_per_100", "2017-06-30")
    assert agg.status == "published" and agg.value == pytest.approx(45.5)
    assert set(agg.excluded["force"]) == {"Durham", "Lancashire", "Warwickshire", "West Mercia", "North Yorkshire"}
    none = datareturn.england_and_wales("calls_for_assistance_per_1000", "2017-06-30")
    assert none.status == "missing" and none.value is None


# --------------------------------------------------------------------------- synthetic return

def test_synthetic_return_fills_da_arrests(synthetic):
    frame = datareturn.by_force("da_arrests_per_100", "2017-06-30").set_index("force")
    assert frame.loc["Kent", "value"] == pytest.approx(40.0)       # 4000 / own DA offences 10000
    assert "da offences" in frame.loc["Kent", "note"]
    assert frame.loc["Bedfordshire", "value"] == pytest.approx(30.0)
    assert frame.loc["Durham", "status"] == "excluded" and pd.isna(frame.loc["Durham", "value"])
    assert frame.loc["Durham", "reason"].startswith("Annex A")
    assert frame.loc["Cambridgeshire", "value"] == pytest.approx(52.8)  # published row still there
    # Figure 2 reads the same values through measures
    fig = measures.by_force("da_arrests_per_100", "2017-06-30").set_index("force")
    assert fig.loc["Kent", "value"] == pytest.approx(40.0) and fig.loc["Durham", "status"] == "excluded"


def test_synthetic_da_arrests_england_and_wales_excludes_annex_a_forces(synthetic):
    agg = datareturn.england_and_wales("da_arrests_per_100", "2017-06-30")
    # only 2 of the included forces supplied: the published E&W value is kept, the partial aggregate shown beside it
    assert agg.status == "published" and agg.value == pytest.approx(45.5)
    assert agg.computed.value == pytest.approx(100 * (4000 + 1500) / (10000 + 5000))
    assert sorted(agg.computed.included) == ["Bedfordshire", "Kent"]
    assert "Durham" in set(agg.excluded["force"])
    assert "Durham" in datareturn.coverage_note("da_arrests_per_100", "2017-06-30")


def test_synthetic_asb_powers_and_ocg_fill_in(synthetic):
    asb = datareturn.by_force("asb_powers_per_million", "2017-06-30").set_index("force")
    assert asb.loc["Kent", "value"] == pytest.approx(1e6 * 180 / 1_800_000)
    assert "sum of the power types supplied" in asb.loc["Kent", "note"]
    assert asb.loc["Durham", "value"] == pytest.approx(200.0)
    assert asb.loc["Bedfordshire", "status"] == "excluded"
    agg = datareturn.england_and_wales("asb_powers_per_million", "2017-06-30")
    assert agg.status == "partial" and sorted(agg.included) == ["Durham", "Kent"]
    assert agg.value == pytest.approx(1e6 * 300 / 2_400_000)
    assert {"Bedfordshire", "Greater Manchester", "Metropolitan Police", "Suffolk"} <= set(agg.excluded["force"])

    ocg = datareturn.by_force("ocg_per_million", "2017-06-30").set_index("force")
    assert ocg.loc["Kent", "value"] == pytest.approx(50.0) and ocg.loc["Durham", "value"] == pytest.approx(50.0)
    assert ocg.loc["City of London", "status"] == "excluded"
    agg = datareturn.england_and_wales("ocg_per_million", "2017-06-30")
    assert agg.value == pytest.approx(1e6 * 160 / 3_050_000)
    assert list(agg.excluded["force"]) == ["City of London"]
    assert "City of London" in datareturn.coverage_note("ocg_per_million", "2017-06-30")


def test_user_rows_win(monkeypatch, tmp_path):
    path = write_synthetic(tmp_path / "override.csv", [("Cambridgeshire", "da_arrests", 500, 1000, "")])
    monkeypatch.setenv(datareturn.ENV_VAR, str(path))
    row = datareturn.by_force("da_arrests_per_100", "2017-06-30").set_index("force").loc["Cambridgeshire"]
    assert row["value"] == pytest.approx(50.0) and "computed" in row["note"]


def test_full_supply_gives_a_computed_england_and_wales(monkeypatch, tmp_path):
    rows = [(f, "eaw", 10, 1_000_000, "") for f in FORCE_NAMES]
    monkeypatch.setenv(datareturn.ENV_VAR, str(write_synthetic(tmp_path / "all.csv", rows)))
    agg = datareturn.england_and_wales("eaw_per_million", "2017-06-30")
    assert agg.status == "ok" and agg.value == pytest.approx(10.0) and agg.published == pytest.approx(21.8)


def test_default_file_location(monkeypatch, tmp_path):
    target = tmp_path / "input" / "data_return.csv"
    target.parent.mkdir()
    write_synthetic(target, [("Kent", "ocg", 5, 1_000_000, "")])
    assert datareturn.user_file() == target
    assert datareturn.by_force("ocg_per_million", "2017-06-30").set_index("force").loc["Kent", "value"] == 5


@pytest.mark.realdata
def test_count_only_uses_the_ons_population(real_data_dir, monkeypatch, tmp_path):
    monkeypatch.setenv(datareturn.ENV_VAR, str(write_synthetic(tmp_path / "n.csv", [("Kent", "ocg", 90, "", "")])))
    row = datareturn.by_force("ocg_per_million", "2017-06-30").set_index("force").loc["Kent"]
    pop = measures.population("2017-06-30").set_index("force").loc["Kent", "population"]
    assert row["value"] == pytest.approx(1e6 * 90 / pop)
    assert "ONS mid-2016 population" in row["note"]


# --------------------------------------------------------------------------- validation

def _expect(tmp_path, monkeypatch, body: str, error, *needles):
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    monkeypatch.setenv(datareturn.ENV_VAR, str(path))
    with pytest.raises(error) as info:
        datareturn.load()
    msg = str(info.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, msg
    return msg


def test_unknown_force_suggests(tmp_path, monkeypatch):
    _expect(tmp_path, monkeypatch, f"{HEADER}\nCambridgshire,2017-06-30,ocg,5,,,,,\n", UnknownForceError,
            "bad.csv row 2", "Cambridgeshire")


def test_bad_period(tmp_path, monkeypatch):
    _expect(tmp_path, monkeypatch, f"{HEADER}\nKent,2017-06-15,ocg,5,,,,,\n", PeriodError, "row 2", "quarter end")


def test_unknown_measure(tmp_path, monkeypatch):
    _expect(tmp_path, monkeypatch, f"{HEADER}\nKent,2017-06-30,da_arrest,5,,,,,\n", SchemaError,
            "unknown measure", "da_arrests")


def test_negative_number(tmp_path, monkeypatch):
    _expect(tmp_path, monkeypatch, f"{HEADER}\nKent,2017-06-30,ocg,-5,,,,,\n", SchemaError, "negative")


def test_not_a_number(tmp_path, monkeypatch):
    _expect(tmp_path, monkeypatch, f"{HEADER}\nKent,2017-06-30,ocg,lots,,,,,\n", SchemaError, "not a number")


def test_missing_columns(tmp_path, monkeypatch):
    _expect(tmp_path, monkeypatch, "force,numerator\nKent,5\n", SchemaError, "missing column", "period_end", "measure")


def test_row_without_numbers(tmp_path, monkeypatch):
    _expect(tmp_path, monkeypatch, f"{HEADER}\nKent,2017-06-30,ocg,,,,,,\n", SchemaError, "numerator")


def test_duplicate_rows(tmp_path, monkeypatch):
    _expect(tmp_path, monkeypatch, f"{HEADER}\nKent,2017-06-30,ocg,5,,,,,\nKent,30/06/2017,ocg,6,,,,,\n", SchemaError,
            "more than one row")


def test_env_var_naming_a_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv(datareturn.ENV_VAR, str(tmp_path / "nope.csv"))
    with pytest.raises(DataFileError, match="does not exist"):
        datareturn.load()


def test_unknown_measure_key():
    with pytest.raises(PeelError, match="did you mean"):
        datareturn.by_force("da_arrest_per_100", "2017-06-30")
