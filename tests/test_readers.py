"""Readers and the tidy tables: real values from the official files, and the official outcomes
workbook layout on a small synthetic workbook written by the test."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from peel_helpers import data
from peel_helpers.data import readers
from peel_helpers.data import schemas
from peel_helpers.core.errors import DataFileError, PeelError
from peel_helpers.core.forces import FORCE_NAMES
from peel_helpers.core.periods import Period

from conftest import OFFICIAL_HEADINGS, synthetic_outcome_rows as _synthetic_rows, write_official_workbook

realdata = pytest.mark.realdata

# ------------------------------------------------------------------------------------------
# Real values (computed by the project's own code from the mirrored files)

def _recorded_excl_fraud(frame: pd.DataFrame, force: str, end: str) -> int:
    rows = frame[(frame["body"] == "territorial") & (frame["force"] == force)
                 & (frame["period_end"] == pd.Timestamp(end)) & (frame["offence"] != readers.FRAUD_OFFENCE)]
    return int(rows["count"].sum())


@realdata
def test_recorded_crime_cambridgeshire_excluding_fraud(real_data_dir):
    rc = data.load("recorded_crime")
    assert _recorded_excl_fraud(rc, "Cambridgeshire", "2017-06-30") == 61_699
    assert _recorded_excl_fraud(rc, "Cambridgeshire", Period.parse("2017-06-30").previous.iso) == 49_750


@realdata
def test_recorded_crime_odd_december_label_and_bodies(real_data_dir):
    rc = data.load("recorded_crime")
    ends = set(rc["period_end"].dt.date)
    assert dt.date(2017, 12, 31) in ends and dt.date(2017, 12, 30) not in ends
    assert rc["period_end"].dt.is_quarter_end.all()
    bodies = rc.groupby("body")["force"].unique().to_dict()
    assert sorted(bodies["territorial"]) == sorted(FORCE_NAMES)
    assert list(bodies["british_transport_police"]) == ["British Transport Police"]
    assert sorted(bodies["fraud_body"]) == ["Action Fraud", "CIFAS", "UK Finance"]
    fraud = rc[rc["body"] == "fraud_body"]
    assert (fraud["offence"] == readers.FRAUD_OFFENCE).all()
    # one row per force, period end and offence
    assert not rc.duplicated(["period_end", "force", "offence"]).any()


@realdata
def test_population_mid_years(real_data_dir):
    pop = data.load("population")
    cambs = pop[pop["force"] == "Cambridgeshire"].set_index("mid_year")["population"]
    assert cambs[2016] == 841_300
    assert cambs[2015] == 835_200
    assert pop["force"].nunique() == 43
    assert set(pop["code"]) >= {"E23000023", "E23000014"}   # West Midlands force code, not the region's
    assert pop.loc[pop["force"] == "West Midlands", "code"].unique().tolist() == ["E23000014"]


@realdata
def test_asb_counts_equal_ons_exactly(real_data_dir, raw_files):
    asb = data.load("asb")
    assert asb["force"].nunique() == 43
    cambs = asb[asb["force"] == "Cambridgeshire"].set_index("year_ending")["incidents"]
    # Table P7 column "Apr '15 to Mar '16" holds 22,453; "Apr '16 to Mar '17" holds 24,288.
    assert cambs[pd.Timestamp("2016-03-31")] == 22_453
    assert cambs[pd.Timestamp("2017-03-31")] == 24_288
    # Every count equals the cell in ONS Table P7, read independently here with openpyxl.
    grid = pd.read_excel(raw_files["pfa_tables_mar2018"], sheet_name="Table P7", header=None, engine="openpyxl")
    header = grid.iloc[3].ffill()
    by_code = {}
    for i in range(5, len(grid)):
        code = grid.iat[i, 0]
        if isinstance(code, str) and code.startswith(("E23", "W15")):
            by_code[code] = grid.iloc[i]
    checked = 0
    for rec in asb.itertuples(index=False):
        source_row = by_code[rec.code]
        label = f"Mar '{rec.year_ending.year % 100:02d}"
        col = next(j for j in range(2, grid.shape[1], 2) if label in str(header.iloc[j]))
        assert rec.incidents == int(source_row.iloc[col]), (rec.force, rec.year_ending)
        checked += 1
    assert checked == 43 * 11


@realdata
def test_asb_placeholders_become_missing_with_reason(real_data_dir):
    asb = data.load("asb")
    city = asb[asb["force"] == "City of London"]
    assert city["ons_rate_per_1000"].isna().all()
    assert city["ons_rate_note"].str.startswith("'+' in source:").all()
    assert city["incidents"].notna().all()
    assert city["footnotes"].unique().tolist() == ["10"]
    assert asb.loc[asb["force"] == "Cheshire", "footnotes"].unique().tolist() == ["8"]
    # ONS's own rate is kept beside the counts for comparison
    cambs = asb[(asb["force"] == "Cambridgeshire") & (asb["year_ending"] == pd.Timestamp("2017-03-31"))]
    assert cambs["ons_rate_per_1000"].iloc[0] == pytest.approx(28.872, abs=0.001)


@realdata
def test_outcomes_2017_18(real_data_dir):
    out = data.load("outcomes")
    q1 = out[(out["force"] == "Cambridgeshire") & (out["financial_year"] == "2017/18") & (out["quarter"] == 1)]
    assert int(q1["offences_outcomes"].sum()) == 17_126
    assert set(out["source_key"]) == {"outcomes_2017_18_csv"}
    assert sorted(out.loc[out["body"] == "territorial", "force"].unique()) == sorted(FORCE_NAMES)
    assert out.loc[out["body"] == "british_transport_police", "force"].unique().tolist() == ["British Transport Police"]
    assert "London, City of" not in set(out["force"])
    assert [q.label for q in data.outcome_quarters()] == ["2017/18 Q1", "2017/18 Q2", "2017/18 Q3", "2017/18 Q4"]


@realdata
def test_pfa_lookup(real_data_dir):
    lk = data.load("pfa_lookup")
    assert len(lk) == 348
    assert lk["force"].nunique() == 43
    assert "Devon and Cornwall" in set(lk["force"])
    assert not lk.columns.str.startswith("\ufeff").any()


@realdata
def test_loaded_tables_have_exact_dtypes(real_data_dir):
    for table, dtypes in schemas.DTYPES.items():
        frame = data.load(table)
        assert list(frame.columns) == list(dtypes)
        assert [str(frame[c].dtype) for c in frame] == [str(t) for t in dtypes.values()], table


# ------------------------------------------------------------------------------------------
# Official outcomes workbook layout (synthetic, written here)

def test_official_workbook_layout_reads_into_the_same_schema(tmp_path):
    path = write_official_workbook(tmp_path / "synthetic-outcomes-2016-17.xlsx")
    out = readers.read_outcomes(path, source_key="synthetic_2016_17")
    assert list(out.columns) == list(schemas.DTYPES["outcomes"])
    assert [str(out[c].dtype) for c in out] == [str(t) for t in schemas.DTYPES["outcomes"].values()]
    assert set(out["force"]) == {"Cambridgeshire", "City of London", "British Transport Police"}
    assert set(out.loc[out["force"] == "British Transport Police", "body"]) == {"british_transport_police"}
    assert set(out["offence_code"]) == {"80"}        # numeric cell -> text code
    assert set(out["financial_year"]) == {"2016/17"} and set(out["quarter"]) == {2, 3}
    assert out["outcomes_recorded_in_quarter"].isna().sum() == 6
    assert set(out["source_key"]) == {"synthetic_2016_17"}
    cambs_q2 = out[(out["force"] == "Cambridgeshire") & (out["quarter"] == 2)]
    assert int(cambs_q2["offences_outcomes"].sum()) == 20 + 21


def test_snake_case_csv_and_official_layout_agree(tmp_path):
    """The same synthetic rows as a snake_case CSV (with a trailing all-NA row) read identically."""
    rows = _synthetic_rows()
    snake = pd.DataFrame(rows, columns=["force_name", "offence_description", "offence_group", "offence_subgroup",
                                        "offence_code", "outcome_description", "outcome_group", "outcome_type",
                                        "financial_year", "financial_quarter", "offences",
                                        "force_outcomes_recorded_in_quarter"])
    snake.loc[len(snake)] = [None] * len(snake.columns)
    csv = tmp_path / "synthetic.csv.gz"
    snake.to_csv(csv, index=False, na_rep="NA")
    a = readers.read_outcomes(csv, "k")
    b = readers.read_outcomes(write_official_workbook(tmp_path / "synthetic.xlsx"), "k")
    key = ["force", "quarter", "outcome_type"]
    pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True))


def _write_minimal_ods(path, sheet: str, rows: list[list]) -> None:
    """A minimal OpenDocument spreadsheet written with the standard library (no odfpy needed)."""
    import zipfile
    from xml.sax.saxutils import escape

    def cell(v):
        if v is None:
            return "<table:table-cell/>"
        if isinstance(v, (int, float)):
            return f'<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>'
        return f'<table:table-cell office:value-type="string"><text:p>{escape(str(v))}</text:p></table:table-cell>'

    body = "".join("<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>" for row in rows)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="{sheet}">{body}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>")
    manifest_xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", manifest_xml, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)


def test_official_ods_layout(tmp_path):
    rows = [["SYNTHETIC outcomes workbook (test data)"], OFFICIAL_HEADINGS] + _synthetic_rows()
    path = tmp_path / "synthetic.ods"
    _write_minimal_ods(path, "Data", rows)
    out = readers.read_outcomes(path, "k")
    xlsx = readers.read_outcomes(write_official_workbook(tmp_path / "synthetic.xlsx"), "k")
    key = ["force", "quarter", "outcome_type"]
    pd.testing.assert_frame_equal(out.sort_values(key).reset_index(drop=True),
                                  xlsx.sort_values(key).reset_index(drop=True))


def test_unrecognised_outcomes_row_is_an_error_naming_it(tmp_path):
    path = write_official_workbook(tmp_path / "synthetic.xlsx")
    from openpyxl import load_workbook

    wb = load_workbook(path)
    wb["Data"].append(["Atlantis Constabulary", "Synthetic offence", "g", "s", 80, "Charged/Summonsed",
                       "Charged/Summonsed", 1, "2016/17", 2, 1, 1])
    wb.save(path)
    with pytest.raises(DataFileError) as err:
        readers.read_outcomes(path, "k")
    msg = str(err.value)
    assert "Atlantis Constabulary" in msg and "\n" not in msg


def test_workbook_without_outcomes_header_is_an_error(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["SYNTHETIC", "nothing here"])
    wb.save(tmp_path / "x.xlsx")
    with pytest.raises(DataFileError, match="Force Name"):
        readers.read_outcomes(tmp_path / "x.xlsx", "k")


# ------------------------------------------------------------------------------------------
# Synthetic files in the other official layouts: quirks handled

def test_recorded_crime_layout_quirks(tmp_path):
    csv = tmp_path / "rec-crime-synthetic.csv"
    lines = ["12 months ending,PFA,Region,Offence,Rolling year total number of offences"]
    from peel_helpers.core.forces import FORCES

    for f in FORCES:
        lines.append(f"30-12-2017,{f.name},{f.region},Robbery,1")
    lines.append("30-12-2017,Action Fraud,Fraud: Action Fraud,Action Fraud,5")
    lines.append("30-12-2017,British Transport Police,British Transport Police,Robbery,2")
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = readers.read_recorded_crime(csv)
    assert set(out["period_end"]) == {pd.Timestamp("2017-12-31")}
    fraud = out[out["body"] == "fraud_body"].iloc[0]
    assert (fraud["force"], fraud["offence"], fraud["count"]) == ("Action Fraud", readers.FRAUD_OFFENCE, 5)
    # an unknown area is an error naming it
    csv.write_text("\n".join(lines + ["30-12-2017,Atlantis,Nowhere,Robbery,1"]) + "\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="Atlantis"):
        readers.read_recorded_crime(csv)
    # a period end that is not (nearly) a quarter end is an error
    csv.write_text("\n".join(lines[:2] + ["15-11-2017,Cambridgeshire,East,Robbery,1"]) + "\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="15-11-2017"):
        readers.read_recorded_crime(csv)


def _write_p7_like(path, city_incidents="..") -> None:
    """A SYNTHETIC sheet in the ONS Table P7 layout: title rows, year row, header row, notes."""
    from openpyxl import Workbook

    from peel_helpers.core.forces import FORCES

    wb = Workbook()
    ws = wb.active
    ws.title = "Table P7"
    ws.append(["Table P7: SYNTHETIC anti-social behaviour incidents (test data)"])
    ws.append([])
    ws.append(["England and Wales"])
    ws.append([None, None, "Apr '15 to Mar '165, 6", None, "Apr '16 to Mar '175, 6", None])
    ws.append(["Area Code", "Area Name", "Number of Incidents", "Rate per 1,000 population",
               "Number of Incidents", "Rate per 1,000 population"])
    ws.append([])
    ws.append(["K04000001", "ENGLAND AND WALES (inc. BTP)7", 100, 1.5, 110, 1.6])
    ws.append(["E12000005", "West Midlands", 10, 1.0, 11, 1.1])
    for i, f in enumerate(FORCES):
        name = {"City of London": "City of London10", "Cheshire": "Cheshire8"}.get(f.name, f.name)
        if f.name == "City of London":
            ws.append([f.code, name, city_incidents, "+", 5, "+"])
        else:
            ws.append([f.code, name, 1000 + i, 2.5, 1100 + i, 2.75])
    ws.append([None, "British Transport Police7", "..", "..", 3, 0.1])
    ws.append(["Source: synthetic"])
    ws.append(["10. '+' Rates for London Region include 'City of London'."])
    wb.save(path)


def test_asb_layout_placeholders_and_footnotes(tmp_path):
    path = tmp_path / "p7-synthetic.xlsx"
    _write_p7_like(path)
    asb = readers.read_asb(path)
    assert len(asb) == 43 * 2
    city = asb[asb["force"] == "City of London"].set_index("year_ending")
    ye16 = city.loc[pd.Timestamp("2016-03-31")]
    assert pd.isna(ye16["incidents"]) and ye16["incidents_note"] == "'..' in source: not available"
    assert pd.isna(ye16["ons_rate_per_1000"])
    assert ye16["ons_rate_note"] == "'+' in source: Rates for London Region include 'City of London'"
    assert city.loc[pd.Timestamp("2017-03-31"), "incidents"] == 5
    assert city["footnotes"].unique().tolist() == ["10"]
    wm = asb[asb["force"] == "West Midlands"]
    assert len(wm) == 2 and (wm["incidents"] != 10).all()     # the region row is not the force


def test_split_footnotes():
    assert readers.split_footnotes("City of London10") == ("City of London", "10")
    assert readers.split_footnotes("Cheshire8") == ("Cheshire", "8")
    assert readers.split_footnotes("ENGLAND AND WALES6,7,8") == ("ENGLAND AND WALES", "6,7,8")
    assert readers.split_footnotes("ENGLAND AND WALES (inc. BTP)7") == ("ENGLAND AND WALES (inc. BTP)", "7")
    assert readers.split_footnotes("Dyfed-Powys") == ("Dyfed-Powys", None)


def test_errors_are_one_line_peel_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    for reader in (readers.read_recorded_crime, readers.read_pfa_lookup, readers.read_outcomes):
        with pytest.raises(PeelError) as err:
            reader(bad)
        assert "\n" not in str(err.value)
