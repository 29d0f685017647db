"""The tidy parquet cache that notebooks read: ``load(table)``.

How it works
------------
* ``build_cache()`` fetches and verifies the source files (:mod:`peel_helpers.data.fetch`), runs the
  readers (:mod:`peel_helpers.data.readers`) and writes one parquet file per table under
  ``processed_dir()``. A table is rebuilt only when its key changes; the key is a hash of the
  cache format, the reader version and the sha256 of every input file behind the table.
* Every file of the cache is written through :mod:`peel_helpers.core.records` (one mechanism for every
  file the project generates): each table's parquet file gets a record holding the sha256 of the bytes
  written, the table's key (``made_from``), the input files and their sha256, its rows, the source
  files it was actually built from and its coverage. The state file (``cache.json``: which file holds
  each table, and the size and modification time of each input at build time) is written the same way,
  after the tables, and only when it changes.
* **A table's bytes are checked against its record whenever they are read**: a warm ``load()`` (in a
  notebook kernel too) reads the parquet file once, compares the sha256 of those bytes with the record
  and parses the same bytes. A file truncated, overwritten, or changed in one byte with its size and
  modification time kept is not trusted: the table is rebuilt, then read; if it still cannot be read,
  one line says what to run. ``build_cache()`` checks every table file the same way.
* Input files: ``build_cache()`` (so ``peel-reports data`` and ``build``) hashes every input file again
  each time it runs (about 6 MB: milliseconds), so a file changed in place with its size and
  modification time kept is caught. A warm ``load()`` does not rehash the inputs, because it runs
  dozens of times in every notebook: it compares each input's size and modification time with those
  recorded at build time, and rehashes only a file whose stat changed.
* Optional official outcomes workbooks (not in the offline mirror) are used when they are in
  ``raw_dir()`` or the mirror, or could be downloaded (2015/16-2017/18 are tried whenever the build
  runs and the network can be reached): each financial year comes from one file, the newest release.
  A download that fails changes nothing: tables are keyed by the files actually present.
* ``population`` combines Table P9 (mid-2002..2016) and Table P3 of the year ending June 2018
  tables (mid-2017); ``ons_published`` holds ONS's own P1/P3 figures for cross-checks.
* Other files in the folder (the results table's cache, :mod:`peel_helpers.measures.table`) are left
  alone; that cache is keyed by the recorded sha256 of the tables it was made from.

Run ``python -m peel_helpers.data`` to build the cache and print a summary.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from . import fetch
from . import manifest
from . import schemas
from ..core import records
from ..core.files import sha256_text
from ..core.errors import DataFileError, ParameterError
from .manifest import SourceFile
from ..core.paths import processed_dir, raw_dir
from ..core.periods import FinancialQuarter
from .readers import READER_VERSION
from .tables import build_table, coverage_of

CACHE_FORMAT = 2          # 2: every file written through core.records
STATE_FILE = "cache.json"
TABLES = schemas.TABLES

_MEMO: dict[str, pd.DataFrame] = {}   # parquet path -> frame, for repeated loads in one process


def _unreadable() -> tuple[type[BaseException], ...]:
    """What reading a damaged parquet file raises (pyarrow's errors, or an OS or value error)."""
    try:
        from pyarrow.lib import ArrowException
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return (OSError, ValueError)
    return (OSError, ValueError, ArrowException)


UNREADABLE = _unreadable()


# ---------------------------------------------------------------------------------------------
# Which inputs feed which table

def _expected_inputs() -> dict[str, SourceFile]:
    """Required files, plus optional ones that are already on disk (raw_dir or mirror)."""
    out = {}
    for key, sf in manifest.load_manifest().items():
        if sf.required or (sf.tables and fetch.is_available(key)):
            out[key] = sf
    return out


def _outcome_sources(inputs: dict[str, SourceFile]) -> list[SourceFile]:
    return [sf for sf in inputs.values() if "outcomes" in sf.tables]


def _table_inputs(table: str, inputs: dict[str, SourceFile]) -> list[SourceFile]:
    """The files behind ``table`` among ``inputs`` (the files present), in manifest order."""
    return [inputs[sf.key] for sf in manifest.for_table(table) if sf.key in inputs]


def _table_key(table: str, sources: list[SourceFile]) -> str:
    return sha256_text(f"{CACHE_FORMAT}", READER_VERSION, table,
                       *(f"{sf.key}={sf.sha256}" for sf in sorted(sources, key=lambda s: s.key)))


# ---------------------------------------------------------------------------------------------
# State file and atomic writes

def _state_path() -> Path:
    return processed_dir() / STATE_FILE


def _read_state() -> dict | None:
    """The state file, if its bytes are the ones recorded when it was written and its format current."""
    raw = records.verified_bytes(_state_path())
    try:
        state = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    if not isinstance(state, dict) or state.get("format") != CACHE_FORMAT or state.get("reader_version") != READER_VERSION:
        return None
    return state


def _table_path(table: str, key: str) -> Path:
    return processed_dir() / f"{table}-{key[:16]}.parquet"


@contextmanager
def _build_lock():
    """Serialise builds between processes (parallel notebook runs); no-op where flock is missing."""
    folder = processed_dir()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    with open(folder / ".build.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _stat_record(sf: SourceFile, path: Path) -> dict:
    st = path.stat()
    return {"filename": sf.filename, "sha256": sf.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


# ---------------------------------------------------------------------------------------------
# Staleness

def _stale_reason(state: dict | None, deep: bool = False) -> str | None:
    """Why the cache must be (partly) rebuilt, or None if it is fresh. Never rehashes unchanged input
    files; ``deep`` (what ``build_cache`` uses) also checks every table file's bytes against its record
    (they are small). ``load()`` checks the bytes of the file it reads."""
    if state is None:
        return "no cache yet"
    expected = _expected_inputs()
    recorded = state.get("inputs", {})
    if set(expected) != set(recorded):
        return "the set of input files changed"
    for key, sf in expected.items():
        rec = recorded[key]
        if rec.get("sha256") != sf.sha256:
            return f"{sf.filename} is pinned to a new sha256 in the manifest"
        path = raw_dir() / sf.filename
        try:
            st = path.stat()
        except FileNotFoundError:
            return f"{sf.filename} is missing from {raw_dir()}"
        if st.st_size != rec.get("size") or st.st_mtime_ns != rec.get("mtime_ns"):
            if fetch.verified_sha256(path) != sf.sha256:
                return f"{sf.filename} changed on disk"
    tables = state.get("tables", {})
    for table in TABLES:
        entry = tables.get(table)
        if not entry or entry.get("key") != _table_key(table, _table_inputs(table, expected)):
            return f"table {table} is out of date"
        path = processed_dir() / entry["file"]
        if not path.is_file():
            return f"table {table} is missing"
        if deep and not records.trusted(path, entry["key"]):
            return f"the cache file of table {table} is damaged"
    return None


def _fresh_state() -> dict:
    """The cache state, building whatever is stale first."""
    state = _read_state()
    if _stale_reason(state) is not None:
        build_cache()
        state = _read_state()
        if state is None:  # pragma: no cover - build_cache always writes it
            raise DataFileError(f"The data cache in {processed_dir()} could not be written: check the folder "
                                "is writable, then run `make data`.")
    return state


# ---------------------------------------------------------------------------------------------
# Public API

def _build_stale_tables(inputs: dict[str, SourceFile], paths: dict[str, Path], force: bool,
                        verbose: bool) -> tuple[dict, list[str]]:
    """Table -> state entry (key and file), rebuilding only the tables whose file is not trusted for
    their key (never built, built from other inputs, damaged) or all of them with ``force``."""
    tables, rebuilt = {}, []
    for table in TABLES:
        sources = _table_inputs(table, inputs)
        key = _table_key(table, sources)
        path = _table_path(table, key)
        tables[table] = {"key": key, "file": path.name}
        if not force and records.trusted(path, key):
            continue
        t0 = time.perf_counter()
        frame = build_table(table, sources, paths)
        # the files a table was actually built from (one file may lose every year to a newer release)
        used = sorted(frame["source_key"].unique().tolist()) if "source_key" in frame else [sf.key for sf in sources]
        seconds = round(time.perf_counter() - t0, 3)
        records.write(path, lambda tmp, f=frame: f.to_parquet(tmp, index=False), made_from=key,
                      inputs={sf.filename: sf.sha256 for sf in sources}, kind="data table", table=table,
                      rows=int(len(frame)), used=used, coverage=coverage_of(table, frame), seconds=seconds)
        _forget(path)
        rebuilt.append(table)
        if verbose:
            print(f"  built {table}: {len(frame):,} rows in {seconds:.2f} s", flush=True)
    return tables, rebuilt


def _forget(path: Path) -> None:
    """Drop the frames read from ``path`` from this process's memo."""
    for memo_key in [k for k in _MEMO if k.split("|")[0] == str(path)]:
        _MEMO.pop(memo_key, None)


def _write_state(inputs: dict[str, SourceFile], paths: dict[str, Path], tables: dict, old: dict | None) -> dict:
    """Write cache.json (through core.records, after the tables) when it changed, then delete the tables'
    parquet files no table points to (earlier versions of a table; other caches in the folder, such as
    the results table's, stay)."""
    state = {
        "format": CACHE_FORMAT,
        "reader_version": READER_VERSION,
        "inputs": {key: _stat_record(sf, paths[key]) for key, sf in inputs.items()},
        "tables": tables,
    }
    if state != old:
        text = json.dumps(state, indent=1, sort_keys=True)
        records.write(_state_path(), text, made_from=records.fingerprint(*(e["key"] for e in tables.values())),
                      inputs={sf.filename: sf.sha256 for sf in inputs.values()}, kind="data cache state")
    keep = {entry["file"] for entry in tables.values()}
    for old_file in (f for table in TABLES for f in processed_dir().glob(f"{table}-*.parquet")):
        if old_file.name not in keep:
            records.withdraw(old_file)
            _forget(old_file)
    return state


def _table_record(table: str, state: dict | None = None) -> dict:
    """The record of ``table``'s parquet file (rows, the files it was built from, coverage), building
    the cache first if the record is missing or names another key."""
    state = state or _fresh_state()
    entry = state["tables"][table]
    record = records.read(processed_dir() / entry["file"])
    if record is None or record.get("made_from") != entry["key"]:
        build_cache()
        entry = _fresh_state()["tables"][table]
        record = records.read(processed_dir() / entry["file"])
    if record is None:
        raise DataFileError(f"The data cache in {processed_dir()} has no record of table {table}: delete that folder "
                            "and run `peel-reports data` (or `make data`).")
    return record


def build_cache(force: bool = False, include_optional: bool = False, verbose: bool = False,
                retry_downloads: bool = False, notify=None) -> dict:
    """Fetch and verify inputs, rebuild stale tables. Returns a summary dict:
    ``tables`` (table -> rows), ``rebuilt`` (tables rebuilt this time), ``seconds``, ``inputs``
    (manifest key -> sha256), ``hashed`` (the inputs whose bytes were hashed in this call and
    matched the pin: all of them), ``reason`` (why anything was rebuilt, or None).

    Optional files the default build wants are downloaded when reachable (see
    :func:`peel_helpers.data.fetch.fetch_all`); one that cannot be had is reported once and
    changes nothing: the cache is keyed by the files actually present. ``retry_downloads``
    (what ``make data`` uses) retries the network even if it failed less than an hour ago.
    """
    start = time.perf_counter()
    with _build_lock():
        old = _read_state()
        reason = "forced" if force else _stale_reason(old, deep=True)
        fetched = fetch.fetch_all(include_optional=include_optional, retry=retry_downloads, notify=notify,
                                  rehash=True)
        inputs = _expected_inputs()
        paths = {key: fetched[key] if key in fetched else fetch.fetch(key, rehash=True) for key in inputs}
        tables, rebuilt = _build_stale_tables(inputs, paths, force, verbose)
        state = _write_state(inputs, paths, tables, old)
        rows = {t: records.read(processed_dir() / e["file"])["rows"] for t, e in tables.items()}
    return {
        "tables": rows,
        "rebuilt": rebuilt,
        "reason": reason if rebuilt else None,
        "seconds": round(time.perf_counter() - start, 3),
        "inputs": {key: rec["sha256"] for key, rec in state["inputs"].items()},
        "hashed": {key: inputs[key].sha256 for key in paths},
        "processed_dir": str(processed_dir()),
    }


def _check_table(table: str) -> None:
    if table not in TABLES:
        raise ParameterError(f"Unknown table {table!r}: use one of {', '.join(TABLES)}.")


def load(table: str, columns: list[str] | None = None) -> pd.DataFrame:
    """The tidy table ``table`` from the parquet cache, building the cache first if needed.

    The file's bytes are checked against its record before they are parsed (in every process, notebook
    kernels included); a file that does not match is rebuilt. ``columns`` reads only those columns
    (parquet is columnar), which keeps notebook kernels small: the outcomes table is about 150 MB in
    memory whole and a quarter of that in the six columns the outcome shares need.
    """
    _check_table(table)
    entry = _fresh_state()["tables"][table]
    path = processed_dir() / entry["file"]
    key = str(path) if columns is None else f"{path}|{','.join(columns)}"
    if key not in _MEMO:
        frame = _read_checked(path, entry["key"], columns)
        if frame is None:      # damaged (truncated, overwritten, one byte changed): rebuild it, read it again
            return _load_rebuilt(table, columns)
        _MEMO[key] = frame
    # pandas 3 copy-on-write: a shallow copy protects the memo from the caller's edits.
    return _MEMO[key].copy(deep=False)


def _read_checked(path: Path, key: str, columns: list[str] | None) -> pd.DataFrame | None:
    """The table in ``path`` if its bytes are the ones recorded for ``key`` and parse; else None."""
    raw = records.verified_bytes(path, key)
    if raw is None:
        return None
    try:
        return pd.read_parquet(io.BytesIO(raw), columns=columns)
    except UNREADABLE:
        return None


def _load_rebuilt(table: str, columns: list[str] | None) -> pd.DataFrame:
    """``load`` after the table's cache file did not match its record or could not be read: rebuild
    what is damaged, read again; if it still cannot be read, one line saying what to run."""
    build_cache()
    entry = _fresh_state()["tables"][table]
    path = processed_dir() / entry["file"]
    frame = _read_checked(path, entry["key"], columns)
    if frame is None:
        raise DataFileError(f"The data cache file {path.name} in {path.parent} cannot be read, or does not match its "
                            "record, even after a rebuild: delete that folder and run `peel-reports data` "
                            "(or `make data`).")
    return frame


def table_key(table: str | None = None) -> str:
    """The cache key of ``table`` (or of every table): it changes whenever the table's inputs or
    readers change, so computed results can be cached against it."""
    state = _fresh_state()
    if table is not None:
        _check_table(table)
        return state["tables"][table]["key"]
    return sha256_text(*(state["tables"][t]["key"] for t in sorted(state["tables"])))


def table_files(tables: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Parquet file name -> its recorded sha256, for ``tables``: what a cache computed from them is
    keyed by (the bytes the tables were read from; ``load`` checks every read against these)."""
    state = _fresh_state()
    out = {}
    for table in tables:
        _check_table(table)
        out[state["tables"][table]["file"]] = _table_record(table, state)["sha256"]
    return out


def input_hashes() -> dict[str, str]:
    """Manifest key -> sha256 of every input the current cache was built from."""
    state = _fresh_state()
    return {key: rec["sha256"] for key, rec in sorted(state["inputs"].items())}


def provenance(table: str | None = None) -> list[dict]:
    """Source files behind ``table`` (or behind the whole cache): key, filename, title, publisher,
    release, url, sha256."""
    if table is not None:
        _check_table(table)
    state = _fresh_state()
    files = manifest.load_manifest()
    keys = _table_record(table, state)["used"] if table else list(state["inputs"])
    order = list(files)
    return [files[k].provenance() for k in sorted(keys, key=order.index)]


def coverage(table: str) -> list:
    """Periods a table covers: dates (recorded_crime: 12-month period ends for the forces; asb: years
    ending March with counts; ons_published: the years ONS's tables cover), ints (population:
    mid-years), FinancialQuarter (outcomes)."""
    _check_table(table)
    values = _table_record(table).get("coverage", [])
    if table in ("recorded_crime", "asb", "ons_published"):
        return [dt.date.fromisoformat(v) for v in values]
    if table == "outcomes":
        return [FinancialQuarter.from_parts(fy, q) for fy, q in values]
    return list(values)


def outcome_quarters() -> list[FinancialQuarter]:
    """Financial quarters present in the outcomes table, oldest first."""
    return coverage("outcomes")


# ---------------------------------------------------------------------------------------------
# Command line: python -m peel_helpers.data

def main(argv: list[str] | None = None) -> int:
    import argparse

    from ..core.errors import PeelError

    parser = argparse.ArgumentParser(prog="python -m peel_helpers.data",
                                     description="Fetch, verify and cache the source data as tidy tables.")
    parser.add_argument("--force", action="store_true", help="rebuild every table even if nothing changed")
    parser.add_argument("--include-optional", action="store_true",
                        help="also download the optional files marked fetch = \"on-request\" in data/manifest.toml "
                             "(the 2018/19 outcomes workbook, the quarterly recorded-crime ODS); the outcomes "
                             "workbooks for 2015/16-2017/18 are fetched without it whenever they can be reached")
    args = parser.parse_args(argv)
    try:
        print(f"Data folder: {raw_dir().parent}", flush=True)
        summary = build_cache(force=args.force, include_optional=args.include_optional, verbose=True,
                              retry_downloads=True)
    except PeelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    files = manifest.load_manifest()
    print(f"Verified {len(summary['hashed'])} source files (hashed now; sha256 as pinned in data/manifest.toml):")
    for key, sha in summary["hashed"].items():
        print(f"  {files[key].filename:<58} {sha[:16]}…")
    print("Tables:" + ("" if summary["rebuilt"] else " (cache was already up to date)"))
    for table, rows in summary["tables"].items():
        mark = "rebuilt" if table in summary["rebuilt"] else "cached"
        print(f"  {table:<16} {rows:>9,} rows  {mark}")
    print(f"Done in {summary['seconds']:.2f} s; cache in {summary['processed_dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
