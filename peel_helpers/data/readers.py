"""Readers: one function per official file layout, each returning one long, tidy, validated table.

Every row that names an area is classified through :mod:`peel_helpers.core.forces`:

* a territorial force gets its canonical name (``forces.resolve``);
* a known non-territorial row (British Transport Police, the fraud reporting bodies, national
  and regional totals) is labelled or dropped on purpose;
* anything else stops the build with a one-line error naming the row, so that a new spelling
  or a new kind of row can never slip in or out unnoticed.

Table layouts and column meanings are documented in ``data/README.md``; dtypes and value checks
live in :mod:`peel_helpers.data.schemas`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import forces
from . import schemas
from ..core.errors import DataFileError

# Bump when a reader's output changes, so that existing caches are rebuilt.
READER_VERSION = "2"

# Offence label the recorded-crime file uses for fraud (Annex A: recorded crime excludes fraud).
FRAUD_OFFENCE = "Fraud offences"

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
_FOOTNOTE = re.compile(r"^(?P<name>.*?[A-Za-z\)])\s*(?P<notes>\d+(?:\s*,\s*\d+)*)\s*$")


def _label(path: Path | str) -> str:
    return Path(path).name


def _header_key(text: object) -> str:
    """'Force outcomes for offences recorded in quarter' -> 'force_outcomes_for_offences_recorded_in_quarter'."""
    return re.sub(r"[^a-z0-9]+", "_", str(text).strip().lower().lstrip("\ufeff")).strip("_")


def split_footnotes(name: object) -> tuple[str, str | None]:
    """'City of London10' -> ('City of London', '10'); 'ENGLAND AND WALES6,7,8' -> (..., '6,7,8')."""
    text = " ".join(str(name).split())
    m = _FOOTNOTE.match(text)
    if not m:
        return text, None
    return m.group("name").strip(), re.sub(r"\s+", "", m.group("notes"))


# ---------------------------------------------------------------------------------------------
# Classification of area rows

def body_of(name: object, code: object = None) -> str | None:
    """'territorial', 'british_transport_police', 'fraud_body', 'aggregate', or None if unknown."""
    why = forces.classify(name, code)
    if why is None:
        return None
    if why == "territorial":
        return "territorial"
    key = forces.normalise(str(name))
    if key.startswith("british transport police") or key == "btp":
        return "british_transport_police"
    if "fraud" in key or "fraud" in why.lower():
        return "fraud_body"
    return "aggregate"


def _unrecognised(source: str, label: str) -> DataFileError:
    return DataFileError(
        f"{source}: row {label!r} is neither one of the 43 territorial forces nor a known non-territorial "
        "body or total; check that the file is the pinned release, or teach peel_helpers/forces.py the spelling."
    )


def _canonical(source: str, name: object, code: object = None) -> tuple[str, str | None]:
    """(body, canonical force name or None) for one area row; raises if the row is unrecognised."""
    body = body_of(name, code)
    if body is None:
        raise _unrecognised(source, f"{name}" + (f" ({code})" if code else ""))
    if body != "territorial":
        return body, None
    by_code = forces.lookup(code) if code else None
    by_name = forces.lookup(name)
    if by_code is not None and by_name is not None and by_code != by_name:
        raise DataFileError(f"{source}: row {name!r} has code {code} which belongs to {by_code.name}; "
                            "the file is inconsistent; check it is the pinned release.")
    force = by_code or by_name or forces.resolve(name)
    return body, force.name


def _require_all_forces(source: str, found: set[str], what: str) -> None:
    missing = [f for f in forces.FORCE_NAMES if f not in found]
    if missing:
        raise DataFileError(f"{source}: {what} has no rows for {', '.join(missing)}; "
                            "check that the file is the pinned release.")


def _to_int64(values: pd.Series, source: str, column: str) -> pd.Series:
    """Numbers (or numeric text) -> Int64; any non-integer value is an error naming it."""
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.astype("Int64")
    num = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & (num.isna() | (num.astype("Float64") % 1 != 0).fillna(False))
    if bad.any():
        first = values[bad].iloc[0]
        raise DataFileError(f"{source}: column {column!r} holds {first!r}, which is not a whole number; "
                            "check that the file is the pinned release.")
    return num.astype("Float64").round().astype("Int64")


# ---------------------------------------------------------------------------------------------
# Recorded crime: rec-crime-pfa.csv

_RECORDED_CRIME_COLUMNS = {
    "12_months_ending": "label", "pfa": "name", "region": "region", "offence": "offence",
    "rolling_year_total_number_of_offences": "count",
}


def _period_end(label: str, source: str) -> dt.date:
    """'30-06-2017' -> 2017-06-30. A label a day or two short of a quarter end ('30-12-2017')
    is that quarter end: the file has one such typo for 31 December 2017."""
    try:
        day = dt.datetime.strptime(label.strip(), "%d-%m-%Y").date()
    except ValueError:
        raise DataFileError(f"{source}: period label {label!r} is not a dd-mm-yyyy date; "
                            "check that the file is the pinned release.") from None
    if day.month in (3, 6, 9, 12):
        month_end = (pd.Timestamp(day) + pd.offsets.MonthEnd(0)).date()
        if (month_end - day).days <= 2:
            return month_end
    raise DataFileError(f"{source}: period label {label!r} is not the end of a quarter; "
                        "check that the file is the pinned release.")


def read_recorded_crime(path: Path | str) -> pd.DataFrame:
    """Rolling 12-month recorded crime by police force area and offence (long table)."""
    source = _label(path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    raw.columns = [_header_key(c) for c in raw.columns]
    missing = [c for c in _RECORDED_CRIME_COLUMNS if c not in raw.columns]
    if missing:
        raise DataFileError(f"{source}: expected column(s) {', '.join(missing)} are missing; "
                            "is this the ONS 'recorded crime at PFA level' open-data CSV?")
    df = raw.rename(columns=_RECORDED_CRIME_COLUMNS)

    dates = {label: _period_end(label, source) for label in df["label"].unique()}
    df["period_end"] = pd.to_datetime(df["label"].map(dates)).astype(schemas.DATETIME)

    areas = {}
    for name in df["name"].unique():
        areas[name] = _canonical(source, name)
    df["body"] = df["name"].map(lambda n: areas[n][0])
    if (df["body"] == "aggregate").any():   # national totals are not part of this table
        df = df[df["body"] != "aggregate"].copy()
    df["force"] = df["name"].map(lambda n: areas[n][1] or n)
    # The fraud bodies' rows repeat the body's name in the offence column.
    fraud_rows = (df["body"] == "fraud_body") & (df["offence"] == df["name"])
    df.loc[fraud_rows, "offence"] = FRAUD_OFFENCE
    df["count"] = _to_int64(df["count"].replace("", np.nan), source, "Rolling year total number of offences")
    if df["count"].isna().any():
        row = df[df["count"].isna()].iloc[0]
        raise DataFileError(f"{source}: no count for {row['name']} / {row['offence']} / {row['label']}; "
                            "check that the file is the pinned release.")
    _require_all_forces(source, set(df.loc[df["body"] == "territorial", "force"]), "the file")
    out = schemas.coerce("recorded_crime", df)
    out = out.sort_values(["period_end", "body", "force", "offence"], kind="stable").reset_index(drop=True)
    return schemas.validate("recorded_crime", out, source)


# ---------------------------------------------------------------------------------------------
# ONS police force area data tables (P1..P10): an area block below title rows.

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


def sheet_names(path: Path | str) -> list[str]:
    from python_calamine import CalamineWorkbook

    return list(CalamineWorkbook.from_path(str(path)).sheet_names)


def read_area_table(path: Path | str, sheet: str) -> AreaTable:
    """Read one ONS PFA table sheet (calamine) and classify every area row.

    The block starts below the row whose first cell is 'Area Code(s)' and ends at the first text
    line with no area name (the 'Source:' line and numbered footnotes). The area code decides
    between a region and a force of the same name ('West Midlands'); rows without a code
    (British Transport Police) are classified by name.
    """
    source = f"{_label(path)} [{sheet}]"
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
        body, force = _canonical(source, str(name), code)
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
    _require_all_forces(source, set(rows["force"]), "the table")
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
    source = f"{_label(path)} [{sheet}]"
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
    long["population"] = _to_int64(long["population"], source, "population")
    long["england_and_wales_population"] = _to_int64(long["england_and_wales_population"], source, "population")
    long["source_key"] = source_key or _label(path)
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
    source = f"{_label(path)} [{sheet}]"
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
    df["incidents"] = _to_int64(df["incidents"], source, "Number of Incidents")
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
    source = f"{_label(path)} [{sheet}]"
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
                        "population_base": base, "source_key": source_key or _label(path), "source_table": sheet})
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
        raise DataFileError(f"{_label(path)}: tables {', '.join(sheets)} cover different years "
                            f"({', '.join(sorted(map(str, periods)))}); the layout changed.")
    df = pd.DataFrame.from_records(records)
    df["period_end"] = pd.to_datetime(df["period_end"]).astype(schemas.DATETIME)
    out = schemas.coerce("ons_published", df)
    out = out.sort_values(["measure", "body", "area"], kind="stable").reset_index(drop=True)
    return schemas.validate("ons_published", out, _label(path))


# ---------------------------------------------------------------------------------------------
# ONS lookup: local authority district -> community safety partnership -> police force area

def read_pfa_lookup(path: Path | str) -> pd.DataFrame:
    source = _label(path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    wanted = {}
    for col in raw.columns:
        m = re.fullmatch(r"(LAD|CSP|PFA)\d{2}(CD|NM)", col.strip(), flags=re.I)
        if m:
            wanted[col] = f"{m.group(1).lower()}_{'code' if m.group(2).upper() == 'CD' else 'name'}"
    if len(set(wanted.values())) != 6:
        raise DataFileError(f"{source}: expected LADyyCD/NM, CSPyyCD/NM and PFAyyCD/NM columns, found "
                            f"{list(raw.columns)}; is this the ONS LAD-CSP-PFA lookup?")
    df = raw.rename(columns=wanted)
    pairs = {}
    for code, name in df[["pfa_code", "pfa_name"]].drop_duplicates().itertuples(index=False):
        body, force = _canonical(source, name, code)
        if body != "territorial":
            raise _unrecognised(source, f"{name} ({code})")
        pairs[(code, name)] = force
    df["force"] = [pairs[(c, n)] for c, n in zip(df["pfa_code"], df["pfa_name"])]
    _require_all_forces(source, set(df["force"]), "the lookup")
    out = schemas.coerce("pfa_lookup", df).sort_values("lad_code").reset_index(drop=True)
    return schemas.validate("pfa_lookup", out, source)


# ---------------------------------------------------------------------------------------------
# Crime outcomes: the snake_case CSV copy, or the official workbook (.xlsx / .ods)

# normalised source heading -> tidy column. Both the snake_case copy and the official
# human-readable headings normalise onto these keys.
_OUTCOME_COLUMNS = {
    "force_name": "force_name",
    "financial_year": "financial_year",
    "financial_quarter": "quarter",
    "offence_description": "offence_description",
    "offence_group": "offence_group",
    "offence_subgroup": "offence_subgroup",
    "offence_code": "offence_code",
    "outcome_description": "outcome_description",
    "outcome_group": "outcome_group",
    "outcome_type": "outcome_type",
    "offences": "offences_outcomes",                                        # snake_case copy
    "force_outcomes_for_offences_recorded_in_quarter": "offences_outcomes",  # official heading
    "force_outcomes_recorded_in_quarter": "outcomes_recorded_in_quarter",
}
_OUTCOME_REQUIRED = ("force_name", "financial_year", "quarter", "offence_code", "offence_description",
                     "offence_group", "outcome_type", "outcome_description", "outcome_group", "offences_outcomes")
_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")


def _rename_outcome_columns(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    renamed = {}
    for col in frame.columns:
        key = _header_key(col)
        if key in _OUTCOME_COLUMNS and _OUTCOME_COLUMNS[key] not in renamed.values():
            renamed[col] = _OUTCOME_COLUMNS[key]
    frame = frame.rename(columns=renamed)
    missing = [c for c in _OUTCOME_REQUIRED if c not in frame.columns]
    if missing:
        raise DataFileError(f"{source}: outcome column(s) {', '.join(missing)} not found; expected the Home Office "
                            "outcomes open-data layout ('Force Name', 'Outcome Type', ...).")
    if "outcomes_recorded_in_quarter" not in frame:
        frame["outcomes_recorded_in_quarter"] = pd.NA
    if "offence_subgroup" not in frame:
        frame["offence_subgroup"] = pd.NA
    return frame[[c for c in dict.fromkeys(_OUTCOME_COLUMNS.values())]]


def _read_outcomes_csv(path: Path, source: str) -> pd.DataFrame:
    # pyarrow's parser (multi-threaded, types inferred; "" and "NA" become missing) is several
    # times faster than the default engine on this ~450,000-row file.
    frame = pd.read_csv(path, engine="pyarrow", dtype_backend="pyarrow")
    return _rename_outcome_columns(frame, source)


def _read_outcomes_workbook(path: Path, source: str) -> pd.DataFrame:
    """Every sheet whose header row (within the first 30 rows) names the outcome columns."""
    parts = []
    for sheet in sheet_names(path):
        top = pd.read_excel(path, sheet_name=sheet, engine="calamine", header=None, nrows=30, dtype=object)
        header_row = None
        for i in range(len(top)):
            keys = {_header_key(v) for v in top.iloc[i].tolist() if not pd.isna(v)}
            if {"force_name", "outcome_type"} <= keys:
                header_row = i
                break
        if header_row is None:
            continue
        frame = pd.read_excel(path, sheet_name=sheet, engine="calamine", header=header_row, dtype=object)
        parts.append(_rename_outcome_columns(frame, f"{source} [{sheet}]"))
    if not parts:
        raise DataFileError(f"{source}: no sheet has the outcomes header ('Force Name', 'Outcome Type', ...); "
                            "is this a Home Office outcomes open-data workbook?")
    return pd.concat(parts, ignore_index=True)


def _as_code(value: object) -> object:
    """Offence codes are text ('8N', '80'); a workbook may store '80' as the number 80.0."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return pd.NA
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _financial_year(value: object, source: str) -> str:
    text = str(value).strip()
    m = re.fullmatch(r"(\d{4})\s*[/-]\s*(\d{2}|\d{4})", text)
    if not m or (int(m.group(1)) + 1) % 100 != int(m.group(2)[-2:]):
        raise DataFileError(f"{source}: financial year {value!r} is not like '2017/18'; the layout changed.")
    return f"{m.group(1)}/{m.group(2)[-2:]}"


def _quarter(value: object, source: str) -> int:
    m = re.fullmatch(r"(?:q)?\s*([1-4])(\.0)?", str(value).strip().lower())
    if not m:
        raise DataFileError(f"{source}: financial quarter {value!r} is not 1-4; the layout changed.")
    return int(m.group(1))


def read_outcomes(path: Path | str, source_key: str = "") -> pd.DataFrame:
    """Crime outcomes by force, financial quarter, offence and outcome type.

    Accepts the snake_case CSV copy (optionally gzipped) and the official workbook layout
    (.xlsx or .ods, read with calamine). ``source_key`` (the manifest key) is written on
    every row.
    """
    path = Path(path)
    source = path.name
    name = path.name.lower()
    if name.endswith(_WORKBOOK_SUFFIXES):
        df = _read_outcomes_workbook(path, source)
    elif name.endswith((".csv", ".csv.gz")):
        df = _read_outcomes_csv(path, source)
    else:
        raise DataFileError(f"{source}: unknown outcomes file type; use the official .xlsx/.ods or a .csv(.gz).")

    # Drop blank rows (the CSV copy ends with a row of NA), then insist the rest is complete.
    blank = df.isna().all(axis=1).to_numpy()
    if blank.any():
        keep = len(blank)
        while keep and blank[keep - 1]:
            keep -= 1
        # trailing blank rows are sliced off (no copy); blank rows elsewhere are filtered out
        df = df.iloc[:keep] if not blank[:keep].any() else df[~blank]
    required = [c for c in _OUTCOME_REQUIRED]
    incomplete = df[required].isna().any(axis=1)
    if incomplete.any():
        row = df[incomplete].iloc[0]
        raise DataFileError(f"{source}: a row lacks {', '.join(c for c in required if pd.isna(row[c]))} "
                            f"({row['force_name']}, {row['offence_description']}); the file is damaged or not "
                            "the pinned release.")

    # Small lookups over unique values keep this fast on ~450,000 rows.
    fy_map = {v: _financial_year(v, source) for v in df["financial_year"].unique()}
    q_map = {v: _quarter(v, source) for v in df["quarter"].unique()}
    code_map = {v: _as_code(v) for v in df["offence_code"].unique()}
    area = {n: _canonical(source, n) for n in df["force_name"].unique()}
    df = df.assign(
        financial_year=df["financial_year"].map(fy_map),
        quarter=df["quarter"].map(q_map).astype("Int64"),
        offence_code=df["offence_code"].map(code_map),
        body=df["force_name"].map({n: a[0] for n, a in area.items()}),
        force=df["force_name"].map({n: a[1] or str(n).strip() for n, a in area.items()}),
        outcome_type=_to_int64(df["outcome_type"], source, "Outcome Type"),
        offences_outcomes=_to_int64(df["offences_outcomes"], source, "Force outcomes for offences recorded in quarter"),
        outcomes_recorded_in_quarter=_to_int64(df["outcomes_recorded_in_quarter"], source,
                                               "Force outcomes recorded in quarter"),
        source_key=source_key or source,
    )
    df = df[df["body"] != "aggregate"]     # national totals, if a release carries them
    for col in ("offence_description", "offence_group", "offence_subgroup", "outcome_description", "outcome_group"):
        df[col] = df[col].astype(schemas.STRING).str.strip()
    out = schemas.coerce("outcomes", df)
    return schemas.validate("outcomes", out, source)
