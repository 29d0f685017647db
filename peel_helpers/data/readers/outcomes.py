"""Crime outcomes (Home Office open data): the snake_case CSV copy, or the official workbook (.xlsx / .ods)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schemas
from ...core.errors import DataFileError
from .common import canonical, header_key, sheet_names, to_int64

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
        key = header_key(col)
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
            keys = {header_key(v) for v in top.iloc[i].tolist() if not pd.isna(v)}
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
    area = {n: canonical(source, n) for n in df["force_name"].unique()}
    df = df.assign(
        financial_year=df["financial_year"].map(fy_map),
        quarter=df["quarter"].map(q_map).astype("Int64"),
        offence_code=df["offence_code"].map(code_map),
        body=df["force_name"].map({n: a[0] for n, a in area.items()}),
        force=df["force_name"].map({n: a[1] or str(n).strip() for n, a in area.items()}),
        outcome_type=to_int64(df["outcome_type"], source, "Outcome Type"),
        offences_outcomes=to_int64(df["offences_outcomes"], source, "Force outcomes for offences recorded in quarter"),
        outcomes_recorded_in_quarter=to_int64(df["outcomes_recorded_in_quarter"], source,
                                               "Force outcomes recorded in quarter"),
        source_key=source_key or source,
    )
    df = df[df["body"] != "aggregate"]     # national totals, if a release carries them
    for col in ("offence_description", "offence_group", "offence_subgroup", "outcome_description", "outcome_group"):
        df[col] = df[col].astype(schemas.STRING).str.strip()
    out = schemas.coerce("outcomes", df)
    return schemas.validate("outcomes", out, source)
