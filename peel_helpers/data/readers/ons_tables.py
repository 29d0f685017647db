"""The ONS police force area data tables (workbooks of Tables P1..P10): an area block below title rows.

Read from them: mid-year populations (Table P9, or the population column of Table P3), anti-social
behaviour incidents (Table P7) and ONS's own published recorded crime (Tables P1 and P3, kept for
cross-checks).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schemas
from ...core import forces
from ...core.errors import DataFileError
from .common import canonical, file_label, require_all_forces, sheet_names, split_footnotes, to_int64

# Meaning of the placeholder symbols ONS tables use in place of a number, used when the
# sheet's own footnotes do not explain the symbol.
_SYMBOL_MEANINGS = {
    "..": "not available",
    ":": "not available",
    "-": "nil or negligible",
    "*": "suppressed",
    "x": "not applicable",
    "[x]": "not applicable",
    "[c]": "confidential",
}

_AREA_CODE = re.compile(r"^[EWKS]\d{8}$")
_CODE_WITH_FOOTNOTE = re.compile(r"^(?P<code>[EWKS]\d{8})(?P<notes>\d+)$")   # 'E230000118' = E23000011 + note 8


@dataclass
class AreaTable:
    """One ONS 'Table Pn' sheet split into parts."""

    sheet: str
    header: pd.DataFrame          # the rows from the top of the sheet to the 'Area Code' row
    rows: pd.DataFrame            # code, name, footnotes, body, force, then the value columns 0..n
    notes: list[str] = field(default_factory=list)   # text lines below the block
    # rows between the 'Area Code' row and the first area (units such as 'Numbers' or
    # 'Rate per 1,000 population'), same columns as ``header``
    below_header: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def title(self) -> str:
        """The sheet's first cell, e.g. 'Table P3: ... rate of offences, year ending June 20181,2'."""
        value = self.header.iat[0, 0] if len(self.header) else ""
        return "" if pd.isna(value) else " ".join(str(value).split())

    def footnote_texts(self) -> dict[str, str]:
        """Footnote number -> its line as published, e.g. '7' -> '7. Includes British Transport Police.'"""
        found = {}
        for line in self.notes:
            m = re.match(r"^\s*(\d+)\.\s*\S", line)
            if m:
                found[m.group(1)] = " ".join(line.split())
        return found

    def symbol_meanings(self) -> dict[str, str]:
        """Placeholder symbols explained by the sheet's own footnotes, e.g. '+' -> 'Rates for ...'."""
        found = {}
        for line in self.notes:
            m = re.match(r"^\s*\d+\.\s*['\u2018\u2019](.+?)['\u2018\u2019]\s*(.+)$", line)
            if m:
                found[m.group(1).strip()] = m.group(2).strip().rstrip(".")
        return found


def read_area_table(path: Path | str, sheet: str) -> AreaTable:
    """Read one ONS PFA table sheet (calamine) and classify every area row.

    The block starts below the row whose first cell is 'Area Code(s)' and ends at the first text
    line with no area name (the 'Source:' line and numbered footnotes). The area code decides
    between a region and a force of the same name ('West Midlands'); rows without a code
    (British Transport Police) are classified by name.
    """
    source = f"{file_label(path)} [{sheet}]"
    grid = pd.read_excel(path, sheet_name=sheet, engine="calamine", header=None, dtype=object)
    first = grid.iloc[:, 0].astype("string").str.strip().str.lower()
    header_rows = first.index[first.str.startswith("area code", na=False)]
    if len(header_rows) == 0:
        raise DataFileError(f"{source}: no 'Area Code' header row found; is this an ONS PFA data table?")
    h = int(header_rows[0])
    records, notes = [], []
    for i in range(h + 1, len(grid)):
        code, name = grid.iat[i, 0], grid.iat[i, 1]
        code = None if pd.isna(code) else str(code).strip()
        has_name = not pd.isna(name) and str(name).strip() != ""
        if not has_name:
            if code and not _AREA_CODE.match(code):
                notes.append(code)         # text line below the block
            continue
        if notes:                          # a named row after the notes began: not expected
            raise DataFileError(f"{source}: row {i + 1} ({name!r}) comes after the notes; the layout changed.")
        clean, footnotes = split_footnotes(name)
        m = _CODE_WITH_FOOTNOTE.match(code or "")
        if m:          # a footnote marker stuck to the area code
            code = m.group("code")
            footnotes = ",".join(x for x in (footnotes, m.group("notes")) if x)
        body, force = canonical(source, str(name), code)
        records.append({"row": i + 1, "code": code, "name": clean, "footnotes": footnotes,
                        "body": body, "force": force, **{j - 2: grid.iat[i, j] for j in range(2, grid.shape[1])}})
    rows = pd.DataFrame.from_records(records)
    first_area = records[0]["row"] - 1 if records else h + 1
    return AreaTable(sheet=sheet, header=grid.iloc[: h + 1], rows=rows, notes=notes,
                     below_header=grid.iloc[h + 1: first_area])


def _force_rows(table: AreaTable, source: str) -> pd.DataFrame:
    rows = table.rows[table.rows["body"] == "territorial"]
    dup = rows["force"][rows["force"].duplicated()]
    if len(dup):
        raise DataFileError(f"{source}: force {dup.iloc[0]!r} appears twice; the layout changed.")
    require_all_forces(source, set(rows["force"]), "the table")
    return rows


# England and Wales in the ONS tables (K04000001). Its counts and rates include British Transport
# Police (the tables' own footnotes say so), so it is not the sum of the 43 forces.
ENGLAND_AND_WALES = "England and Wales"
_EW_CODE = "K04000001"
_POPULATION_HEADING = re.compile(r"^population figures \(mid-(\d{4})\)", re.I)


def _clean_heading(value: object) -> str:
    """A column heading without footnote digits or line breaks:
    'Population figures\\n (mid-2017)3  rounded to 100' -> 'Population figures (mid-2017) rounded to 100',
    'Total recorded crime (excluding fraud5)' -> 'Total recorded crime (excluding fraud)'."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = re.sub(r"(?<=[A-Za-z)])\d+(?:,\d+)*", "", str(value))
    return " ".join(text.split())


def _england_and_wales_row(table: AreaTable, source: str) -> pd.Series:
    """The table's England and Wales row (code K04000001), which must appear exactly once."""
    rows = table.rows[(table.rows["body"] == "aggregate") & (table.rows["code"] == _EW_CODE)]
    if len(rows) != 1 or forces.normalise(rows["name"].iloc[0]) != "england and wales":
        raise DataFileError(f"{source}: expected one 'England and Wales' row with code {_EW_CODE}, found {len(rows)}; "
                            "the layout changed.")
    return rows.iloc[0]


def _population_columns(table: AreaTable, source: str) -> dict[int, int]:
    """Value column -> mid-year. Table P9 heads each column with a year; Tables P3 have one column
    'Population figures (mid-YYYY) rounded to 100' beside their rates."""
    header = table.header.iloc[-1]
    years = {j - 2: re.fullmatch(r"\s*(\d{4})(\.0)?\s*", str(header.iloc[j])) for j in range(2, len(header))
             if not pd.isna(header.iloc[j])}
    if years and any(years.values()):
        bad = [str(header.iloc[j + 2]) for j, m in years.items() if not m]
        if bad:
            raise DataFileError(f"{source}: header {bad[0]!r} is not a year; the layout changed.")
        return {j: int(m.group(1)) for j, m in years.items()}
    found = {j - 2: int(m.group(1)) for j in range(2, len(header))
             if (m := _POPULATION_HEADING.match(_clean_heading(header.iloc[j])))}
    if len(found) != 1:
        raise DataFileError(f"{source}: no year columns and no single 'Population figures (mid-YYYY)' column "
                            "found; is this Table P9 or Table P3 of the ONS PFA data tables?")
    return found


def _population_value(value: object, meanings: dict, source: str, who: str, year: int) -> float:
    number, note = _cell_number(value, meanings)
    if number is None:
        raise DataFileError(f"{source}: no mid-{year} population for {who} ({note}); another year is never "
                            "substituted: check that the file is the pinned release.")
    return number


def read_population(path: Path | str, sheet: str | None = None, source_key: str = "") -> pd.DataFrame:
    """ONS mid-year population estimates: 43 forces x mid-years, with the England and Wales total.

    Reads Table P9 (mid-2002 onwards, one column per year) when the workbook has it, else the
    population column of Table P3 (the single mid-year the table's rates use: mid-2017 in the
    year ending June 2018 tables). A force with no number for a year is an error: no other
    year is ever put in its place. ``source_key`` (the manifest key) is written on every row.
    """
    sheet = sheet or ("Table P9" if "Table P9" in sheet_names(path) else "Table P3")
    source = f"{file_label(path)} [{sheet}]"
    table = read_area_table(path, sheet)
    rows = _force_rows(table, source)
    columns = _population_columns(table, source)
    meanings = table.symbol_meanings()
    ew = _england_and_wales_row(table, source)
    records = []
    for j, year in columns.items():
        ew_value = _population_value(ew[j], meanings, source, ENGLAND_AND_WALES, year)
        for _, row in rows.iterrows():
            value = _population_value(row[j], meanings, source, row["force"], year)
            records.append({"force": row["force"], "code": row["code"], "mid_year": year, "population": value,
                            "england_and_wales_population": ew_value})
    long = pd.DataFrame.from_records(records)
    long["population"] = to_int64(long["population"], source, "population")
    long["england_and_wales_population"] = to_int64(long["england_and_wales_population"], source, "population")
    long["source_key"] = source_key or file_label(path)
    long["source_table"] = sheet
    out = schemas.coerce("population", long).sort_values(["force", "mid_year"]).reset_index(drop=True)
    return schemas.validate("population", out, source)


def _year_ending_march(label: object, source: str) -> dt.date:
    """"Apr '16 to Mar '175, 6" -> 2017-03-31 (footnote digits follow the two-digit year)."""
    m = re.search(r"Mar(?:ch)?\s*['\u2019]?(\d{2})", str(label))
    if not m:
        raise DataFileError(f"{source}: column heading {label!r} is not a year ending March; the layout changed.")
    return dt.date(2000 + int(m.group(1)), 3, 31)


def _cell_number(value: object, meanings: dict[str, str]) -> tuple[float | None, str | None]:
    """(number, None) or (None, reason) for a table cell."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None, "empty cell in source"
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value), None
    text = str(value).strip()
    try:
        return float(text.replace(",", "")), None
    except ValueError:
        pass
    meaning = meanings.get(text) or _SYMBOL_MEANINGS.get(text.lower()) or "no value given"
    return None, f"'{text}' in source: {meaning}"


def read_asb(path: Path | str, sheet: str = "Table P7") -> pd.DataFrame:
    """ONS Table P7: ASB incidents and ONS's own rate per 1,000, 43 forces x years ending March."""
    source = f"{file_label(path)} [{sheet}]"
    table = read_area_table(path, sheet)
    rows = _force_rows(table, source)
    meanings = table.symbol_meanings()
    if len(table.header) < 2:
        raise DataFileError(f"{source}: no year headings above the 'Area Code' row; the layout changed.")
    years = table.header.iloc[-2, 2:].ffill()
    kinds = table.header.iloc[-1, 2:]
    columns = {}        # value column index -> (year_ending, 'incidents' | 'rate')
    for j, (year_label, kind) in enumerate(zip(years, kinds)):
        if pd.isna(kind):
            continue
        k = str(kind).lower()
        what = "incidents" if ("number" in k or "incident" in k) else "rate" if "rate" in k else None
        if what is None:
            raise DataFileError(f"{source}: column heading {kind!r} is neither a count nor a rate; the layout changed.")
        columns[j] = (_year_ending_march(year_label, source), what)
    records = []
    for _, row in rows.iterrows():
        per_year: dict[dt.date, dict] = {}
        for j, (year, what) in columns.items():
            value, note = _cell_number(row[j], meanings)
            rec = per_year.setdefault(year, {"force": row["force"], "code": row["code"], "year_ending": year,
                                             "footnotes": row["footnotes"]})
            if what == "incidents":
                rec["incidents"], rec["incidents_note"] = value, note
            else:
                rec["ons_rate_per_1000"], rec["ons_rate_note"] = value, note
        records.extend(per_year.values())
    df = pd.DataFrame.from_records(records)
    for col in ("incidents", "ons_rate_per_1000", "incidents_note", "ons_rate_note"):
        if col not in df:
            raise DataFileError(f"{source}: no {col.replace('_', ' ')} columns found; the layout changed.")
    df["incidents"] = to_int64(df["incidents"], source, "Number of Incidents")
    df["year_ending"] = pd.to_datetime(df["year_ending"]).astype(schemas.DATETIME)
    out = schemas.coerce("asb", df).sort_values(["force", "year_ending"]).reset_index(drop=True)
    return schemas.validate("asb", out, source)


# ---------------------------------------------------------------------------------------------
# ONS's own published recorded-crime figures (Tables P1 and P3), kept for cross-checks

ONS_MEASURES = {"numbers": "recorded_crime_count", "rate per 1,000 population": "recorded_crime_per_1000"}
_TOTAL_HEADING = "total recorded crime (excluding fraud)"
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})


def _title_period_end(title: str, source: str) -> dt.date:
    """'... year ending June 181,2' or '... year ending June 20181,2' -> 2018-06-30.

    Footnote digits follow the year with no space, so a run of digits starting '20' and at
    least four long is a four-digit year, anything else a two-digit one.
    """
    m = re.search(r"year ending\s+([A-Za-z]+)\s+(\d+)", title, flags=re.I)
    month = _MONTHS.get(m.group(1).lower()) if m else None
    if not m or month is None:
        raise DataFileError(f"{source}: title {title[:90]!r} does not say 'year ending <month> <year>'; "
                            "the layout changed.")
    digits = m.group(2)
    year = int(digits[:4]) if len(digits) >= 4 and digits.startswith("20") else 2000 + int(digits[:2])
    end = (pd.Timestamp(year, month, 1) + pd.offsets.MonthEnd(0)).date()
    if month not in (3, 6, 9, 12):
        raise DataFileError(f"{source}: the year in the title ends {end}, not at a quarter end; the layout changed.")
    return end


def _total_column(table: AreaTable, source: str) -> tuple[int, str, str | None]:
    """(value column, measure, population base) of the 'Total recorded crime (excluding fraud)'
    column: its unit row ('Numbers' or 'Rate per 1,000 population') says which measure it is."""
    heads = pd.concat([table.header, table.below_header]).iloc[:, 2:].map(_clean_heading)
    hits = [j for j in range(heads.shape[1]) if heads.iloc[:, j].str.lower().str.startswith(_TOTAL_HEADING).any()]
    if len(hits) != 1:
        raise DataFileError(f"{source}: expected one 'Total recorded crime (excluding fraud)' column, found "
                            f"{len(hits)}; the layout changed.")
    j = hits[0]
    units = [ONS_MEASURES[c.lower()] for c in heads.iloc[:, j] if c.lower() in ONS_MEASURES]
    if len(units) != 1:
        raise DataFileError(f"{source}: the total column is neither 'Numbers' nor 'Rate per 1,000 population'; "
                            "the layout changed.")
    base = None
    if units[0] == "recorded_crime_per_1000":
        year = next(iter(_population_columns(table, source).values()))
        base = f"mid-{year}"
    return j, units[0], base


def _footnote_lines(markers: object, texts: dict[str, str]) -> str | None:
    """'6,7' -> '6. ... | 7. ...': the footnotes as published. A marker the sheet has no footnote
    for (Avon and Somerset's '12' in the June 2018 Table P3) is kept and said to be unexplained."""
    if markers is None or (not isinstance(markers, str) and pd.isna(markers)) or not str(markers):
        return None
    return " | ".join(texts.get(n, f"{n}. (marker in the source; the sheet has no footnote {n})")
                      for n in str(markers).split(","))


def _ons_total_rows(path: Path | str, sheet: str, source_key: str) -> list[dict]:
    """One record per kept area of one ONS table: 43 forces, British Transport Police, England and Wales."""
    source = f"{file_label(path)} [{sheet}]"
    table = read_area_table(path, sheet)
    j, measure, base = _total_column(table, source)
    period_end = _title_period_end(table.title, source)
    meanings, texts = table.symbol_meanings(), table.footnote_texts()
    ew = _england_and_wales_row(table, source)
    kept = pd.concat([_force_rows(table, source), table.rows[table.rows["body"] == "british_transport_police"],
                      ew.to_frame().T])
    records = []
    for _, row in kept.iterrows():
        value, note = _cell_number(row[j], meanings)
        footnotes = _footnote_lines(row["footnotes"], texts)
        if row["body"] == "aggregate" and "british transport police" in (footnotes or "").lower():
            caveat = "ONS's England and Wales total includes British Transport Police (its footnote says so)"
            note = f"{note}; {caveat}" if note else caveat
        area = {"territorial": row["force"], "aggregate": ENGLAND_AND_WALES}.get(row["body"], "British Transport Police")
        records.append({"area": area, "code": row["code"], "body": row["body"], "measure": measure,
                        "period_end": period_end, "value": value, "value_note": note, "footnotes": footnotes,
                        "population_base": base, "source_key": source_key or file_label(path), "source_table": sheet})
    return records


def read_ons_published(path: Path | str, source_key: str = "", sheets: tuple[str, ...] = ("Table P1", "Table P3")
                       ) -> pd.DataFrame:
    """ONS's own published recorded crime (excluding fraud) from an ONS PFA data tables workbook:
    the number (Table P1) and the rate per 1,000 population (Table P3) for the 43 forces, British
    Transport Police (number only: ONS gives it no rate) and England and Wales, for the year the
    tables cover. Regions and the England/Wales subtotals are left out. Kept for cross-checks:
    the project computes its own numbers from the open data and never uses these in their place.
    """
    records = [rec for sheet in sheets for rec in _ons_total_rows(path, sheet, source_key)]
    periods = {rec["period_end"] for rec in records}
    if len(periods) != 1:
        raise DataFileError(f"{file_label(path)}: tables {', '.join(sheets)} cover different years "
                            f"({', '.join(sorted(map(str, periods)))}); the layout changed.")
    df = pd.DataFrame.from_records(records)
    df["period_end"] = pd.to_datetime(df["period_end"]).astype(schemas.DATETIME)
    out = schemas.coerce("ons_published", df)
    out = out.sort_values(["measure", "body", "area"], kind="stable").reset_index(drop=True)
    return schemas.validate("ons_published", out, file_label(path))
