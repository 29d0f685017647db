"""Schemas of the tidy tables (see ``data/README.md``).

Each table has an exact, ordered list of columns with explicit pandas dtypes (pandas 3 changed
the default string dtype, so nothing is left to inference), and a pandera schema with value
checks. :func:`validate` runs both and turns any failure into a one-line
:class:`~peel_helpers.core.errors.SchemaError`.

pandera is imported lazily: loading the cache never needs it, only building it does.
"""

from __future__ import annotations

import pandas as pd

from ..core.errors import SchemaError
from ..core.forces import FORCE_NAMES

STRING = pd.StringDtype()          # "string": missing values are pd.NA
INT = pd.Int64Dtype()              # nullable integer
FLOAT = pd.Float64Dtype()          # nullable float
DATETIME = "datetime64[ns]"

BODIES = ("territorial", "british_transport_police", "fraud_body")

# table -> ordered {column: dtype}
DTYPES: dict[str, dict[str, object]] = {
    "recorded_crime": {"period_end": DATETIME, "force": STRING, "body": STRING, "offence": STRING, "count": INT},
    "population": {"force": STRING, "code": STRING, "mid_year": INT, "population": INT},
    "asb": {"force": STRING, "code": STRING, "year_ending": DATETIME, "incidents": INT, "incidents_note": STRING,
            "ons_rate_per_1000": FLOAT, "ons_rate_note": STRING, "footnotes": STRING},
    "outcomes": {"force": STRING, "body": STRING, "financial_year": STRING, "quarter": INT,
                 "offence_code": STRING, "offence_description": STRING, "offence_group": STRING,
                 "offence_subgroup": STRING, "outcome_type": INT, "outcome_description": STRING,
                 "outcome_group": STRING, "offences_outcomes": INT, "outcomes_recorded_in_quarter": INT,
                 "source_key": STRING},
    "pfa_lookup": {"lad_code": STRING, "lad_name": STRING, "csp_code": STRING, "csp_name": STRING,
                   "pfa_code": STRING, "pfa_name": STRING, "force": STRING},
}

TABLES = tuple(DTYPES)

# Columns that identify a row: no two rows may share them.
KEYS: dict[str, tuple[str, ...]] = {
    "recorded_crime": ("period_end", "force", "offence"),
    "population": ("force", "mid_year"),
    "asb": ("force", "year_ending"),
    "outcomes": ("force", "financial_year", "quarter", "offence_code", "offence_description", "outcome_type"),
    "pfa_lookup": ("lad_code",),
}

# Columns allowed to hold missing values.
NULLABLE: dict[str, set[str]] = {
    "recorded_crime": set(),
    "population": set(),
    "asb": {"incidents", "incidents_note", "ons_rate_per_1000", "ons_rate_note", "footnotes"},
    "outcomes": {"offence_subgroup", "outcomes_recorded_in_quarter"},
    "pfa_lookup": set(),
}


def empty(table: str) -> pd.DataFrame:
    """An empty frame with the table's columns and dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in DTYPES[table].items()})


def coerce(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Select the table's columns in order and cast them to the declared dtypes."""
    missing = [c for c in DTYPES[table] if c not in frame.columns]
    if missing:
        raise SchemaError(f"Table {table!r} is missing column(s) {', '.join(missing)}: the reader is out of date "
                          "with the source layout; report the file that caused it.")
    out = frame.loc[:, list(DTYPES[table])].copy()
    for col, dtype in DTYPES[table].items():
        if str(out[col].dtype) != str(dtype):
            out[col] = out[col].astype(dtype)
    return out.reset_index(drop=True)


def _pandera_schema(table: str):
    import pandera.pandas as pa

    def column(t, name, *checks):
        return pa.Column(DTYPES[t][name], checks=list(checks), nullable=name in NULLABLE[t])

    territorial_named = pa.Check(
        lambda df: ~(df["body"] == "territorial") | df["force"].isin(FORCE_NAMES),
        name="territorial rows carry a canonical force name")
    forces_only = pa.Check.isin(FORCE_NAMES)
    code_check = pa.Check.str_matches(r"^[EW]\d{8}$")
    specs = {
        "recorded_crime": ({
            "period_end": column("recorded_crime", "period_end", pa.Check(lambda s: s.dt.is_quarter_end, name="quarter end")),
            "force": column("recorded_crime", "force"), "body": column("recorded_crime", "body", pa.Check.isin(BODIES)),
            "offence": column("recorded_crime", "offence", pa.Check.str_length(min_value=1)),
            "count": column("recorded_crime", "count"),
        }, [territorial_named]),
        "population": ({
            "force": column("population", "force", forces_only), "code": column("population", "code", code_check),
            "mid_year": column("population", "mid_year", pa.Check.in_range(1990, 2100)),
            "population": column("population", "population", pa.Check.gt(0)),
        }, []),
        "asb": ({
            "force": column("asb", "force", forces_only), "code": column("asb", "code", code_check),
            "year_ending": column("asb", "year_ending", pa.Check(lambda s: (s.dt.month == 3) & (s.dt.day == 31),
                                                       name="31 March")),
            "incidents": column("asb", "incidents", pa.Check.ge(0)), "incidents_note": column("asb", "incidents_note"),
            "ons_rate_per_1000": column("asb", "ons_rate_per_1000", pa.Check.ge(0)), "ons_rate_note": column("asb", "ons_rate_note"),
            "footnotes": column("asb", "footnotes"),
        }, [pa.Check(lambda df: df["incidents"].notna() | df["incidents_note"].notna(),
                     name="missing incidents carry a note"),
            pa.Check(lambda df: df["ons_rate_per_1000"].notna() | df["ons_rate_note"].notna(),
                     name="missing ONS rates carry a note")]),
        "outcomes": ({
            "force": column("outcomes", "force"), "body": column("outcomes", "body", pa.Check.isin(BODIES)),
            "financial_year": column("outcomes", "financial_year", pa.Check.str_matches(r"^\d{4}/\d{2}$")),
            "quarter": column("outcomes", "quarter", pa.Check.isin([1, 2, 3, 4])),
            "offence_code": column("outcomes", "offence_code", pa.Check.str_length(min_value=1)),
            "offence_description": column("outcomes", "offence_description"), "offence_group": column("outcomes", "offence_group"),
            "offence_subgroup": column("outcomes", "offence_subgroup"),
            "outcome_type": column("outcomes", "outcome_type", pa.Check.in_range(0, 22)),
            "outcome_description": column("outcomes", "outcome_description"), "outcome_group": column("outcomes", "outcome_group"),
            "offences_outcomes": column("outcomes", "offences_outcomes"),
            "outcomes_recorded_in_quarter": column("outcomes", "outcomes_recorded_in_quarter"),
            "source_key": column("outcomes", "source_key", pa.Check.str_length(min_value=1)),
        }, [territorial_named]),
        "pfa_lookup": ({
            "lad_code": column("pfa_lookup", "lad_code", pa.Check.str_matches(r"^[EW]\d{8}$")), "lad_name": column("pfa_lookup", "lad_name"),
            "csp_code": column("pfa_lookup", "csp_code"), "csp_name": column("pfa_lookup", "csp_name"),
            "pfa_code": column("pfa_lookup", "pfa_code", code_check), "pfa_name": column("pfa_lookup", "pfa_name"),
            "force": column("pfa_lookup", "force", forces_only),
        }, []),
    }
    columns, checks = specs[table]
    return pa.DataFrameSchema(columns, checks=checks, strict=True, ordered=True,
                              unique=list(KEYS[table]), name=table)


def validate(table: str, frame: pd.DataFrame, source: str = "") -> pd.DataFrame:
    """Check exact dtypes and values; raise a one-line :class:`SchemaError` on any failure."""
    import pandera.errors

    where = f" (from {source})" if source else ""
    expected = DTYPES[table]
    if list(frame.columns) != list(expected):
        raise SchemaError(f"Table {table!r}{where} has columns {list(frame.columns)}, expected {list(expected)}: "
                          "the reader and the schema disagree; report it.")
    wrong = [f"{c}={frame[c].dtype} (want {t})" for c, t in expected.items() if str(frame[c].dtype) != str(t)]
    if wrong:
        raise SchemaError(f"Table {table!r}{where} has wrong dtypes: {', '.join(wrong)}; the reader must cast them.")
    try:
        _pandera_schema(table).validate(frame, lazy=False)
    except pandera.errors.SchemaError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise SchemaError(f"Table {table!r}{where} fails its schema: {detail}. Check the source file "
                          "against data/manifest.toml (is it the pinned release?).") from None
    return frame
