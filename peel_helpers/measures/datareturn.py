"""The HMICFRS data-return input: measures that only HMICFRS's own collection holds.

Calls for assistance, domestic abuse-related calls and offences, domestic abuse arrests,
anti-social behaviour powers used, organised crime groups and European arrest warrants are
not published as open data. The project therefore reads them from one small input table:

* ``data/published/data_return.csv`` (in the repository) holds only the values the report
  text publishes, for Cambridgeshire and England and Wales;
* a user who has HMICFRS's data adds a CSV in the same layout, named by the environment
  variable ``PEEL_DATA_RETURN`` or placed at ``data/input/data_return.csv``. It is validated
  row by row (one-line errors) and its rows win over the published ones.

Layout (see ``data/input/README.md``): ``force, period_end, measure, numerator, denominator,
value, unit, source, note``. ``numerator`` is the count (arrests, OCGs, warrants, powers used,
calls); ``denominator`` its base (population, DA-related offences, calls, recorded crime);
``value`` a rate as published, in the measure's rate unit.

How a force's rate is obtained, in order:

1. numerator and denominator given: the rate is computed (``peel_helpers.measures.rates`` maths);
2. only a published or supplied rate (``value``): it is shown as given, never recomputed;
3. numerator only: the default denominator is used (ONS population for the period's
   population year, the force's own DA-related offences for arrests, its calls for
   assistance for DA calls, recorded crime excluding fraud for DA offences);
4. nothing: status "missing", reason "not public: HMICFRS data return (supply ...)".

England and Wales values are Σ numerators / Σ denominators over the forces Annex A leaves in
(``rates.aggregate``); see :func:`england_and_wales` for how a published E&W value and a
partial aggregate are told apart.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import rates
from ..core.errors import DataFileError, ParameterError, PeelError, PeriodError, SchemaError, UnknownForceError
from ..core.forces import FORCE_NAMES, resolve
from ..core.paths import PUBLISHED_DIR, REPO_DATA_DIR
from ..core.periods import Period

ENGLAND_AND_WALES = rates.ENGLAND_AND_WALES
PUBLISHED_PATH = PUBLISHED_DIR / "data_return.csv"
USER_PATH = REPO_DATA_DIR / "input" / "data_return.csv"
ENV_VAR = "PEEL_DATA_RETURN"
COLUMNS = ["force", "period_end", "measure", "numerator", "denominator", "value", "unit", "source", "note"]
REQUIRED_COLUMNS = ["force", "period_end", "measure"]
NUMBER_COLUMNS = ["numerator", "denominator", "value"]
MISSING_REASON = "not public: HMICFRS data return (supply data/input/data_return.csv)"
BY_FORCE_COLUMNS = ["force", "numerator", "denominator", "value", "status", "reason", "flag", "note", "source"]

ASB_POWER_TYPES = (
    "criminal_behaviour_orders",
    "community_protection_notices",
    "civil_injunctions",
    "dispersal_orders",
)


@dataclass(frozen=True)
class Spec:
    """One data-return measure: the raw measure in the input table and the rate built from it.

    Label, unit, scale and exclusions family come from the one registry,
    :data:`peel_helpers.measures.MEASURES`; only what is specific to the input table is here.
    """

    key: str            # the rate's key in peel_helpers.measures
    base: str           # the raw measure name in the input table
    count_unit: str     # unit of ``numerator``
    denominator: str    # "population", "recorded_crime" or another raw measure's numerator

    @property
    def _measure(self):
        from .compute import MEASURES

        return MEASURES[self.key]

    @property
    def family(self) -> str:
        return self._measure.family

    @property
    def scale(self) -> float:
        return self._measure.scale

    @property
    def rate_unit(self) -> str:
        return self._measure.unit

    @property
    def label(self) -> str:
        return self._measure.label


SPECS: dict[str, Spec] = {s.key: s for s in [
    Spec("calls_for_assistance_per_1000", "calls_for_assistance", "calls", "population"),
    Spec("da_calls_pct", "da_calls", "calls", "calls_for_assistance"),
    Spec("da_offences_pct", "da_offences", "offences", "recorded_crime"),
    Spec("da_arrests_per_100", "da_arrests", "arrests", "da_offences"),
    Spec("asb_powers_per_million", "asb_powers_total", "powers used", "population"),
    Spec("ocg_per_million", "ocg", "OCGs", "population"),
    Spec("eaw_per_million", "eaw", "warrants", "population"),
]}
BASE_MEASURES = tuple(s.base for s in SPECS.values()) + tuple(f"asb_powers_{t}" for t in ASB_POWER_TYPES)
_BASE_TO_SPEC = {s.base: s for s in SPECS.values()} | {f"asb_powers_{t}": SPECS["asb_powers_per_million"]
                                                       for t in ASB_POWER_TYPES}


def spec(key: str) -> Spec:
    """The :class:`Spec` for a rate key (``"da_arrests_per_100"``) or a raw measure (``"da_arrests"``)."""
    if key in SPECS:
        return SPECS[key]
    if key in _BASE_TO_SPEC:
        return _BASE_TO_SPEC[key]
    close = ", ".join(repr(k) for k in _suggest(key, list(SPECS) + list(BASE_MEASURES)))
    raise ParameterError(f"Unknown data-return measure {key!r}: did you mean {close}? (see peel_helpers.measures.datareturn.SPECS)")


def _suggest(value: str, choices: list[str], limit: int = 3) -> list[str]:
    from rapidfuzz import process

    return [c for c, *_ in process.extract(str(value), choices, limit=limit)]


# --------------------------------------------------------------------------- reading and validation

def user_file() -> Path | None:
    """The user's data-return file: ``$PEEL_DATA_RETURN`` if set (it must exist), else
    ``data/input/data_return.csv`` if present, else None."""
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise DataFileError(f"{ENV_VAR} names {path}, which does not exist: point it at a CSV in the layout of "
                                "data/input/README.md, or unset it.")
        return path.resolve()
    return USER_PATH if USER_PATH.is_file() else None


def _number(text, where: str, column: str) -> float | None:
    if text is None or (isinstance(text, float) and math.isnan(text)) or pd.isna(text) or str(text).strip() == "":
        return None
    raw = str(text).strip().replace(",", "")
    try:
        value = float(raw)
    except ValueError:
        raise SchemaError(f"{where}: {column} {text!r} is not a number; write plain numbers such as 1234 or 52.8.") from None
    if math.isnan(value) or math.isinf(value):
        raise SchemaError(f"{where}: {column} {text!r} is not a finite number; leave the cell empty if unknown.")
    if value < 0:
        raise SchemaError(f"{where}: {column} is negative ({text}); counts, bases and rates must be 0 or more.")
    return value


def validate(frame: pd.DataFrame, name: str = "data_return.csv") -> pd.DataFrame:
    """Check a raw data-return table and return it in canonical form (dtypes, canonical force names,
    period ends as timestamps). Raises a one-line :class:`PeelError` naming the file and row."""
    cols = [str(c).strip().lower() for c in frame.columns]
    frame = frame.copy()
    frame.columns = cols
    missing = [c for c in REQUIRED_COLUMNS if c not in cols]
    if missing or not any(c in cols for c in ("numerator", "value")):
        need = missing or ["numerator or value"]
        raise SchemaError(f"{name} is missing column(s) {', '.join(need)}: the layout is {', '.join(COLUMNS)} "
                          "(see data/input/README.md).")
    unknown_cols = [c for c in cols if c not in COLUMNS and c != "origin"]
    if unknown_cols:
        raise SchemaError(f"{name} has unknown column(s) {', '.join(unknown_cols)}: use only {', '.join(COLUMNS)} "
                          "(see data/input/README.md).")
    rows = []
    for i, rec in enumerate(frame.to_dict("records"), start=2):  # row 1 is the header
        where = f"{name} row {i}"
        force_raw = str(rec.get("force") or "").strip()
        if not force_raw:
            raise SchemaError(f"{where}: force is empty; give a force name or 'England and Wales'.")
        if force_raw.lower() in ("england and wales", "england & wales", "e&w"):
            force = ENGLAND_AND_WALES
        else:
            try:
                force = resolve(force_raw).name
            except UnknownForceError as err:
                raise UnknownForceError(f"{where}: {err}") from None
        try:
            period = Period.parse(rec.get("period_end"))
        except PeriodError as err:
            raise PeriodError(f"{where}: {err}") from None
        measure = str(rec.get("measure") or "").strip().lower()
        if measure not in BASE_MEASURES:
            close = ", ".join(repr(k) for k in _suggest(measure, list(BASE_MEASURES)))
            raise SchemaError(f"{where}: unknown measure {rec.get('measure')!r}; did you mean {close}? "
                              f"Allowed: {', '.join(BASE_MEASURES)}.")
        nums = {c: _number(rec.get(c), where, c) for c in NUMBER_COLUMNS}
        if nums["numerator"] is None and nums["value"] is None:
            raise SchemaError(f"{where}: give a numerator (the count) or a value (the published rate) for {measure}.")
        if nums["denominator"] == 0 and nums["numerator"] is not None:
            raise SchemaError(f"{where}: denominator is 0; leave it empty to use the default base, or give the real base.")
        the_spec = spec(measure)
        unit = str(rec.get("unit") or "").strip() or (the_spec.rate_unit if nums["value"] is not None else the_spec.count_unit)
        rows.append({"force": force, "period_end": pd.Timestamp(period.end), "measure": measure, **nums,
                     "unit": unit, "source": str(rec.get("source") or "").strip() or pd.NA,
                     "note": str(rec.get("note") or "").strip() or pd.NA,
                     "origin": str(rec.get("origin") or "").strip() or "user"})
    out = pd.DataFrame(rows, columns=COLUMNS + ["origin"])
    dup = out.duplicated(["force", "period_end", "measure"], keep=False)
    if dup.any():
        first = out[dup].iloc[0]
        raise SchemaError(f"{name} has more than one row for {first['force']}, {first['period_end'].date()}, "
                          f"{first['measure']}: keep one row per force, period and measure.")
    return _typed(out)


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    out = out.copy()
    for col in ("force", "measure", "unit", "source", "note", "origin"):
        out[col] = out[col].astype("string")
    for col in NUMBER_COLUMNS:
        out[col] = pd.to_numeric(out[col]).astype("Float64")
    out["period_end"] = pd.to_datetime(out["period_end"]).astype("datetime64[ns]")
    return out.reset_index(drop=True)


def read_file(path: Path, origin: str = "user") -> pd.DataFrame:
    """Read and validate one data-return CSV."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype="string", keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataFileError(f"Cannot read {path.name} as CSV ({type(err).__name__}): save it as UTF-8 CSV with a header "
                            "row (see data/input/README.md).") from None
    if "origin" not in raw.columns:
        raw["origin"] = origin
    return validate(raw, path.name)


def load() -> pd.DataFrame:
    """The data-return table: published values, overlaid by the user's file where one is supplied.

    Columns: force, period_end, measure, numerator, denominator, value, unit, source, note, origin
    ("published" or "user")."""
    published = read_file(PUBLISHED_PATH, origin="published")
    path = user_file()
    if path is None:
        return published
    user = read_file(path, origin="user")
    both = pd.concat([published, user], ignore_index=True)
    both = both.drop_duplicates(["force", "period_end", "measure"], keep="last")
    return _typed(both)


def files() -> list[dict]:
    """The data-return files in use, with sha256 (for provenance lines and the ledger)."""
    out = []
    for path, origin in ((PUBLISHED_PATH, "published"), (user_file(), "user")):
        if path is None:
            continue
        out.append({"key": f"data_return_{origin}", "filename": path.name, "path": str(path), "origin": origin,
                    "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    return out


def supplied() -> bool:
    """True when a user data-return file is in use."""
    return user_file() is not None


# --------------------------------------------------------------------------- rates by force

def _population(period: Period) -> tuple[pd.Series, str | None, str]:
    """Population base by force (Annex A year), a note when another year is used, and a label."""
    from . import compute as measures

    pop = measures.population(period)
    year = int(pop["population_year"].iloc[0])
    notes = pop["note"].dropna()
    return (pop.set_index("force")["population"].astype("Float64"), None if notes.empty else str(notes.iloc[0]),
            f"ONS mid-{year} population")


def _recorded_crime(period: Period) -> pd.Series:
    from . import compute as measures

    frame = measures.by_force("recorded_crime_per_1000", period)
    return frame.set_index("force")["numerator"].astype("Float64")


def _default_denominators(s: Spec, period: Period, rows: pd.DataFrame) -> tuple[pd.Series | None, str, str | None]:
    """(denominator by force or None, label, why it is unavailable)."""
    if s.denominator == "population":
        try:
            pop, note, label = _population(period)
        except (PeelError, ImportError) as err:
            return None, "population", f"no population base ({err})"
        return pop, label + (f" ({note})" if note else ""), None
    if s.denominator == "recorded_crime":
        try:
            return _recorded_crime(period), "recorded crime excluding fraud (open data)", None
        except (PeelError, ImportError) as err:
            return None, "recorded crime", f"no recorded crime base ({err})"
    other = rows[rows["measure"] == s.denominator].set_index("force")["numerator"]
    return other.astype("Float64"), f"the force's {s.denominator.replace('_', ' ')} in the data return", None


def _base_rows(s: Spec, rows: pd.DataFrame) -> pd.DataFrame:
    """One row per force for the spec's raw measure (ASB powers: the total, else the sum of types)."""
    if s.base != "asb_powers_total":
        return rows[rows["measure"] == s.base].set_index("force")
    total = rows[rows["measure"] == "asb_powers_total"].set_index("force")
    types = rows[rows["measure"].str.startswith("asb_powers_") & (rows["measure"] != "asb_powers_total")]
    extra = []
    for force, group in types.groupby("force"):
        if force in total.index:
            continue
        have = [m.removeprefix("asb_powers_").replace("_", " ") for m in group["measure"]]
        missing = [t.replace("_", " ") for t in ASB_POWER_TYPES if f"asb_powers_{t}" not in set(group["measure"])]
        note = f"sum of the power types supplied ({', '.join(have)})"
        if missing:
            note += f"; not supplied: {', '.join(missing)}"
        dens = group["denominator"].dropna().unique()
        extra.append({"force": force, "numerator": group["numerator"].sum(min_count=1),
                      "denominator": dens[0] if len(dens) == 1 else pd.NA,
                      "value": pd.NA, "unit": s.count_unit, "source": "; ".join(group["source"].dropna().unique()) or pd.NA,
                      "note": note, "origin": "user" if (group["origin"] == "user").any() else "published"})
    if extra:
        total = pd.concat([total.reset_index(), pd.DataFrame(extra)], ignore_index=True).set_index("force")
    return total


def _na(x) -> bool:
    return x is None or pd.isna(x)


def by_force(key: str, period) -> pd.DataFrame:
    """43 rows in canonical order: force, numerator, denominator, value, status, reason, flag, note, source.

    ``status``: "ok" (a value), "excluded" (Annex A leaves the force out of this measure and year;
    the supplied counts are kept, the value is NA), "missing" (nothing supplied, or no base for
    the rate). A published rate is shown as published, with note "published value"."""
    s = spec(key)
    period = Period.parse(period)
    table = load()
    rows = table[table["period_end"] == pd.Timestamp(period.end)]
    base = _base_rows(s, rows)
    defaults, default_label, default_problem = (None, "", None)
    needs_default = any(_na(base.loc[f, "denominator"]) and not _na(base.loc[f, "numerator"]) and _na(base.loc[f, "value"])
                        for f in base.index if f in FORCE_NAMES)
    if needs_default:
        defaults, default_label, default_problem = _default_denominators(s, period, rows)
    rules = rates.exclusions(s.key, period, s.family)
    annex = dict(zip(rules["force"], "Annex A: " + rules["reason"]))
    flags = rates.caveats(s.family, period)
    if s.denominator != "population":
        flags = flags[flags["family"] != "population"]
    flag_by_force = {f: "; ".join(g["flag"]) for f, g in flags.groupby("force")}

    out = []
    for force in FORCE_NAMES:
        rec = {"force": force, "numerator": pd.NA, "denominator": pd.NA, "value": pd.NA, "status": "missing",
               "reason": MISSING_REASON, "flag": flag_by_force.get(force, pd.NA), "note": pd.NA, "source": pd.NA}
        if force in base.index:
            row = base.loc[force]
            num, den, val = row["numerator"], row["denominator"], row["value"]
            rec["source"] = row["source"]
            notes = [] if _na(row["note"]) else [str(row["note"])]
            rec["numerator"] = num
            if not _na(num) and not _na(den):
                rec.update(denominator=den, value=s.scale * float(num) / float(den), status="ok", reason=pd.NA)
                notes.append("computed from the supplied numerator and denominator")
            elif not _na(val):
                rec.update(value=float(val), status="ok", reason=pd.NA)
                if row["origin"] == "published" and not any(n.startswith("published value") for n in notes):
                    notes.insert(0, "published value")
                elif row["origin"] != "published":
                    notes.append("supplied rate, shown as given")
            elif not _na(num):
                d = None if defaults is None else defaults.get(force, pd.NA)
                if _na(d) or float(d) == 0:
                    why = default_problem or f"no {default_label or s.denominator} for {force} to divide by"
                    rec.update(status="missing", reason=f"count supplied but {why}")
                else:
                    rec.update(denominator=float(d), value=s.scale * float(num) / float(d), status="ok", reason=pd.NA)
                    notes.append(f"denominator: {default_label}")
            rec["note"] = "; ".join(notes) if notes else pd.NA
        if force in annex:
            rec.update(status="excluded", reason=annex[force], value=pd.NA)
        out.append(rec)
    frame = pd.DataFrame(out, columns=BY_FORCE_COLUMNS)
    for col in ("numerator", "denominator", "value"):
        frame[col] = pd.to_numeric(frame[col]).astype("Float64")
    for col in ("force", "status", "reason", "flag", "note", "source"):
        frame[col] = frame[col].astype("string")
    return frame


# --------------------------------------------------------------------------- England and Wales

@dataclass
class DataReturnAggregate(rates.Aggregate):
    """An England and Wales value for a data-return measure.

    ``status``: "ok" (aggregate over every force Annex A leaves in), "published" (the report's
    E&W value, shown as published, because the supplied force data do not cover all forces),
    "partial" (an aggregate over the forces supplied only, with no published value to show),
    "missing". ``computed`` is the aggregate over the supplied forces (or None); ``excluded``
    lists the forces Annex A leaves out for this measure and year; ``missing`` the forces with
    no usable data."""

    status: str = "missing"
    published: float | None = None
    computed: rates.Aggregate | None = None
    missing: list[str] = field(default_factory=list)
    label: str = ""

    @property
    def display_note(self) -> str:
        return self.note or ""


def england_and_wales(key: str, period) -> DataReturnAggregate:
    """England and Wales for a data-return measure (see :class:`DataReturnAggregate`)."""
    s = spec(key)
    period = Period.parse(period)
    frame = by_force(s.key, period)
    table = load()
    ew_rows = table[(table["force"] == ENGLAND_AND_WALES) & (table["period_end"] == pd.Timestamp(period.end))
                    & (table["measure"] == s.base)]
    published = None
    ew_num = ew_den = None
    if len(ew_rows):
        r = ew_rows.iloc[0]
        if not _na(r["numerator"]) and not _na(r["denominator"]):
            ew_num, ew_den = float(r["numerator"]), float(r["denominator"])
            published = s.scale * ew_num / ew_den
        elif not _na(r["value"]):
            published = float(r["value"])
    rules = rates.exclusions(s.key, period, s.family)
    annex = pd.DataFrame({"force": rules["force"], "reason": "Annex A: " + rules["reason"]}).astype("string")

    usable = frame[(frame["status"] == "ok") & frame["numerator"].notna() & frame["denominator"].notna()]
    computed = None
    missing = [f for f in FORCE_NAMES if f not in set(usable["force"]) and f not in set(annex["force"])]
    if len(usable):
        agg_in = frame[["force", "numerator", "denominator", "reason"]].copy()
        agg_in.loc[~agg_in["force"].isin(usable["force"]), ["numerator", "denominator"]] = pd.NA
        computed = rates.aggregate(agg_in, s.key, period, family=s.family, scale=s.scale)
    base = dict(measure=s.key, period=period.iso, scale=s.scale, excluded=annex, published=published,
                computed=computed, missing=missing, label=s.label)
    if computed is not None and computed.value is not None and not missing:
        return DataReturnAggregate(value=computed.value, numerator=computed.numerator, denominator=computed.denominator,
                                   included=computed.included, status="ok",
                                   note=None if published is None else f"published England and Wales value: {published:g}",
                                   **base)
    if published is not None:
        note = "England and Wales value as published in the report"
        if computed is not None and computed.value is not None:
            note += (f"; the supplied force data cover {len(computed.included)} of the "
                     f"{len(FORCE_NAMES) - len(annex)} forces Annex A leaves in (aggregate over them: "
                     f"{computed.value:.1f}), so that aggregate is not shown as England and Wales")
        return DataReturnAggregate(value=published, numerator=ew_num, denominator=ew_den, included=[],
                                   status="published", note=note, published_only=True, **base)
    if computed is not None and computed.value is not None:
        return DataReturnAggregate(value=computed.value, numerator=computed.numerator, denominator=computed.denominator,
                                   included=computed.included, status="partial",
                                   note=(f"aggregate over the {len(computed.included)} forces supplied, not all of "
                                         f"England and Wales; no data for {len(missing)} forces"), **base)
    return DataReturnAggregate(value=None, numerator=None, denominator=None, included=[], status="missing",
                               note=MISSING_REASON, **base)


def excluded_forces(key: str, period) -> pd.DataFrame:
    """Forces Annex A leaves out of ``key`` in ``period``: force, reason."""
    s = spec(key)
    rules = rates.exclusions(s.key, Period.parse(period), s.family)
    return pd.DataFrame({"force": rules["force"], "reason": rules["reason"]}).astype("string")


def coverage_note(key: str, period) -> str:
    """One sentence for a notebook: how many forces have a value and why the others do not."""
    s = spec(key)
    frame = by_force(s.key, period)
    ok = frame[frame["status"] == "ok"]["force"].tolist()
    excl = frame[frame["status"] == "excluded"]["force"].tolist()
    n_missing = int((frame["status"] == "missing").sum())
    parts = [f"{s.label}: values for {len(ok)} of {len(FORCE_NAMES)} forces"
             + (f" ({', '.join(ok)})" if 0 < len(ok) <= 5 else "")]
    if n_missing:
        parts.append(f"{n_missing} not public (HMICFRS data return; supply data/input/data_return.csv)")
    if excl:
        parts.append(f"left out under Annex A: {', '.join(excl)}")
    return "; ".join(parts) + "."


__all__ = [
    "SPECS", "BASE_MEASURES", "ASB_POWER_TYPES", "MISSING_REASON", "Spec", "spec", "load", "validate", "read_file",
    "user_file", "files", "supplied", "by_force", "england_and_wales", "excluded_forces", "coverage_note",
    "DataReturnAggregate",
]
