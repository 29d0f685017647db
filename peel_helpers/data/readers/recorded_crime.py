"""Recorded crime: the ONS open-data CSV of rolling 12-month offences by police force area
(``rec-crime-pfa.csv``), one row per area, offence and period end."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schemas
from ...core.errors import DataFileError
from .common import canonical, header_key, file_label, require_all_forces, to_int64

# Offence label the recorded-crime file uses for fraud (Annex A: recorded crime excludes fraud).
FRAUD_OFFENCE = "Fraud offences"


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
    source = file_label(path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    raw.columns = [header_key(c) for c in raw.columns]
    missing = [c for c in _RECORDED_CRIME_COLUMNS if c not in raw.columns]
    if missing:
        raise DataFileError(f"{source}: expected column(s) {', '.join(missing)} are missing; "
                            "is this the ONS 'recorded crime at PFA level' open-data CSV?")
    df = raw.rename(columns=_RECORDED_CRIME_COLUMNS)

    dates = {label: _period_end(label, source) for label in df["label"].unique()}
    df["period_end"] = pd.to_datetime(df["label"].map(dates)).astype(schemas.DATETIME)

    areas = {}
    for name in df["name"].unique():
        areas[name] = canonical(source, name)
    df["body"] = df["name"].map(lambda n: areas[n][0])
    if (df["body"] == "aggregate").any():   # national totals are not part of this table
        df = df[df["body"] != "aggregate"].copy()
    df["force"] = df["name"].map(lambda n: areas[n][1] or n)
    # The fraud bodies' rows repeat the body's name in the offence column.
    fraud_rows = (df["body"] == "fraud_body") & (df["offence"] == df["name"])
    df.loc[fraud_rows, "offence"] = FRAUD_OFFENCE
    df["count"] = to_int64(df["count"].replace("", np.nan), source, "Rolling year total number of offences")
    if df["count"].isna().any():
        row = df[df["count"].isna()].iloc[0]
        raise DataFileError(f"{source}: no count for {row['name']} / {row['offence']} / {row['label']}; "
                            "check that the file is the pinned release.")
    require_all_forces(source, set(df.loc[df["body"] == "territorial", "force"]), "the file")
    out = schemas.coerce("recorded_crime", df)
    out = out.sort_values(["period_end", "body", "force", "offence"], kind="stable").reset_index(drop=True)
    return schemas.validate("recorded_crime", out, source)
