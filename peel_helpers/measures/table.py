"""One long results table: every force (plus England and Wales) × measure × period, with each
value's basis beside it. Every table, chart, alt text, ledger row and HTML page reads from it.

``results(forces=None, measures=None, periods=None)`` returns the rows asked for. Columns:

========================  ============================================================================
force                     force name; for aggregate rows "England and Wales", or "N of 43 forces"
                          when the sum covers fewer forces than the rules allow
area                      "force" or "aggregate"
measure, period_end       registry key (``peel_helpers.measures.MEASURES``); ISO date of the period end
value                     the number shown (NA when there is none)
numerator, denominator    the counts behind it, where known
unit                      the measure's unit
basis                     reproduced | published | supplied | partial_window | not_available
status, reason            ok | partial | excluded | missing, and why a value is missing or partial
flag                      a list of caveats that qualify a value, each a separate string (population
                          base, estimated counts, negative counts in the source that change the
                          value shown, ...); an aggregate lists the caveats of the force values it
                          sums. Render with ``core.text.flags_text``; never split a flag on "; "
note                      how the value was obtained (e.g. "published rate, shown as given")
window                    what the value covers ("12 months to 30 June 2017", "April–June 2017 only:
                          1 of 4 quarters", "year ending 31 March 2017")
population_year           the ONS mid-year estimate used, for rates per head
n_forces, excluded        aggregate rows: how many forces are summed; which were left out and why
source                    file names with sha256, or the published report
ci_low, ci_high           the 95% interval of ``value`` (same unit), for rows with counts
                          (:mod:`peel_helpers.measures.intervals`)
ci_method                 how it was computed, or why there is none ("no counts: published value")
vs_ew                     force rows: above | below | within the usual spread between forces around
                          England and Wales (99.8% funnel limits widened by the between-force
                          variance), or not_compared (:mod:`peel_helpers.measures.funnel`)
vs_ew_chance              the same against chance alone (99.8% limits of the count's chance variation)
vs_ew_centre              the value the force is compared with: England and Wales (for a rate per
                          head, without the City of London)
vs_ew_low, vs_ew_high     the 99.8% limits of ``vs_ew`` at the force's own denominator, in the value's unit
vs_ew_chance_low, _high   the 99.8% limits of chance alone at the force's own denominator
vs_ew_method              the limits, the between-force variance and the forces behind it, or why
                          the value is not compared
========================  ============================================================================

The whole table (every period any source covers) is built once per set of inputs and cached, in
memory and as parquet beside the data cache (``results-<key>.parquet``, written through
:mod:`peel_helpers.core.records`). Its key holds the recorded sha256 of the data-cache tables it is made
from (:data:`RESULTS_TABLES`), of the rules files and of the data-return files in use, and the hash of
the code that computes it (:data:`peel_helpers.core.contract.RESULTS_LAYERS`: editing the runner or the
reports does not invalidate it). A cached file is used only if its bytes are the ones recorded for that
key; anything else is built again. An edited input takes effect on the next call, without a restart.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from .. import data
from ..core import records
from ..core.contract import RESULTS_LAYERS, layers_sha256
from ..core.errors import ParameterError, PeriodError
from ..core.files import sha256_file
from ..core.forces import FORCE_NAMES, resolve
from ..core.paths import PACKAGE_DIR, processed_dir
from ..core.periods import DEFAULT_PERIODS, Period
from ..core.text import ENGLAND_AND_WALES, flag_items
from . import aggregate, asb, crime, datareturn, funnel, intervals, outcomes, returned, rules
from .registry import MEASURES, measure

STRING, FLOAT, INT, FLAGS = "string", "Float64", "Int64", "object"
COLUMNS: dict[str, str] = {
    "force": STRING, "area": STRING, "measure": STRING, "period_end": STRING, "value": FLOAT,
    "numerator": FLOAT, "denominator": FLOAT, "unit": STRING, "basis": STRING, "status": STRING,
    "reason": STRING, "flag": FLAGS, "note": STRING, "window": STRING, "population_year": INT,
    "n_forces": INT, "excluded": STRING, "source": STRING,
    "ci_low": FLOAT, "ci_high": FLOAT, "ci_method": STRING, "vs_ew": STRING, "vs_ew_chance": STRING,
    "vs_ew_centre": FLOAT, "vs_ew_low": FLOAT, "vs_ew_high": FLOAT, "vs_ew_chance_low": FLOAT,
    "vs_ew_chance_high": FLOAT, "vs_ew_method": STRING,
}
BUILDERS = {"recorded_crime": crime, "outcomes": outcomes, "asb_incidents": asb, "data_return": returned}

# The data-cache tables the builders read: the results cache is keyed by their recorded sha256.
RESULTS_TABLES = ("recorded_crime", "population", "asb", "outcomes")
RESULTS_FORMAT = "2"        # 2: written through core.records, keyed by the tables' bytes
CODE_DIR = PACKAGE_DIR      # whose RESULTS_LAYERS the key hashes

_MEMO: dict[str, pd.DataFrame] = {}


# --------------------------------------------------------------------------- building

def covered_periods() -> list[Period]:
    """Every period at least one source covers, plus the report's windows and their comparisons."""
    found = set(DEFAULT_PERIODS) | {p.previous for p in DEFAULT_PERIODS}
    for module in BUILDERS.values():
        found |= set(module.periods())
    return sorted(found)


def _negatives(table: pd.DataFrame) -> pd.DataFrame:
    """Flag values whose own count includes negative source rows that change the value shown (or make it
    negative). The rows are kept as published. Negative rows in the base alone are not flagged: the
    base is offences recorded, net of those adjustments, as the Home Office defines it."""
    if "numerator_negative" not in table:
        return table
    num_neg = table["numerator_negative"].astype("Float64").fillna(0)
    scale = table["measure"].map({k: m.scale for k, m in MEASURES.items()}).astype(float)
    clipped = (table["numerator"] - num_neg) * scale / table["denominator"]
    decimals = table["measure"].map({k: m.decimals for k, m in MEASURES.items()})
    shown = [round(v, d) if pd.notna(v) else np.nan for v, d in zip(table["value"], decimals)]
    without = [round(v, d) if pd.notna(v) else np.nan for v, d in zip(clipped, decimals)]
    changed = [n != 0 and pd.notna(a) and (a != b or a < 0) for n, a, b in zip(num_neg, shown, without)]
    notes = [f"the count includes negative rows in the source (summing to {n:,.0f}; kept as published); "
             f"without them it would read {w:.{d}f}" if c else pd.NA
             for c, n, w, d in zip(changed, num_neg, without, decimals)]
    table["flag"] = rules.merge_flags(table["flag"], notes)
    return table.drop(columns=["numerator_negative", "denominator_negative"])


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    for col, dtype in COLUMNS.items():
        if col not in table:
            table[col] = pd.NA
        values = table[col]
        if dtype == FLAGS:
            table[col] = [flag_items(v) for v in values]
            continue
        if dtype in (FLOAT, INT):
            values = pd.to_numeric(values.astype(object).where(values.notna(), None), errors="coerce")
        table[col] = values.astype(dtype)
    return table[list(COLUMNS)]


def _order(table: pd.DataFrame) -> pd.DataFrame:
    force_rank = {f: i for i, f in enumerate(FORCE_NAMES)}
    measure_rank = {k: i for i, k in enumerate(MEASURES)}
    key = pd.DataFrame({"m": table["measure"].map(measure_rank), "p": table["period_end"],
                        "a": (table["area"] == "aggregate").astype(int),
                        "f": table["force"].map(force_rank).fillna(99)})
    return table.iloc[np.lexsort([key["f"], key["a"], key["p"], key["m"]])].reset_index(drop=True)


def build(periods: list[Period]) -> pd.DataFrame:
    """Compute the table for ``periods`` (every measure), uncached."""
    families: dict[str, list] = {}
    for mdef in MEASURES.values():
        families.setdefault(mdef.computes, []).append(mdef)
    forces = pd.concat([BUILDERS[name].rows(defs, periods) for name, defs in families.items()], ignore_index=True)
    forces["area"] = "force"
    forces = rules.apply(forces)
    sums = aggregate.rows(forces, returned.published_aggregates(families["data_return"], periods))
    table = _negatives(pd.concat([forces, sums], ignore_index=True))
    table["unit"] = table["measure"].map({k: m.unit for k, m in MEASURES.items()})
    return _order(_typed(funnel.compare(intervals.add(table))))


# --------------------------------------------------------------------------- caching

def _inputs() -> dict[str, str]:
    """Everything the table is made from, by name -> sha256: the data-cache tables' parquet files (their
    recorded sha256), the rules files, the data-return files in use and the code of RESULTS_LAYERS."""
    out = dict(data.table_files(RESULTS_TABLES))
    for path in (rules.EXCLUSIONS_PATH, rules.CAVEATS_PATH):
        out[f"rules: {path.name}"] = sha256_file(path)
    for item in datareturn.files():
        out[f"data return ({item['origin']}): {item['filename']}"] = item["sha256"]
    out[f"code: {', '.join(RESULTS_LAYERS)}"] = layers_sha256(RESULTS_LAYERS, CODE_DIR)
    return out


def _key(inputs: dict[str, str]) -> str:
    return records.fingerprint(RESULTS_FORMAT, *(f"{name}={sha}" for name, sha in sorted(inputs.items())))


def cache_key() -> str:
    """Changes whenever anything behind the table does: the bytes of the data-cache tables it reads,
    the data-return files, the rules, the code of the results layers."""
    return _key(_inputs())


def _cache_path(key: str):
    return processed_dir() / f"results-{key[:20]}.parquet"


def _read_cached(key: str) -> pd.DataFrame | None:
    """The cached table for ``key`` if its bytes are the ones recorded for that key; else None."""
    raw = records.verified_bytes(_cache_path(key), key)
    if raw is None:
        return None
    try:
        table = pd.read_parquet(io.BytesIO(raw))
        table["flag"] = [flag_items(v) for v in table["flag"]]   # parquet lists come back as arrays
    except (*data.UNREADABLE, KeyError):
        return None
    return table


def _full() -> pd.DataFrame:
    inputs = _inputs()
    key = _key(inputs)
    if key in _MEMO:
        return _MEMO[key]
    table = _read_cached(key)
    if table is None:     # not built yet, removed by another process, damaged, or made from other bytes
        table = build(covered_periods())
        if _inputs() == inputs:      # nothing changed under the build (another process rebuilding a table)
            records.write(_cache_path(key), lambda tmp: table.to_parquet(tmp, index=False), made_from=key,
                          inputs=inputs, kind="results table")
            _prune(keep=4)
    _MEMO.clear()
    _MEMO[key] = table
    return table


def _prune(keep: int) -> None:
    """Keep the ``keep`` newest cached tables (other input sets, e.g. another data-return file)."""
    def mtime(path):
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    for old in sorted(processed_dir().glob("results-*.parquet"), key=mtime, reverse=True)[keep:]:
        records.withdraw(old)


def clear_caches() -> None:
    """Forget the in-memory table (the parquet copy is keyed by its inputs and stays valid)."""
    _MEMO.clear()


# --------------------------------------------------------------------------- public API

def _as_list(value) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, (str, Period)) or not hasattr(value, "__iter__") else list(value)


# What to pass instead of an empty list, by argument.
_INSTEAD = {
    "forces": "pass None for every force, forces=['England and Wales'] for the England and Wales rows only, or "
              "aggregates=False to leave those out",
    "measures": "pass None for every measure, or registry keys such as ['recorded_crime_per_1000'] "
                "(peel_helpers.MEASURES lists them)",
    "periods": "pass None for every period the data cover, or period ends such as ['2017-06-30']",
}


def _wanted(name: str, value) -> list | None:
    """``value`` as a list, None for None; an empty list is refused: it would ask for no rows at all."""
    if value is None:
        return None
    items = _as_list(value)
    if not items:
        raise ParameterError(f"{name}=[] asks for no {name} at all, so the result would hold no rows: {_INSTEAD[name]}.")
    return items


def _periods(values: list, covered: list[Period]) -> list[Period]:
    wanted = [Period.parse(v) for v in values]
    for period in wanted:
        if period not in covered:
            raise PeriodError(f"No source covers the {period.label}: the data cover period ends "
                              f"{covered[0].iso} to {covered[-1].iso} (not every quarter before 2007). "
                              "Pick a quarter end inside that range.")
    return wanted


def check_periods(periods) -> list[Period]:
    """``periods`` (period ends in any spelling :meth:`Period.parse` takes) as Periods, each one a source
    covers; else a one-line :class:`PeriodError` naming the range the data cover. Reads only the sources'
    coverage: no results are computed (the batch runner checks its periods with this before it starts)."""
    return _periods(_wanted("periods", periods), covered_periods())


def results(forces=None, measures=None, periods=None, *, aggregates: bool = True) -> pd.DataFrame:
    """The results table (see the module docstring), narrowed to ``forces`` (names in any spelling, or
    "England and Wales"), ``measures`` (registry keys) and ``periods`` (period ends); ``None`` means all,
    and an empty list is an error (it would ask for nothing). England and Wales rows are included unless
    ``aggregates=False``; ``forces=["England and Wales"]`` gives only them."""
    forces, measures, periods = _wanted("forces", forces), _wanted("measures", measures), _wanted("periods", periods)
    keys = list(MEASURES) if measures is None else [measure(m).key for m in measures]
    names = None if forces is None else \
        [resolve(f).name for f in forces if str(f).strip().lower() != "england and wales"]
    table = _full()
    covered = sorted({Period.parse(p) for p in table["period_end"].unique()})
    wanted = _periods(periods, covered) if periods is not None else covered
    isos = [p.iso for p in wanted]
    mask = table["measure"].isin(keys) & table["period_end"].isin(isos)
    area = (table["area"] == "force") if names is None else table["force"].isin(names)
    if aggregates:
        area |= table["area"] == "aggregate"
    else:
        area &= table["area"] == "force"
    return table[mask & area].reset_index(drop=True)


def aggregate_row(rows: pd.DataFrame) -> pd.Series | None:
    """The aggregate row to show for one measure and period: "England and Wales" when there is one
    (a sum over every allowed force, or the published value), else the sum over fewer forces."""
    aggs = rows[rows["area"] == "aggregate"]
    if aggs.empty:
        return None
    return aggs.sort_values("force", key=lambda s: s != ENGLAND_AND_WALES, kind="stable").iloc[0]


def value(measure_key: str, force: str, period) -> pd.Series:
    """One row of the table: a force's (or "England and Wales"'s) value with its basis and reasons."""
    iso = Period.parse(period).iso
    if str(force).strip().lower() == "england and wales":
        row = aggregate_row(results(measures=[measure_key], periods=[iso], forces=[ENGLAND_AND_WALES]))
        if row is None:
            raise ParameterError(f"No result for {force!r}, {measure_key}, {iso}.")
        return row
    else:
        name = resolve(force).name
        rows = results(forces=[name], measures=[measure_key], periods=[iso], aggregates=False)
    if rows.empty:
        raise ParameterError(f"No result for {force!r}, {measure_key}, {iso}.")
    return rows.iloc[0]
