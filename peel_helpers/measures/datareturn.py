"""The HMICFRS data-return input: counts and rates that only HMICFRS's own collection holds.

Calls for assistance, domestic abuse-related calls and offences, domestic abuse arrests, ASB powers
used, organised crime groups and European arrest warrants are not open data. They are read from
one small input table:

* ``data/published/data_return.csv`` (in the repository) holds only values the report text prints;
  its rows have origin ``published``;
* a user who holds HMICFRS's data adds a CSV in the same layout, named by ``PEEL_DATA_RETURN`` or
  placed at ``data/input/data_return.csv``; its rows have origin ``user`` and win over published ones.

Layout (``data/input/README.md``): ``force, period_end, measure, numerator, denominator, value,
unit, source, note``. Every row is checked (one-line errors naming the file and row): force,
period, measure, numbers, the unit against the measure, a value against its own numerator and
denominator, and the rate a row gives against the measure's possible range in the registry (a
share over 100%, a count typed into the wrong column); a rate that is possible but implausible
(0.12 for a 12% share) is a warning naming the row. :func:`load` caches the table by the files'
sha256, so an edited file takes effect in a running kernel without a restart.
"""

from __future__ import annotations

import math
import os
import stat
import sys
import warnings
from pathlib import Path

import pandas as pd

from ..core.errors import DataFileError, PeriodError, SchemaError, UnknownForceError
from ..core.forces import resolve
from ..core.files import sha256_file
from ..core.paths import PUBLISHED_DIR, REPO_DATA_DIR
from ..core.periods import Period
from ..core.text import ENGLAND_AND_WALES
from .registry import BASE_MEASURES, MEASURES, plain, range_problem, suggest

PUBLISHED_PATH = PUBLISHED_DIR / "data_return.csv"
USER_PATH = REPO_DATA_DIR / "input" / "data_return.csv"
ENV_VAR = "PEEL_DATA_RETURN"
COLUMNS = ["force", "period_end", "measure", "numerator", "denominator", "value", "unit", "source", "note"]
NUMBER_COLUMNS = ["numerator", "denominator", "value"]
LAYOUT = "see data/input/README.md"
MISSING_REASON = "not public: HMICFRS data return (supply data/input/data_return.csv or set PEEL_DATA_RETURN)"
# A return has one row per force, period and measure: every force, every measure and every quarter
# end from 2003 to 2030 is about 60,000 rows, under 10 MB even with long notes. A larger file cannot
# be a return; it is refused before it is read (a 200 MB file took about a minute and 4 GB of memory
# to reach its first duplicate row).
MAX_BYTES = 10_000_000
# Other spellings of a measure's rate unit that the published table uses.
UNIT_ALIASES = {"da_arrests": ("per 100 domestic abuse-related offences",)}


class ImplausibleValueWarning(UserWarning):
    """A data-return value that is possible but outside its measure's plausible range."""


def user_file() -> Path | None:
    """The user's file: ``$PEEL_DATA_RETURN`` if set (it must be a regular file), else
    ``data/input/data_return.csv`` if present, else None."""
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        _regular_file(path, f"{ENV_VAR} names {path}", "or unset it")
        return path.resolve()
    if not os.path.lexists(USER_PATH):
        return None
    _regular_file(USER_PATH, str(USER_PATH), "or remove it")
    return USER_PATH


def _regular_file(path: Path, what: str, other: str) -> None:
    """A one-line error unless ``path`` is a regular file (a folder, a device or a named pipe is not one:
    reading a pipe would wait for a writer)."""
    layout = "a CSV file in the layout of data/input/README.md"
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DataFileError(f"{what}, which does not exist: point it at {layout}, {other}.") from None
    except OSError as err:
        raise DataFileError(f"{what}, which cannot be read ({err.strerror}): point it at {layout}, {other}.") from None
    if stat.S_ISDIR(mode):
        raise DataFileError(f"{what}, which is a folder, not a file: point it at the data-return CSV inside it "
                            f"({layout}), {other}.")
    if not stat.S_ISREG(mode):
        raise DataFileError(f"{what}, which is not a regular file (a device or a named pipe): point it at {layout}, "
                            f"{other}.")


# --------------------------------------------------------------------------- one row

def _number(text, where: str, column: str) -> float | None:
    if text is None or pd.isna(text) or str(text).strip() == "":
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


def _force(text, where: str) -> str:
    raw = str(text or "").strip()
    if not raw:
        raise SchemaError(f"{where}: force is empty; give a force name or 'England and Wales'.")
    if raw.lower() in ("england and wales", "england & wales", "e&w"):
        return ENGLAND_AND_WALES
    try:
        return resolve(raw).name
    except UnknownForceError as err:
        raise UnknownForceError(f"{where}: {err}") from None


def _measure(text, where: str) -> str:
    name = str(text or "").strip().lower()
    if name not in BASE_MEASURES:
        raise SchemaError(f"{where}: unknown measure {text!r}; did you mean {suggest(name, BASE_MEASURES)}? "
                          f"Allowed: {', '.join(BASE_MEASURES)}.")
    return name


def _unit(text, name: str, nums: dict, where: str) -> str:
    """The row's unit, checked against the measure: the rate unit for a value, the count unit for a count."""
    mdef = MEASURES[BASE_MEASURES[name]]
    rate_units = (mdef.unit,) + UNIT_ALIASES.get(name, ())
    count_units = (mdef.count_unit, "count", "number")
    given = " ".join(str(text or "").split())
    if not given:
        return mdef.unit if nums["value"] is not None else mdef.count_unit
    accepted = rate_units if nums["value"] is not None else count_units
    if given.lower() not in {u.lower() for u in accepted}:
        what = "value (a rate)" if nums["value"] is not None else "count"
        raise SchemaError(f"{where}: unit {given!r} does not fit the {what} of {name}: use {accepted[0]!r} "
                          "or leave unit empty.")
    return given


def _consistent(name: str, nums: dict, where: str) -> None:
    """A value given with its own numerator and denominator must agree with them (to the rounding
    of a value published to one decimal place)."""
    num, den, value = nums["numerator"], nums["denominator"], nums["value"]
    if None in (num, den, value):
        return
    mdef = MEASURES[BASE_MEASURES[name]]
    implied = mdef.scale * num / den
    if abs(implied - value) > 0.05 + 1e-9 * abs(value):
        raise SchemaError(f"{where}: value {value:g} disagrees with numerator/denominator {num:g}/{den:g}, which give "
                          f"{implied:.2f} {mdef.unit}; correct one of them, or leave value empty.")


def _row(rec: dict, where: str) -> dict:
    force = _force(rec.get("force"), where)
    try:
        period = Period.parse(rec.get("period_end"))
    except PeriodError as err:
        raise PeriodError(f"{where}: {err}") from None
    name = _measure(rec.get("measure"), where)
    nums = {c: _number(rec.get(c), where, c) for c in NUMBER_COLUMNS}
    if nums["numerator"] is None and nums["value"] is None:
        raise SchemaError(f"{where}: give a numerator (the count) or a value (the published rate) for {name}.")
    if nums["denominator"] == 0 and nums["numerator"] is not None:
        raise SchemaError(f"{where}: denominator is 0; leave it empty to use the default base, or give the real base.")
    if force == ENGLAND_AND_WALES and nums["value"] is None and nums["denominator"] is None:
        raise SchemaError(f"{where}: an England and Wales {name} row with a numerator alone has no base to divide by "
                          "(the England and Wales rate leaves out the forces Annex A lists, so no default applies): "
                          "fill in value (the published rate) or denominator (the base the count is over), or give "
                          "the forces' rows instead and the project sums them.")
    _consistent(name, nums, where)
    return {"force": force, "period_end": period.iso, "measure": name, **nums,
            "unit": _unit(rec.get("unit"), name, nums, where),
            "source": str(rec.get("source") or "").strip() or pd.NA,
            "note": str(rec.get("note") or "").strip() or pd.NA, "where": where}


# --------------------------------------------------------------------------- ranges

def rate_problem(name: str, rate: float, where: str, how: str = "", label: str = "") -> tuple[str, str] | None:
    """("error" or "warning", one-line message naming ``where``) for the rate a row of measure ``name``
    gives, against the measure's range in the registry; None when the rate is in range. The message
    names ``label`` when given (several rows whose sum gives the rate), else ``name``."""
    found = range_problem(MEASURES[BASE_MEASURES[name]], rate)
    if found is None:
        return None
    kind, text = found
    rows = "rows" if label else "row"
    fix = f"correct the {rows} (or leave {'them' if label else 'it'} out)" if kind == "error" else f"check the {rows}"
    return kind, f"{where}: {label or name} {how}gives {text}; {fix}."


def _row_rates(table: pd.DataFrame):
    """(name, rate, where, how) for every row whose rate the input alone determines: a value, a
    numerator over its own denominator, or a count over another count of the same force and period
    in the input (domestic abuse calls over calls for assistance, arrests over offences)."""
    counts = table[table["numerator"].notna()].set_index(["force", "period_end", "measure"])
    for row in table.itertuples(index=False):
        mdef = MEASURES[BASE_MEASURES[row.measure]]
        if not _na(row.value):
            yield row.measure, float(row.value), row.where, ""
        elif not _na(row.numerator) and not _na(row.denominator) and row.denominator:
            yield row.measure, mdef.scale * row.numerator / row.denominator, row.where, \
                f"{plain(row.numerator)} over {plain(row.denominator)} "
        elif not _na(row.numerator) and (row.force, row.period_end, mdef.denominator) in counts.index:
            base = counts.loc[(row.force, row.period_end, mdef.denominator)]
            if base["numerator"]:
                yield row.measure, mdef.scale * row.numerator / base["numerator"], row.where, \
                    f"{plain(row.numerator)} over {mdef.denominator} {plain(base['numerator'])} ({base['where']}) "


def range_problems(table: pd.DataFrame) -> list[tuple[str, str]]:
    """Every range error and warning of the rows of ``table`` (see :func:`rate_problem`)."""
    found = [rate_problem(*args) for args in _row_rates(table)]
    return [p for p in found if p is not None]


def _raise_range_errors(table: pd.DataFrame) -> list[str]:
    """Raise the first range error as a one-line :class:`SchemaError`; return the warnings."""
    problems = range_problems(table)
    for kind, message in problems:
        if kind == "error":
            raise SchemaError(message)
    return [message for _, message in problems]


def _na(x) -> bool:
    return x is None or pd.isna(x)


# --------------------------------------------------------------------------- files

def validate(frame: pd.DataFrame, name: str, origin: str) -> pd.DataFrame:
    """Check a raw table and return it typed, with canonical names and ISO period ends. Raises a
    one-line :class:`~peel_helpers.core.errors.PeelError` naming the file and row."""
    frame = frame.rename(columns=lambda c: str(c).strip().lower())
    missing = [c for c in ("force", "period_end", "measure") if c not in frame.columns]
    if missing or not {"numerator", "value"} & set(frame.columns):
        need = ", ".join(missing or ["numerator or value"])
        raise SchemaError(f"{name} is missing column(s) {need}: the layout is {', '.join(COLUMNS)} ({LAYOUT}).")
    unknown = [c for c in frame.columns if c not in COLUMNS]
    if unknown:
        raise SchemaError(f"{name} has unknown column(s) {', '.join(unknown)}: use only {', '.join(COLUMNS)} ({LAYOUT}).")
    rows = [_row(rec, f"{name} row {i}") for i, rec in enumerate(frame.to_dict("records"), start=2)]
    out = pd.DataFrame(rows, columns=COLUMNS + ["where"])
    dup = out.duplicated(["force", "period_end", "measure"], keep=False)
    if dup.any():
        first = out[dup].iloc[0]
        raise SchemaError(f"{name} has more than one row for {first['force']}, {first['period_end']}, "
                          f"{first['measure']}: keep one row per force, period and measure.")
    out["origin"] = origin
    out = _typed(out)
    _raise_range_errors(out)
    return out


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    out = out.copy()
    for col in ("force", "period_end", "measure", "unit", "source", "note", "origin", "where"):
        out[col] = out[col].astype("string")
    for col in NUMBER_COLUMNS:
        out[col] = pd.to_numeric(out[col]).astype("Float64")
    return out.reset_index(drop=True)


def read_file(path: Path, origin: str = "user") -> pd.DataFrame:
    """Read and validate one data-return CSV; an empty, unreadable or oversized file is a one-line error."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise DataFileError(f"{path.name} is {size / 1e6:,.0f} MB, larger than any data return ({MAX_BYTES / 1e6:.0f} MB "
                            "holds a row for every force, measure and quarter end from 2003 to 2030): keep one row "
                            f"per force, period and measure ({LAYOUT}).")
    try:
        raw = pd.read_csv(path, dtype="string", keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataFileError(f"{path.name} is empty: it needs a header row ({', '.join(COLUMNS)}) and one row per "
                            f"force, period and measure ({LAYOUT}).") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataFileError(f"Cannot read {path.name} as CSV ({type(err).__name__}): save it as UTF-8 CSV with a header "
                            f"row ({LAYOUT}).") from None
    return validate(raw, path.name, origin)


def files() -> list[dict]:
    """The data-return files in use: origin, path and sha256 (for provenance and cache keys)."""
    out = []
    for path, origin in ((PUBLISHED_PATH, "published"), (user_file(), "user")):
        if path is not None:
            out.append({"origin": origin, "path": Path(path), "filename": Path(path).name, "sha256": _sha(path)})
    return out


_SHA: dict[tuple, str] = {}
_TABLES: dict[tuple, pd.DataFrame] = {}


def _sha(path: Path) -> str:
    """sha256 of ``path``, recomputed only when its size or modification time changes."""
    st = Path(path).stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SHA:
        _SHA[key] = sha256_file(path)
    return _SHA[key]


def load() -> pd.DataFrame:
    """The data-return table: published rows, overlaid by the user's file where one is supplied.

    Columns: force, period_end (ISO), measure, numerator, denominator, value, unit, source, note, origin,
    where ("file row N"). Cached by the files' sha256. A rate out of its possible range is a one-line
    error; an implausible one an :class:`ImplausibleValueWarning`, given when the files are read."""
    in_use = files()
    key = tuple((f["origin"], str(f["path"]), f["sha256"]) for f in in_use)
    if key not in _TABLES:
        parts = [read_file(f["path"], f["origin"]) for f in in_use]
        both = _typed(pd.concat(parts, ignore_index=True).drop_duplicates(["force", "period_end", "measure"],
                                                                            keep="last"))
        for message in _raise_range_errors(both):  # counts over counts across the two files too
            warnings.warn(message, ImplausibleValueWarning, stacklevel=2)
        _TABLES.clear()
        _TABLES[key] = both
    return _TABLES[key].copy()


def check() -> str | None:
    """Validate the user's file now (the batch runner calls this once before it starts). Returns its
    name, or None when no file is supplied; raises the one-line error otherwise."""
    path = user_file()
    if path is None:
        return None
    read_file(path, "user")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImplausibleValueWarning)   # printed below, one line each
        table = load()
    for _, message in range_problems(table):   # load() raised the errors: these are warnings
        print(f"warning: {message}", file=sys.stderr)
    return path.name
