"""Rates built from the HMICFRS data-return input (see :mod:`peel_helpers.measures.datareturn`).

For each force, in order:

1. numerator and denominator given: the rate is computed;
2. only a rate (``value``) given: it is shown as given, never recomputed;
3. a count only: divided by the default base (the ONS population of the period's population year,
   recorded crime excluding fraud, or the force's own base count in the same input);
4. nothing: no value, with the reason that the data are not public.

The basis is ``supplied`` for the user's rows and ``published`` for values copied from the report.
England and Wales rows the input holds (published values) are returned separately by
:func:`published_aggregates`; the sum over forces is built in :mod:`peel_helpers.measures.aggregate`.
"""

from __future__ import annotations

import warnings

import pandas as pd

from ..core.errors import SchemaError
from ..core.forces import FORCE_NAMES
from ..core.periods import Period
from ..core.text import ENGLAND_AND_WALES
from . import crime, datareturn, population
from .registry import ASB_POWER_TYPES, MeasureDef, plain

BASIS = {"user": "supplied", "published": "published"}


def periods() -> list[Period]:
    """Periods the data-return input holds values for."""
    return sorted({Period.parse(p) for p in datareturn.load()["period_end"]})


def _base_rows(mdef: MeasureDef, rows: pd.DataFrame) -> pd.DataFrame:
    """One row per force for the measure's raw count (ASB powers: the total, else the sum of the types)."""
    own = rows[rows["measure"] == mdef.base].set_index("force")
    if mdef.base != "asb_powers_total":
        return own
    types = rows[rows["measure"].isin([f"asb_powers_{t}" for t in ASB_POWER_TYPES])]
    extra = []
    for force, group in types[~types["force"].isin(own.index)].groupby("force"):
        have = [m.removeprefix("asb_powers_").replace("_", " ") for m in group["measure"]]
        lacking = [t.replace("_", " ") for t in ASB_POWER_TYPES if f"asb_powers_{t}" not in set(group["measure"])]
        note = f"sum of the power types supplied ({', '.join(have)})" + (f"; not supplied: {', '.join(lacking)}"
                                                                          if lacking else "")
        dens = group["denominator"].dropna().unique()
        extra.append({"force": force, "numerator": group["numerator"].sum(min_count=1),
                      "where": "; ".join(group["where"].dropna()), "parts": " and ".join(group["measure"]),
                      "denominator": dens[0] if len(dens) == 1 else pd.NA, "value": pd.NA,
                      "source": "; ".join(group["source"].dropna().unique()) or pd.NA, "note": note,
                      "origin": "user" if (group["origin"] == "user").any() else "published"})
    if not extra:
        return own
    return pd.concat([own.reset_index(), pd.DataFrame(extra)], ignore_index=True).set_index("force")


def _defaults(mdef: MeasureDef, period: Period, rows: pd.DataFrame) -> tuple[pd.Series, str, str | None]:
    """(default denominator by force, what it is, its source) for counts given without a base."""
    if mdef.denominator == "population":
        pop = population.population(period).set_index("force")
        year = int(pop["population_year"].iloc[0])
        return pop["population"], f"ONS mid-{year} population", pop["population_source"].iloc[0]
    if mdef.denominator == "recorded_crime":
        counts = crime.totals()
        base = counts.loc[period.iso] if period.iso in counts.index else pd.Series(pd.NA, index=list(FORCE_NAMES))
        return base, "recorded crime excluding fraud (open data)", "rec-crime-pfa.csv"
    other = rows[rows["measure"] == mdef.denominator].set_index("force")["numerator"]
    return other, f"the force's {mdef.denominator.replace('_', ' ')} in the data return", None


def _na(x) -> bool:
    return x is None or pd.isna(x)


def _one(mdef: MeasureDef, row, defaults) -> dict:
    """The rate for one force's input row."""
    num, den, val = row["numerator"], row["denominator"], row["value"]
    basis = BASIS[row["origin"]]
    notes = [] if _na(row["note"]) else [str(row["note"])]
    out = {"numerator": num, "basis": basis, "status": "ok", "reason": pd.NA,
           "source": row["source"] if not _na(row["source"]) else pd.NA}
    if not _na(num) and not _na(den):
        out.update(denominator=den, value=mdef.scale * float(num) / float(den))
        notes.append(f"computed from the {basis} numerator and denominator")
    elif not _na(val):
        out.update(value=float(val))
        notes.append("rate shown as given, not recomputed")
    else:
        base, label, base_source = defaults
        d = base.get(row.name, pd.NA)
        if _na(d) or float(d) == 0:
            out.update(basis="not_available", status="missing",
                       reason=f"count {basis} but no {label} for this force to divide by")
        else:
            out.update(denominator=float(d), value=mdef.scale * float(num) / float(d))
            _check_range(mdef, out["value"], row, f"{plain(float(num))} over the {label} {plain(float(d))} ")
            notes.append(f"denominator: {label}")
            if base_source:
                out["source"] = "; ".join(str(s) for s in (out["source"], base_source) if not _na(s))
    out["note"] = "; ".join(dict.fromkeys(notes)) or pd.NA
    return out


def _check_range(mdef: MeasureDef, value: float, row, how: str) -> None:
    """A rate from a count over a default base (a population, recorded crime, another count) must be
    possible for its measure: else a one-line error naming the input row, and nothing is built. A sum of
    ASB power types is named by the types it adds up (the file holds no asb_powers_total row)."""
    parts = row.get("parts")
    label = f"the sum of {parts}" if isinstance(parts, str) and parts else ""
    found = datareturn.rate_problem(mdef.base, value, str(row.get("where", "data return")), how, label)
    if found is not None and found[0] == "error":
        raise SchemaError(found[1])
    if found is not None:
        warnings.warn(found[1], datareturn.ImplausibleValueWarning, stacklevel=2)


def _power_types(rows: pd.DataFrame) -> pd.DataFrame:
    """The ASB power-type count rows of ``rows`` that need a default base (no denominator of their own)."""
    types = rows["measure"].isin([f"asb_powers_{t}" for t in ASB_POWER_TYPES])
    return rows[types & rows["numerator"].notna() & rows["denominator"].isna()]


def _check_power_types(mdef: MeasureDef, parts: pd.DataFrame, defaults) -> None:
    """Each ASB power type over the default base must be possible on its own: an error names the type's
    measure and row (a type with its own denominator is checked when the file is read)."""
    base, label, _ = defaults
    for row in parts.itertuples(index=False):
        d = base.get(row.force, pd.NA) if base is not None else pd.NA
        if _na(d) or float(d) == 0:
            continue
        found = datareturn.rate_problem(row.measure, mdef.scale * float(row.numerator) / float(d), row.where,
                                        f"{plain(float(row.numerator))} over the {label} {plain(float(d))} ")
        if found is not None and found[0] == "error":
            raise SchemaError(found[1])


def rows(measures: list[MeasureDef], wanted: list[Period]) -> pd.DataFrame:
    """Force rows for the data-return measures over ``wanted`` periods."""
    table = datareturn.load()
    held = set(table["period_end"])
    frames = [_nothing(mdef, [p for p in wanted if p.iso not in held]) for mdef in measures]
    for period in (p for p in wanted if p.iso in held):
        in_period = table[table["period_end"] == period.iso]
        for mdef in measures:
            base = _base_rows(mdef, in_period)
            parts = _power_types(in_period) if mdef.base == "asb_powers_total" else in_period.iloc[:0]
            needs = base["numerator"].notna() & base["denominator"].isna() & base["value"].isna()
            defaults = _defaults(mdef, period, in_period) if needs.any() or len(parts) else (None, "", None)
            _check_power_types(mdef, parts, defaults)
            recs = [dict(force=f, **(_one(mdef, base.loc[f].rename(f), defaults) if f in base.index else {}))
                    for f in FORCE_NAMES]
            frame = _nothing(mdef, [period]).set_index("force")
            filled = pd.DataFrame(recs).set_index("force")
            frame = filled.combine_first(frame) if len(filled.columns) else frame
            frames.append(frame.reset_index())
    return pd.concat(frames, ignore_index=True)


def _nothing(mdef: MeasureDef, periods: list[Period]) -> pd.DataFrame:
    """Every force without a value: the input holds nothing for these periods."""
    return pd.DataFrame({"force": [f for _ in periods for f in FORCE_NAMES], "basis": "not_available",
                         "status": "missing", "reason": datareturn.MISSING_REASON, "measure": mdef.key,
                         "period_end": [p.iso for p in periods for _ in FORCE_NAMES],
                         "window": [_window(mdef, p) for p in periods for _ in FORCE_NAMES],
                         "population_year": [p.population_year if mdef.uses_population else pd.NA
                                             for p in periods for _ in FORCE_NAMES]})


def _window(mdef: MeasureDef, period: Period) -> str:
    if mdef.key == "ocg_per_million":
        day = period.end + pd.Timedelta(days=1)
        return f"as at {day.day} {day.strftime('%B')} {day.year}"
    return period.label


def published_aggregates(measures: list[MeasureDef], wanted: list[Period]) -> pd.DataFrame:
    """England and Wales values the input holds (published in the report, or supplied), one row each."""
    table = datareturn.load()
    by_base = {m.base: m for m in measures}
    isos = {p.iso for p in wanted}
    recs = []
    for row in table[table["force"] == ENGLAND_AND_WALES].itertuples(index=False):
        mdef = by_base.get(row.measure)
        if mdef is None or row.period_end not in isos:
            continue
        counted = not (_na(row.numerator) or _na(row.denominator))
        value = mdef.scale * row.numerator / row.denominator if counted else row.value
        if _na(value):
            continue
        recs.append({"measure": mdef.key, "period_end": row.period_end, "value": float(value),
                     "numerator": row.numerator, "denominator": row.denominator, "basis": BASIS[row.origin],
                     "note": row.note, "source": row.source, "window": _window(mdef, Period.parse(row.period_end))})
    return pd.DataFrame(recs, columns=["measure", "period_end", "value", "numerator", "denominator", "basis",
                                       "note", "source", "window"])
