"""Every number the report's data sections show, computed the same way for all 43 forces.

Three calls cover the notebooks' needs:

``by_force(key, period)``
    43 rows in canonical order: force, numerator, denominator, value, status, reason, flag.
    ``status`` is "ok", "excluded" (Annex A leaves the force out), "missing" (the source
    has nothing for it) or "partial" (the window is not fully covered, so no value is
    computed). ``value`` is NA unless the status is "ok".
``england_and_wales(key, period)``
    The aggregate: Σ numerators / Σ denominators over the included forces, with the
    excluded forces and reasons (see :mod:`peel_helpers.measures.rates`).
``force_value(key, force, period)`` / ``ew_value(key, period)``
    One displayable :class:`Result` (value, "–" with a reason, flags, sources).

Open-data measures are computed from the tidy cache (:mod:`peel_helpers.data`). Measures
from HMICFRS's own data return come through :mod:`peel_helpers.measures.datareturn`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from . import rates
from ..core.text import DASH, format_value
from ..core.errors import ParameterError, PeriodError
from ..core.forces import FORCE_NAMES, resolve
from ..core.periods import FinancialQuarter, Period, describe_range, missing_quarters


# Outcome types (Home Office outcomes framework) behind each outcome share. Codes are
# stable across releases, unlike the group labels' punctuation.
OUTCOME_TYPES: dict[str, tuple[int, ...]] = {
    "charge_summons": (1,),
    "tic": (4,),
    "ooc_formal": (2, 3, 6),
    "ooc_informal": (7, 8),
    "evidential_difficulties": (14, 16),   # victim does not support police action
    "no_suspect": (18,),
    "not_yet_assigned": (0,),
    "action_taken": (1, 2, 3, 4, 6, 7, 8),  # Figure 1: charge/summons + TIC + out-of-court
}
FRAUD_OFFENCE = "Fraud offences"
OUTCOME_COLUMNS = ["force", "body", "financial_year", "quarter", "outcome_type", "offences_outcomes"]


@dataclass(frozen=True)
class MeasureDef:
    key: str
    label: str
    unit: str
    family: str
    scale: float
    kind: str = "open"            # "open" (open data) or "data_return" (HMICFRS's own return)
    uses_population: bool = False
    decimals: int = 1
    tables: tuple[str, ...] = ()
    signed: bool = False


def _outcome(key: str, label: str) -> MeasureDef:
    return MeasureDef(f"outcome_{key}", label, "% of offences recorded", "outcomes", 100, tables=("outcomes",))


MEASURES: dict[str, MeasureDef] = {m.key: m for m in [
    MeasureDef("recorded_crime_per_1000", "Recorded crime (excluding fraud) per 1,000 population",
               "per 1,000 population", "recorded_crime", 1_000, uses_population=True,
               tables=("recorded_crime", "population")),
    MeasureDef("recorded_crime_change_pct", "Change in recorded crime (excluding fraud) on the previous 12 months",
               "% change", "recorded_crime", 100, tables=("recorded_crime",), signed=True),
    _outcome("charge_summons", "Charged/summonsed"),
    _outcome("tic", "Taken into consideration"),
    _outcome("ooc_formal", "Out-of-court (formal)"),
    _outcome("ooc_informal", "Out-of-court (informal)"),
    _outcome("evidential_difficulties", "Evidential difficulties: victim does not support police action"),
    _outcome("no_suspect", "Investigation complete: no suspect identified"),
    _outcome("not_yet_assigned", "Not yet assigned an outcome"),
    MeasureDef("action_taken", "Investigations where action was taken", "% of offences recorded", "outcomes", 100,
               tables=("outcomes",)),
    MeasureDef("asb_incidents_per_1000", "Anti-social behaviour incidents per 1,000 population",
               "per 1,000 population", "asb_incidents", 1_000, uses_population=True, tables=("asb", "population")),
    # HMICFRS data return (not public): values come from data/published/data_return.csv or a user file
    MeasureDef("calls_for_assistance_per_1000", "Calls for assistance per 1,000 population", "per 1,000 population",
               "calls", 1_000, kind="data_return", uses_population=True),
    MeasureDef("da_calls_pct", "Domestic abuse-related calls as a share of calls for assistance", "% of calls",
               "da_calls", 100, kind="data_return"),
    MeasureDef("da_offences_pct", "Domestic abuse-related offences as a share of recorded crime",
               "% of recorded crime", "da_offences", 100, kind="data_return"),
    MeasureDef("da_arrests_per_100", "Domestic abuse arrests per 100 domestic abuse-related offences",
               "per 100 offences", "da_arrests", 100, kind="data_return"),
    MeasureDef("asb_powers_per_million", "Anti-social behaviour powers used per 1 million population",
               "per 1 million population", "asb_powers", 1_000_000, kind="data_return", uses_population=True),
    MeasureDef("ocg_per_million", "Organised crime groups per 1 million population", "per 1 million population",
               "ocg", 1_000_000, kind="data_return", uses_population=True),
    MeasureDef("eaw_per_million", "European arrest warrants executed per 1 million population",
               "per 1 million population", "eaw", 1_000_000, kind="data_return", uses_population=True),
]}

FORCE_IN_NUMBERS = [
    "recorded_crime_per_1000", "recorded_crime_change_pct",
    "outcome_charge_summons", "outcome_tic", "outcome_ooc_formal", "outcome_ooc_informal",
    "outcome_evidential_difficulties", "outcome_no_suspect", "outcome_not_yet_assigned",
    "asb_incidents_per_1000",
    "calls_for_assistance_per_1000", "da_calls_pct", "da_offences_pct", "da_arrests_per_100", "ocg_per_million",
]

COLUMNS = ["force", "numerator", "denominator", "value", "status", "reason", "flag"]


def measure(key: str) -> MeasureDef:
    try:
        return MEASURES[key]
    except KeyError:
        from rapidfuzz import process

        close = ", ".join(repr(k) for k, *_ in process.extract(key, list(MEASURES), limit=3))
        raise ParameterError(f"Unknown measure {key!r}: did you mean {close}? (see peel_helpers.measures.MEASURES)") from None


@dataclass
class Result:
    key: str
    label: str
    unit: str
    area: str
    period: str
    value: float | None
    numerator: float | None
    denominator: float | None
    display: str
    reason: str | None = None
    flags: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    status: str = "ok"


def fmt(value, mdef: MeasureDef) -> str:
    """Format ``value`` for display in the measure's unit, or a dash."""
    return format_value(value, mdef.unit, mdef.decimals, mdef.signed)


# --------------------------------------------------------------------------- data access

def _data():
    from .. import data  # imported late: keeps `import peel_helpers.measures` cheap

    return data


def _frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Normalise to the 43-row by_force layout."""
    out = rows.set_index("force").reindex(list(FORCE_NAMES)).reset_index()
    for col in ("numerator", "denominator", "value"):
        out[col] = pd.to_numeric(out.get(col, pd.Series(pd.NA, index=out.index, dtype="Float64")), errors="coerce").astype("Float64")
    for col in ("status", "reason", "flag"):
        out[col] = out.get(col, pd.Series(pd.NA, index=out.index)).astype("string")
    out["status"] = out["status"].fillna("missing")
    out.loc[out["status"].eq("missing") & out["reason"].isna(), "reason"] = "not in the source"
    return out[COLUMNS]


@lru_cache(maxsize=16)
def _population(period_iso: str) -> pd.DataFrame:
    period = Period.parse(period_iso)
    pop = _data().load("population")
    wanted = period.population_year
    years = sorted(int(y) for y in pop["mid_year"].dropna().unique())
    usable = [y for y in years if y <= wanted]
    if not usable:
        raise PeriodError(
            f"No population estimate for mid-{wanted} or earlier: the population table covers "
            f"{describe_range(years)}. Pick a later period."
        )
    used = usable[-1]
    rows = pop[pop["mid_year"] == used][["force", "population"]].copy()
    rows["population_year"] = used
    rows["note"] = pd.NA if used == wanted else (
        f"mid-{wanted} population is not in the loaded ONS table, so mid-{used} (the latest available) is used")
    return rows.reset_index(drop=True)


def population(period) -> pd.DataFrame:
    """Population base for ``period`` (Annex A: mid-year before the end year): force, population, population_year, note."""
    return _population(Period.parse(period).iso).copy()


@lru_cache(maxsize=16)
def _recorded_crime_totals(end_iso: str) -> pd.Series:
    data = _data()
    rc = data.load("recorded_crime")
    end = pd.Timestamp(end_iso)
    available = sorted(d.date() for d in pd.to_datetime(rc["period_end"].unique()))
    if end.date() not in available:
        raise PeriodError(
            f"Recorded crime (rec-crime-pfa.csv) does not cover the 12 months to {end_iso}: it covers period ends "
            f"{describe_range(available)}. Pick a quarter end inside that range."
        )
    sel = rc[(rc["period_end"] == end) & (rc["body"] == "territorial") & (rc["offence"] != FRAUD_OFFENCE)]
    return sel.groupby("force")["count"].sum().astype("Float64")


def recorded_crime_total(force, period) -> int:
    """Recorded crime excluding fraud for one force over the 12 months to ``period``."""
    totals = _recorded_crime_totals(Period.parse(period).iso)
    return int(totals[resolve(force).name])


def outcome_quarters() -> list[FinancialQuarter]:
    """Financial quarters the outcomes table holds (for any force)."""
    return list(_outcome_quarters())


@lru_cache(maxsize=1)
def _outcome_quarters() -> tuple[FinancialQuarter, ...]:
    oc = _data().load("outcomes", columns=["financial_year", "quarter"])
    pairs = oc.drop_duplicates()
    return tuple(sorted(FinancialQuarter.from_parts(fy, int(q)) for fy, q in pairs.itertuples(index=False)))


def outcome_coverage(period) -> dict:
    """Which quarters of ``period``'s window are loaded, which are missing, and which files would supply them."""
    return dict(_outcome_coverage(Period.parse(period).iso))


@lru_cache(maxsize=16)
def _outcome_coverage(period_iso: str) -> dict:
    period = Period.parse(period_iso)
    have = outcome_quarters()
    missing = missing_quarters(period, have)
    files = []
    from ..data.manifest import outcomes_file_for

    for fy in sorted({q.financial_year for q in missing}):
        src = outcomes_file_for(fy)
        files.append({"financial_year": fy, "key": getattr(src, "key", None),
                      "filename": getattr(src, "filename", None), "url": getattr(src, "url", None)})
    return {"period": period.label, "needed": [q.label for q in period.quarters],
            "available": [q.label for q in period.quarters if q not in missing],
            "missing": [q.label for q in missing], "files": files, "complete": not missing}


def partial_reason(period) -> str | None:
    cov = outcome_coverage(period)
    if cov["complete"]:
        return None
    files = "; ".join(f"{f['filename']} ({f['financial_year']})" if f["filename"] else f"no known file for {f['financial_year']}"
                      for f in cov["files"])
    return (f"partial window: outcomes for {', '.join(cov['missing'])} are not in the loaded data, so no proportion "
            f"is computed for the {cov['period']}; the Home Office file that supplies them: {files}")


@lru_cache(maxsize=8)
def _outcome_matrix(quarters: tuple[FinancialQuarter, ...]) -> tuple[pd.DataFrame, pd.Series]:
    """Territorial forces × outcome type, summed over ``quarters``; and how many of them each force has."""
    oc = _data().load("outcomes", columns=OUTCOME_COLUMNS)
    oc = oc[oc["body"] == "territorial"]
    wanted = pd.Series(False, index=oc.index)
    for q in quarters:
        wanted |= (oc["financial_year"] == q.financial_year) & (oc["quarter"] == q.quarter)
    sel = oc.loc[wanted.to_numpy(), ["force", "financial_year", "quarter", "outcome_type", "offences_outcomes"]]
    matrix = sel.groupby(["force", "outcome_type"])["offences_outcomes"].sum().unstack(fill_value=0)
    n_quarters = sel[["force", "financial_year", "quarter"]].drop_duplicates().groupby("force").size()
    return matrix, n_quarters


def _outcome_counts(types: tuple[int, ...], quarters: tuple[FinancialQuarter, ...]) -> pd.DataFrame:
    matrix, n_quarters = _outcome_matrix(quarters)
    cols = [t for t in types if t in matrix.columns]
    out = pd.DataFrame({"numerator": matrix[cols].sum(axis=1), "denominator": matrix.sum(axis=1),
                        "quarters": n_quarters})
    out.index.name = "force"
    return out.reset_index()


def outcome_share_over(key: str, quarters: list[FinancialQuarter]) -> pd.DataFrame:
    """Outcome share over an explicit list of quarters (for labelled like-with-like comparisons only)."""
    types = OUTCOME_TYPES[key.removeprefix("outcome_")]
    counts = _outcome_counts(types, tuple(quarters))
    counts = counts.assign(value=rates.share_pct(counts["numerator"], counts["denominator"]).to_numpy(),
                           status="ok", reason=pd.NA, flag=pd.NA)
    return _frame(counts)


# --------------------------------------------------------------------------- by_force per family

def _by_force_outcomes(mdef: MeasureDef, period: Period) -> pd.DataFrame:
    reason = partial_reason(period)
    if reason:
        return _frame(pd.DataFrame({"force": list(FORCE_NAMES), "status": "partial", "reason": reason}))
    types = OUTCOME_TYPES[mdef.key.removeprefix("outcome_")]
    counts = _outcome_counts(types, tuple(period.quarters))
    complete = counts["quarters"] == 4
    counts["value"] = rates.share_pct(counts["numerator"], counts["denominator"]).to_numpy()
    counts["status"] = "ok"
    counts["reason"] = pd.NA
    counts.loc[~complete, ["value"]] = pd.NA
    counts.loc[~complete, "status"] = "partial"
    counts.loc[~complete, "reason"] = "the force has outcome rows for fewer than the four quarters of the window"
    return _frame(counts)


def _by_force_recorded_crime(mdef: MeasureDef, period: Period) -> pd.DataFrame:
    current = _recorded_crime_totals(period.iso)
    if mdef.key == "recorded_crime_change_pct":
        previous = _recorded_crime_totals(period.previous.iso)
        rows = pd.DataFrame({"numerator": current - previous, "denominator": previous})
    else:
        pop = population(period).set_index("force")["population"]
        rows = pd.DataFrame({"numerator": current, "denominator": pop})
    rows.index.name = "force"
    rows = rows.reset_index()
    rows["value"] = (rows["numerator"] * mdef.scale / rows["denominator"]).astype("Float64").to_numpy()
    rows["status"] = "ok"
    return _frame(rows)


def _by_force_asb(mdef: MeasureDef, period: Period) -> pd.DataFrame:
    asb = _data().load("asb")
    year_end = pd.Timestamp(period.asb_year_ending)
    available = sorted(d.date() for d in pd.to_datetime(asb["year_ending"].unique()))
    if year_end.date() not in available:
        raise PeriodError(
            f"ONS Table P7 (ASB incidents) does not cover the year ending {year_end.date().isoformat()}: it covers "
            f"years ending {describe_range(available)}. Pick a period ending on or after 31 March of a covered year."
        )
    sel = asb[asb["year_ending"] == year_end].set_index("force")
    pop = population(period).set_index("force")["population"]
    rows = pd.DataFrame({"numerator": sel["incidents"].astype("Float64"), "denominator": pop.astype("Float64")})
    rows.index.name = "force"
    rows = rows.reset_index()
    rows["value"] = (rows["numerator"] * mdef.scale / rows["denominator"]).astype("Float64").to_numpy()
    rows["status"] = ["ok" if pd.notna(v) else "missing" for v in rows["value"]]
    notes = sel["incidents_note"].reindex(rows["force"]).to_numpy()
    rows["reason"] = [None if s == "ok" else (n if isinstance(n, str) else "no ASB count in ONS Table P7")
                      for s, n in zip(rows["status"], notes)]
    return _frame(rows)


def _by_force_data_return(mdef: MeasureDef, period: Period) -> pd.DataFrame:
    from . import datareturn

    return _frame(datareturn.by_force(mdef.key, period))


def _apply_rules(frame: pd.DataFrame, mdef: MeasureDef, period: Period) -> pd.DataFrame:
    """Mark Annex A exclusions and attach caveat flags."""
    rules = rates.exclusions(mdef.key, period, mdef.family)
    for row in rules.itertuples():
        mask = frame["force"] == row.force
        frame.loc[mask, "value"] = pd.NA
        frame.loc[mask, "status"] = "excluded"
        frame.loc[mask, "reason"] = f"Annex A: {row.reason}"
    flags = rates.caveats(mdef.family, period)
    if not mdef.uses_population:
        flags = flags[flags["family"] != "population"]
    for force, group in flags.groupby("force"):
        mask = frame["force"] == force
        frame.loc[mask, "flag"] = "; ".join(group["flag"])
    pop_note = population(period)["note"].dropna() if mdef.uses_population and mdef.kind == "open" else []
    if len(pop_note):
        note = str(pop_note.iloc[0])
        frame["flag"] = [note if pd.isna(f) else f"{f}; {note}" for f in frame["flag"]]
    return frame


_BUILDERS = {
    "outcomes": _by_force_outcomes,
    "recorded_crime": _by_force_recorded_crime,
    "asb_incidents": _by_force_asb,
}


@lru_cache(maxsize=128)
def _by_force(key: str, period_iso: str) -> pd.DataFrame:
    mdef = measure(key)
    period = Period.parse(period_iso)
    builder = _by_force_data_return if mdef.kind == "data_return" else _BUILDERS[mdef.family]
    return _apply_rules(builder(mdef, period), mdef, period)


def by_force(key: str, period) -> pd.DataFrame:
    """43 rows: force, numerator, denominator, value, status, reason, flag (see module docstring)."""
    return _by_force(key, Period.parse(period).iso).copy()


def england_and_wales(key: str, period) -> rates.Aggregate:
    """Σ numerators / Σ denominators over the forces Annex A and the data leave in."""
    mdef = measure(key)
    period = Period.parse(period)
    if mdef.kind == "data_return":
        from . import datareturn

        return datareturn.england_and_wales(key, period)
    frame = by_force(key, period)
    agg = rates.aggregate(frame, key, period, family=mdef.family, scale=mdef.scale)
    partial = frame[frame["status"] == "partial"]
    if agg.value is None and len(partial) and (frame["status"].isin(["partial", "excluded"])).all():
        agg.note = str(partial["reason"].iloc[0])
    return agg


def _sources(mdef: MeasureDef) -> list[str]:
    if mdef.kind == "data_return":
        return ["hmicfrs_data_return"]
    keys: list[str] = []
    for table in mdef.tables:
        for item in _data().provenance(table):
            if item["key"] not in keys:
                keys.append(item["key"])
    return keys


def force_value(key: str, force, period) -> Result:
    """One force's value for display, with a dash and the reason when there is none."""
    mdef = measure(key)
    period = Period.parse(period)
    name = resolve(force).name
    row = by_force(key, period).set_index("force").loc[name]
    flags = [] if pd.isna(row["flag"]) else str(row["flag"]).split("; ")
    value = None if pd.isna(row["value"]) else float(row["value"])
    return Result(key, mdef.label, mdef.unit, name, period.label, value,
                  None if pd.isna(row["numerator"]) else float(row["numerator"]),
                  None if pd.isna(row["denominator"]) else float(row["denominator"]),
                  fmt(value, mdef), None if pd.isna(row["reason"]) else str(row["reason"]), flags,
                  _sources(mdef), str(row["status"]))


def ew_value(key: str, period) -> Result:
    """England and Wales value for display."""
    mdef = measure(key)
    period = Period.parse(period)
    agg = england_and_wales(key, period)
    reason = agg.note
    if agg.value is not None and not agg.excluded.empty:
        reason = None
    flags = [] if agg.excluded.empty or agg.value is None else [f"excludes {agg.excluded_text}"]
    return Result(key, mdef.label, mdef.unit, rates.ENGLAND_AND_WALES, period.label, agg.value, agg.numerator,
                  agg.denominator, fmt(agg.value, mdef), reason if agg.value is None else None, flags,
                  _sources(mdef), "ok" if agg.value is not None else "missing")


def force_in_numbers(force, period) -> pd.DataFrame:
    """The Force in numbers page: one row per panel, force and England and Wales side by side."""
    period = Period.parse(period)
    name = resolve(force).name
    rows = []
    for key in FORCE_IN_NUMBERS:
        mdef = MEASURES[key]
        fv, ew = force_value(key, name, period), ew_value(key, period)
        shown_period = period.label
        if mdef.family == "asb_incidents":
            shown_period = f"12 months to {period.asb_year_ending.day} March {period.asb_year_ending.year}"
        elif key == "recorded_crime_change_pct":
            shown_period = f"{period.label} vs {period.previous.label.removeprefix('12 months to ')}"
        rows.append({
            "measure": mdef.label, "unit": mdef.unit, "period": shown_period, name: fv.display,
            rates.ENGLAND_AND_WALES: ew.display,
            "note": "; ".join(x for x in [fv.reason, *fv.flags] if x) or "",
            "source": "HMICFRS data return" if mdef.kind == "data_return" else ", ".join(fv.sources),
        })
    return pd.DataFrame(rows).astype("string")


def asb_rate_comparison(period) -> pd.DataFrame:
    """Our ASB rate (report's population base) beside ONS's own published P7 rate, per force.

    ONS's P7 rates use older population estimates; the ``implied_population`` column shows
    the population each ONS rate implies. Nothing here is tuned to make the two agree.
    """
    period = Period.parse(period)
    ours = by_force("asb_incidents_per_1000", period)
    asb = _data().load("asb")
    ons = asb[asb["year_ending"] == pd.Timestamp(period.asb_year_ending)].set_index("force")
    out = ours[["force", "numerator", "denominator", "value"]].rename(
        columns={"numerator": "incidents", "denominator": "population", "value": "rate_per_1000"})
    out["ons_rate_per_1000"] = ons["ons_rate_per_1000"].reindex(out["force"]).to_numpy()
    out["ons_rate_note"] = ons["ons_rate_note"].reindex(out["force"]).to_numpy()
    out["difference"] = (out["rate_per_1000"] - out["ons_rate_per_1000"]).astype("Float64")
    out["implied_population"] = [rates.implied_denominator(i, r, 1_000) for i, r in
                                 zip(out["incidents"], out["ons_rate_per_1000"])]
    out["population_year"] = int(population(period)["population_year"].iloc[0])
    return out


def clear_caches() -> None:
    """Forget computed tables (after the cache or an input file changes)."""
    for fn in (_population, _recorded_crime_totals, _outcome_quarters, _outcome_coverage, _outcome_matrix, _by_force):
        fn.cache_clear()
