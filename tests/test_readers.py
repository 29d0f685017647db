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

from conftest import OFFICIAL_HEADINGS, synthetic_outcome_rows as _synthetic_rows, write_official_workbook, write_ons_p3_like

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
    assert cambs[2017] == 847_200
    assert cambs[2016] == 841_300
    assert cambs[2015] == 835_200
    assert pop["force"].nunique() == 43
    assert sorted(pop["mid_year"].unique()) == list(range(2002, 2018))
    assert (pop.groupby("mid_year").size() == 43).all()
    assert set(pop["code"]) >= {"E23000023", "E23000014"}   # West Midlands force code, not the region's
    assert pop.loc[pop["force"] == "West Midlands", "code"].unique().tolist() == ["E23000014"]
    # each row names its file and table: mid-2017 from the June 2018 tables' P3, the rest from P9
    sources = set(pop[["mid_year", "source_key", "source_table"]].drop_duplicates().itertuples(index=False, name=None))
    assert sources == ({(y, "pfa_tables_mar2018", "Table P9") for y in range(2002, 2017)}
                       | {(2017, "pfa_tables_jun2018", "Table P3")})
    ew = pop.groupby("mid_year")["england_and_wales_population"].unique()
    assert ew[2017].tolist() == [58_744_600] and ew[2016].tolist() == [58_381_200]


def _openpyxl_rows(path, sheet: str) -> list[list]:
    """All cell values of a sheet, read with openpyxl (independent of the package's calamine reader)."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        return [list(r) for r in wb[sheet].iter_rows(values_only=True)]
    finally:
        wb.close()


def _ons_cell(rows: list[list], area: str, heading: str):
    """The cell of an ONS Table P1/P3 for an area (its code, or a name the cell starts with) in the
    column whose heading (in the 'Area Code' row or the row above) starts with ``heading``."""
    top = next(i for i, r in enumerate(rows) if r[0] == "Area Code")
    col = next(j for r in rows[top - 1: top + 1] for j, v in enumerate(r) if isinstance(v, str) and v.startswith(heading))
    body = rows[top + 1:]
    row = next((r for r in body if r[0] == area), None) or next(r for r in body if str(r[1]).startswith(area))
    return row[col]


@realdata
def test_mid_2017_population_equals_table_p3(real_data_dir, raw_files):
    """Every mid-2017 value equals the cell of Table P3's population column (read with openpyxl)."""
    rows = _openpyxl_rows(raw_files["pfa_tables_jun2018"], "Table P3")
    heading = "Population figures\n (mid-2017)"
    pop = data.load("population")
    y2017 = pop[pop["mid_year"] == 2017].set_index("force")
    from peel_helpers.core.forces import FORCES

    for f in FORCES:
        assert y2017.loc[f.name, "population"] == _ons_cell(rows, f.code, heading), f.name
        assert y2017.loc[f.name, "code"] == f.code
    assert _ons_cell(rows, "K04000001", heading) == 58_744_600
    # City of London and the Met are separate rows; together they make the London region row
    assert y2017.loc["City of London", "population"] == 7_700
    assert y2017.loc["Metropolitan Police", "population"] == 8_817_300
    assert _ons_cell(rows, "E12000007", heading) == 7_700 + 8_817_300
    # ONS's forces sum to its England and Wales total within rounding to the nearest 100
    assert abs(int(y2017["population"].sum()) - 58_744_600) <= 43 * 50


# ------------------------------------------------------------------------------------------
# ONS's own published figures (Tables P1 and P3 of both ONS workbooks)

_ONS_FILES = {"pfa_tables_jun2018": pd.Timestamp("2018-06-30"), "pfa_tables_mar2018": pd.Timestamp("2018-03-31")}


@realdata
@pytest.mark.parametrize("key", sorted(_ONS_FILES))
def test_ons_published_equals_the_cells(real_data_dir, raw_files, key):
    ons = data.load("ons_published")
    mine = ons[ons["source_key"] == key].set_index(["area", "measure"])
    assert set(mine["period_end"]) == {_ONS_FILES[key]}
    p1 = _openpyxl_rows(raw_files[key], "Table P1")
    p3 = _openpyxl_rows(raw_files[key], "Table P3")
    total = "Total recorded crime (excluding fraud"
    for area, code in (("Cambridgeshire", "E23000023"), ("City of London", "E23000034"),
                       ("Metropolitan Police", "E23000001"), ("England and Wales", "K04000001")):
        assert mine.loc[(area, "recorded_crime_count"), "value"] == _ons_cell(p1, code, total), area
        expected = _ons_cell(p3, code, total)
        got = mine.loc[(area, "recorded_crime_per_1000")]
        if expected == "+":      # City of London: ONS gives no rate, only a symbol
            assert pd.isna(got["value"])
            assert got["value_note"] == "'+' in source: Rates for London include 'City of London'"
        else:
            assert got["value"] == pytest.approx(expected, rel=1e-12), area
    assert mine.loc[("British Transport Police", "recorded_crime_count"), "value"] == \
        _ons_cell(p1, "British Transport Police", total)
    # the rate's base is the population column of the same table
    base = next(v for v in p3[next(i for i, r in enumerate(p3) if r[0] == "Area Code")]
                if isinstance(v, str) and v.startswith("Population figures"))
    year = base.split("(mid-")[1][:4]
    assert set(mine.xs("recorded_crime_per_1000", level="measure")["population_base"]) == {f"mid-{year}"}
    assert set(mine.xs("recorded_crime_count", level="measure")["population_base"].isna()) == {True}


@realdata
def test_ons_published_rows_and_caveats(real_data_dir):
    ons = data.load("ons_published")
    assert len(ons) == 2 * (45 + 44)     # per file: 43 forces + BTP + E&W counts; 43 forces + E&W rates
    assert [d.isoformat() for d in data.coverage("ons_published")] == ["2018-03-31", "2018-06-30"]
    assert set(ons["body"]) == {"territorial", "british_transport_police", "aggregate"}
    assert set(ons.loc[ons["body"] == "aggregate", "area"]) == {"England and Wales"}
    assert sorted(ons.loc[ons["body"] == "territorial", "area"].unique()) == sorted(FORCE_NAMES)
    btp = ons[ons["body"] == "british_transport_police"]
    assert set(btp["measure"]) == {"recorded_crime_count"} and btp["code"].isna().all()
    ew = ons[ons["area"] == "England and Wales"]
    assert ew["value_note"].str.contains("includes British Transport Police").all()
    assert ew["footnotes"].str.contains("British Transport Police").all()
    # ... and it does: England and Wales = the 43 forces + British Transport Police, exactly
    counts = ons[ons["measure"] == "recorded_crime_count"]
    for end, part in counts.groupby("period_end"):
        total = part.loc[part["body"] == "aggregate", "value"].iloc[0]
        assert total == part.loc[part["body"] != "aggregate", "value"].sum(), end
    jun = ons[(ons["period_end"] == "2018-06-30")].set_index(["area", "measure"])
    assert jun.loc[("Cambridgeshire", "recorded_crime_count"), "value"] == 65_093
    assert jun.loc[("City of London", "recorded_crime_per_1000"), "footnotes"].startswith("11. '+' Rates for London")
    assert "no footnote 12" in jun.loc[("Avon and Somerset", "recorded_crime_per_1000"), "footnotes"]
    # ONS's rate = its count / its mid-2017 population x 1,000 (Metropolitan Police alone, not London);
    # ONS divides by the unrounded estimate, so the population the rate implies rounds to the table's
    pop = data.load("population").query("mid_year == 2017").set_index("force")["population"]
    for force in ("Cambridgeshire", "Metropolitan Police"):
        implied = jun.loc[(force, "recorded_crime_count"), "value"] * 1000 / jun.loc[(force, "recorded_crime_per_1000"), "value"]
        assert round(implied, -2) == pop[force], force


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
    _write_ods_sheets(path, {sheet: rows})


def _write_ods_sheets(path, sheets: dict[str, list[list]]) -> None:
    """A minimal OpenDocument spreadsheet with one table per entry, in order."""
    import zipfile
    from xml.sax.saxutils import escape, quoteattr

    def cell(v):
        if v is None:
            return "<table:table-cell/>"
        if isinstance(v, (int, float)):
            return f'<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>'
        return f'<table:table-cell office:value-type="string"><text:p>{escape(str(v))}</text:p></table:table-cell>'

    tables = "".join(
        f"<table:table table:name={quoteattr(name)}>"
        + "".join("<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>" for row in rows)
        + "</table:table>" for name, rows in sheets.items())
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>')
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


# The official 2019 release's layout, exactly: a notes sheet first, then the sheet
# 'Outcomes_open_data__2017-18' whose FIRST row holds the official headings (no title rows).

RELEASE_2019_SHEET = "Outcomes_open_data__2017-18"
_NOTES_SHEET = [["SYNTHETIC test workbook copying the layout of the Home Office outcomes open data; not real data"],
                [],
                ["Column", "Description"]] + [[h, f"(synthetic description of {h})"] for h in OFFICIAL_HEADINGS]
_OUTCOMES_2017_18 = ((0, "Not yet assigned an outcome", "Not yet assigned an outcome"),
                     (1, "Charged/Summonsed", "Charged/Summonsed"),
                     (14, "Evidential difficulties: suspect not identified; victim does not support further action",
                      "Evidential difficulties (suspect not identified): victim does not support action"))
_OFFENCES_2017_18 = (("8N", "Assault with injury", "Violence against the person", "Violence with injury"),
                     (28, "Burglary in a dwelling", "Theft offences", "Domestic burglary"),
                     ("105A", "Possession of other weapons", "Possession of weapons offences", None))


def release_2019_rows() -> list[list]:
    """SYNTHETIC data rows in the official column order (numbers made up, deterministic)."""
    rows = []
    forces_ = ("Cambridgeshire", "London, City of", "Metropolitan Police", "British Transport Police")
    for fi, force in enumerate(forces_):
        for quarter in (1, 2, 3, 4):
            for oi, (code, desc, group, subgroup) in enumerate(_OFFENCES_2017_18):
                for otype, odesc, ogroup in _OUTCOMES_2017_18:
                    n = 1000 * fi + 100 * quarter + 10 * oi + otype
                    rows.append([force, desc, group, subgroup, code, odesc, ogroup, otype, "2017/18", quarter,
                                 n, None if otype == 0 else n // 2])
    return rows


def _write_release_2019_xlsx(path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Notes"
    for row in _NOTES_SHEET:
        wb.active.append(row)
    ws = wb.create_sheet(RELEASE_2019_SHEET)
    ws.append(OFFICIAL_HEADINGS)
    for row in release_2019_rows():
        ws.append(row)
    wb.save(path)


def _check_release_2019_table(out: pd.DataFrame) -> None:
    """The tidy table against values computed here from the rows written (plain Python)."""
    rows = release_2019_rows()
    col = {h: i for i, h in enumerate(OFFICIAL_HEADINGS)}
    assert len(out) == len(rows)
    assert list(out.columns) == list(schemas.DTYPES["outcomes"])
    assert [str(out[c].dtype) for c in out] == [str(t) for t in schemas.DTYPES["outcomes"].values()]
    names = {"London, City of": "City of London"}
    for force in {r[col["Force Name"]] for r in rows}:
        for quarter in (1, 2, 3, 4):
            mine = [r for r in rows if r[col["Force Name"]] == force and r[col["Financial Quarter"]] == quarter]
            got = out[(out["force"] == names.get(force, force)) & (out["quarter"] == quarter)]
            expected = sum(r[col["Force outcomes for offences recorded in quarter"]] for r in mine)
            assert int(got["offences_outcomes"].sum()) == expected, (force, quarter)
            expected_in_q = sum(r[col["Force outcomes recorded in quarter"]] or 0 for r in mine)
            assert int(got["outcomes_recorded_in_quarter"].sum()) == expected_in_q
    bodies = out.groupby("force")["body"].unique().map(list).to_dict()
    assert bodies == {"Cambridgeshire": ["territorial"], "City of London": ["territorial"],
                      "Metropolitan Police": ["territorial"], "British Transport Police": ["british_transport_police"]}
    assert set(out["offence_code"]) == {"8N", "28", "105A"}
    assert set(out["financial_year"]) == {"2017/18"} and set(out["source_key"]) == {"outcomes_2017_18"}
    assert int(out["outcomes_recorded_in_quarter"].isna().sum()) == sum(r[col["Outcome Type"]] == 0 for r in rows)
    assert int(out["offence_subgroup"].isna().sum()) == sum(r[col["Offence Subgroup"]] is None for r in rows)
    long_desc = out.loc[out["outcome_type"] == 14, "outcome_description"].unique().tolist()
    assert long_desc == [_OUTCOMES_2017_18[2][1]]


def test_release_2019_layout_header_in_first_row(tmp_path):
    path = tmp_path / "synthetic-prc-outcomes-open-data-mar2018-tables.xlsx"
    _write_release_2019_xlsx(path)
    assert readers.sheet_names(path) == ["Notes", RELEASE_2019_SHEET]
    _check_release_2019_table(readers.read_outcomes(path, source_key="outcomes_2017_18"))


def test_release_2019_layout_as_ods(tmp_path):
    path = tmp_path / "synthetic-prc-outcomes-open-data-mar2018-tables.ods"
    _write_ods_sheets(path, {"Notes": _NOTES_SHEET, RELEASE_2019_SHEET: [OFFICIAL_HEADINGS] + release_2019_rows()})
    _check_release_2019_table(readers.read_outcomes(path, source_key="outcomes_2017_18"))


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


def test_population_from_table_p3_layout(tmp_path):
    path = tmp_path / "p3-synthetic.xlsx"
    write_ons_p3_like(path)
    pop = readers.read_population(path, source_key="synthetic_key")
    assert len(pop) == 43 and set(pop["mid_year"]) == {2017}
    assert set(pop["source_key"]) == {"synthetic_key"} and set(pop["source_table"]) == {"Table P3"}
    assert set(pop["england_and_wales_population"]) == {1_000_000}
    city = pop.set_index("force").loc["City of London"]
    assert (city["population"], city["code"]) == (7_700, "E23000034")
    assert [str(pop[c].dtype) for c in pop] == [str(t) for t in schemas.DTYPES["population"].values()]


def test_missing_population_is_an_error_never_another_year(tmp_path):
    path = tmp_path / "p3-synthetic.xlsx"
    write_ons_p3_like(path, city_population="..")
    with pytest.raises(DataFileError) as err:
        readers.read_population(path, source_key="k")
    msg = str(err.value)
    assert "City of London" in msg and "mid-2017" in msg and "never" in msg and "\n" not in msg


def test_ons_published_from_table_p3_layout(tmp_path):
    path = tmp_path / "p3-synthetic.xlsx"
    write_ons_p3_like(path)
    out = readers.read_ons_published(path, source_key="k", sheets=("Table P3",))
    assert len(out) == 44 and set(out["measure"]) == {"recorded_crime_per_1000"}
    assert set(out["period_end"]) == {pd.Timestamp("2018-06-30")} and set(out["population_base"]) == {"mid-2017"}
    ew = out.set_index("area").loc["England and Wales"]
    assert ew["value"] == 80.5 and ew["code"] == "K04000001" and "British Transport Police" in ew["value_note"]
    city = out.set_index("area").loc["City of London"]
    assert pd.isna(city["value"]) and city["value_note"] == "'+' in source: Rates for London include 'City of London'"
    assert "London" not in set(out["area"])           # regions are left out
    # a two-digit year followed by footnote digits ('June 181,2') is read the same way
    write_ons_p3_like(path, title_year="181,2")
    again = readers.read_ons_published(path, source_key="k", sheets=("Table P3",))
    assert set(again["period_end"]) == {pd.Timestamp("2018-06-30")}


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


def test_readers_are_a_package_of_layouts_none_over_500_lines():
    """One module per official layout; the public names are still importable from the package."""
    from pathlib import Path

    folder = Path(readers.__file__).parent
    modules = {p.stem: len(p.read_text(encoding="utf-8").splitlines()) for p in folder.glob("*.py")}
    assert {"recorded_crime", "ons_tables", "outcomes", "lookup", "common"} <= set(modules)
    assert max(modules.values()) <= 500, modules
    for name in readers.__all__:
        assert getattr(readers, name) is not None
