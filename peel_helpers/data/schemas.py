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
ONS_BODIES = ("territorial", "british_transport_police", "aggregate")
ONS_MEASURES = ("recorded_crime_count", "recorded_crime_per_1000")

# table -> ordered {column: dtype}
DTYPES: dict[str, dict[str, object]] = {
    "recorded_crime": {"period_end": DATETIME, "force": STRING, "body": STRING, "offence": STRING, "count": INT},
    "population": {"force": STRING, "code": STRING, "mid_year": INT, "population": INT,
                   "england_and_wales_population": INT, "source_key": STRING, "source_table": STRING},
    "asb": {"force": STRING, "code": STRING, "year_ending": DATETIME, "incidents": INT, "incidents_note": STRING,
            "ons_rate_per_1000": FLOAT, "ons_rate_note": STRING, "footnotes": STRING},
    "outcomes": {"force": STRING, "body": STRING, "financial_year": STRING, "quarter": INT,
                 "offence_code": STRING, "offence_description": STRING, "offence_group": STRING,
                 "offence_subgroup": STRING, "outcome_type": INT, "outcome_description": STRING,
                 "outcome_group": STRING, "offences_outcomes": INT, "outcomes_recorded_in_quarter": INT,
                 "source_key": STRING},
    "pfa_lookup": {"lad_code": STRING, "lad_name": STRING, "csp_code": STRING, "csp_name": STRING,
                   "pfa_code": STRING, "pfa_name": STRING, "force": STRING},
    "ons_published": {"area": STRING, "code": STRING, "body": STRING, "measure": STRING, "period_end": DATETIME,
                      "value": FLOAT, "value_note": STRING, "footnotes": STRING, "population_base": STRING,
                      "source_key": STRING, "source_table": STRING},
}

TABLES = tuple(DTYPES)

# Columns that identify a row: no two rows may share them.
KEYS: dict[str, tuple[str, ...]] = {
    "recorded_crime": ("period_end", "force", "offence"),
    "population": ("force", "mid_year"),
    "asb": ("force", "year_ending"),
    "outcomes": ("force", "financial_year", "quarter", "offence_code", "offence_description", "outcome_type"),
    "pfa_lookup": ("lad_code",),
    "ons_published": ("area", "measure", "period_end"),
}

# Columns allowed to hold missing values.
NULLABLE: dict[str, set[str]] = {
    "recorded_crime": set(),
    "population": set(),
    "asb": {"incidents", "incidents_note", "ons_rate_per_1000", "ons_rate_note", "footnotes"},
    "outcomes": {"offence_subgroup", "outcomes_recorded_in_quarter"},
    "pfa_lookup": set(),
    "ons_published": {"code", "value", "value_note", "footnotes", "population_base"},
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


def _column(table: str, name: str, *checks):
    import pandera.pandas as pa

    return pa.Column(DTYPES[table][name], checks=list(checks), nullable=name in NULLABLE[table])


def _territorial_named(column: str = "force"):
    import pandera.pandas as pa

    return pa.Check(lambda df: ~(df["body"] == "territorial") | df[column].isin(FORCE_NAMES),
                    name="territorial rows carry a canonical force name")


def _quarter_end():
    import pandera.pandas as pa

    return pa.Check(lambda s: s.dt.is_quarter_end, name="quarter end")


def _spec_recorded_crime(pa) -> tuple[dict, list]:
    c = lambda name, *checks: _column("recorded_crime", name, *checks)  # noqa: E731
    return ({"period_end": c("period_end", _quarter_end()), "force": c("force"),
             "body": c("body", pa.Check.isin(BODIES)), "offence": c("offence", pa.Check.str_length(min_value=1)),
             "count": c("count")}, [_territorial_named()])


def _spec_population(pa) -> tuple[dict, list]:
    c = lambda name, *checks: _column("population", name, *checks)  # noqa: E731
    return ({"force": c("force", pa.Check.isin(FORCE_NAMES)), "code": c("code", pa.Check.str_matches(_CODE)),
             "mid_year": c("mid_year", pa.Check.in_range(1990, 2100)), "population": c("population", pa.Check.gt(0)),
             "england_and_wales_population": c("england_and_wales_population", pa.Check.gt(0)),
             "source_key": c("source_key", pa.Check.str_length(min_value=1)),
             "source_table": c("source_table", pa.Check.str_length(min_value=1))},
            [pa.Check(lambda df: df["england_and_wales_population"] > df["population"],
                      name="England and Wales exceeds each force")])


def _spec_asb(pa) -> tuple[dict, list]:
    c = lambda name, *checks: _column("asb", name, *checks)  # noqa: E731
    march_31 = pa.Check(lambda s: (s.dt.month == 3) & (s.dt.day == 31), name="31 March")
    return ({"force": c("force", pa.Check.isin(FORCE_NAMES)), "code": c("code", pa.Check.str_matches(_CODE)),
             "year_ending": c("year_ending", march_31), "incidents": c("incidents", pa.Check.ge(0)),
             "incidents_note": c("incidents_note"), "ons_rate_per_1000": c("ons_rate_per_1000", pa.Check.ge(0)),
             "ons_rate_note": c("ons_rate_note"), "footnotes": c("footnotes")},
            [pa.Check(lambda df: df["incidents"].notna() | df["incidents_note"].notna(),
                      name="missing incidents carry a note"),
             pa.Check(lambda df: df["ons_rate_per_1000"].notna() | df["ons_rate_note"].notna(),
                      name="missing ONS rates carry a note")])


def _spec_outcomes(pa) -> tuple[dict, list]:
    c = lambda name, *checks: _column("outcomes", name, *checks)  # noqa: E731
    plain = ("offence_description", "offence_group", "offence_subgroup", "outcome_description", "outcome_group",
             "offences_outcomes", "outcomes_recorded_in_quarter")
    return ({"force": c("force"), "body": c("body", pa.Check.isin(BODIES)),
             "financial_year": c("financial_year", pa.Check.str_matches(r"^\d{4}/\d{2}$")),
             "quarter": c("quarter", pa.Check.isin([1, 2, 3, 4])),
             "offence_code": c("offence_code", pa.Check.str_length(min_value=1)),
             "outcome_type": c("outcome_type", pa.Check.in_range(0, 22)),
             "source_key": c("source_key", pa.Check.str_length(min_value=1)),
             **{name: c(name) for name in plain}}, [_territorial_named()])


def _spec_pfa_lookup(pa) -> tuple[dict, list]:
    c = lambda name, *checks: _column("pfa_lookup", name, *checks)  # noqa: E731
    return ({"lad_code": c("lad_code", pa.Check.str_matches(_CODE)), "lad_name": c("lad_name"),
             "csp_code": c("csp_code"), "csp_name": c("csp_name"), "pfa_code": c("pfa_code", pa.Check.str_matches(_CODE)),
             "pfa_name": c("pfa_name"), "force": c("force", pa.Check.isin(FORCE_NAMES))}, [])


def _spec_ons_published(pa) -> tuple[dict, list]:
    c = lambda name, *checks: _column("ons_published", name, *checks)  # noqa: E731
    return ({"area": c("area"), "code": c("code", pa.Check.str_matches(r"^[EWK]\d{8}$")),
             "body": c("body", pa.Check.isin(ONS_BODIES)), "measure": c("measure", pa.Check.isin(ONS_MEASURES)),
             "period_end": c("period_end", _quarter_end()), "value": c("value", pa.Check.ge(0)),
             "value_note": c("value_note"), "footnotes": c("footnotes"),
             "population_base": c("population_base", pa.Check.str_matches(r"^mid-\d{4}$")),
             "source_key": c("source_key", pa.Check.str_length(min_value=1)),
             "source_table": c("source_table", pa.Check.str_length(min_value=1))},
            [_territorial_named("area"),
             pa.Check(lambda df: ~(df["body"] == "aggregate") | (df["area"] == "England and Wales"),
                      name="the only total kept is England and Wales"),
             pa.Check(lambda df: df["value"].notna() | df["value_note"].notna(), name="missing values carry a note"),
             pa.Check(lambda df: (df["measure"] == "recorded_crime_per_1000") == df["population_base"].notna(),
                      name="rates, and only rates, name their population base")])


_CODE = r"^[EW]\d{8}$"
_SPECS = {"recorded_crime": _spec_recorded_crime, "population": _spec_population, "asb": _spec_asb,
          "outcomes": _spec_outcomes, "pfa_lookup": _spec_pfa_lookup, "ons_published": _spec_ons_published}


def _pandera_schema(table: str):
    import pandera.pandas as pa

    columns, checks = _SPECS[table](pa)
    columns = {name: columns[name] for name in DTYPES[table]}      # the declared order
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
