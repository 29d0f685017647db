"""The parquet cache: built once, rebuilt only when an input changes, optional outcomes workbooks
picked up (newest release per financial year) or downloaded when reachable (through a replaced
downloader, never the real network), population from two ONS tables, provenance and coverage."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
import io
import json
import os
import shutil
import socket
import urllib.error

import pandas as pd
import pytest

from peel_helpers.data import cache as data
from peel_helpers.data import tables
from peel_helpers.data import fetch
from peel_helpers.data import manifest
from peel_helpers.core.errors import ParameterError
from peel_helpers.core.periods import FinancialQuarter

from conftest import write_official_workbook, write_ons_p3_like

pytestmark = pytest.mark.realdata


@pytest.fixture
def private_data_dir(real_data_dir, tmp_path, monkeypatch):
    """A copy of the session's data folder (raw files and warm cache) that a test may change."""
    folder = tmp_path / "data"
    shutil.copytree(real_data_dir, folder, copy_function=shutil.copy2)   # keeps mtimes: cache stays warm
    monkeypatch.setenv("PEEL_DATA_DIR", str(folder))
    return folder


def _add_optional_workbook(monkeypatch, folder, key: str, financial_year: str):
    """Write a SYNTHETIC official-layout workbook into raw/ and pin it in the (patched) manifest."""
    files = manifest.load_manifest()
    path = write_official_workbook(folder / "raw" / files[key].filename, financial_year=financial_year)
    files[key] = dataclasses.replace(files[key], sha256=hashlib.sha256(Path(path).read_bytes()).hexdigest(), size=path.stat().st_size)
    monkeypatch.setattr(manifest, "load_manifest", lambda path=None: dict(files))
    return path


def test_second_build_is_a_no_op(private_data_dir):
    summary = data.build_cache()
    assert summary["rebuilt"] == []
    assert set(summary["tables"]) == set(data.TABLES)


def test_touching_an_input_rehashes_but_does_not_rebuild(private_data_dir):
    path = private_data_dir / "raw" / manifest.get("rec_crime_pfa").filename
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000_000))
    summary = data.build_cache()
    assert summary["rebuilt"] == []


def test_a_file_changed_in_place_is_caught_by_the_next_build(private_data_dir, capsys):
    """One byte of a raw file changed with its size and modification time kept (bit rot, a careless
    edit): ``peel-reports data`` and ``build`` hash every input each time, so the change is found,
    nothing is built from it, and nothing is reported as verified."""
    from peel_helpers.core.errors import HashMismatchError

    path = private_data_dir / "raw" / manifest.get("rec_crime_pfa").filename
    st = path.stat()
    raw = bytearray(path.read_bytes())
    at = raw.index(b",1") + 1          # a digit inside a count: "1" becomes "2"
    raw[at] = ord("2")
    path.write_bytes(bytes(raw))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    with pytest.raises(HashMismatchError) as info:
        data.build_cache()
    assert path.name in str(info.value) and "\n" not in str(info.value)
    assert data.main([]) == 1
    out, err = capsys.readouterr()
    assert "Verified" not in out and err.strip().count("\n") == 0 and path.name in err


def test_data_says_verified_only_for_files_hashed_in_that_run(private_data_dir, capsys, monkeypatch):
    hashed = []
    real = fetch.sha256_file
    monkeypatch.setattr(fetch, "sha256_file", lambda p: hashed.append(Path(p).name) or real(p))
    assert data.main([]) == 0
    out = capsys.readouterr().out
    required = [sf.filename for sf in manifest.load_manifest().values() if sf.required]
    assert set(required) <= set(hashed)            # every input hashed in this run, though nothing changed
    assert f"Verified {len(required)} source files (hashed now" in out


def test_changed_reader_version_or_manifest_rebuilds(private_data_dir, monkeypatch):
    monkeypatch.setattr(data, "READER_VERSION", "test-bump")
    summary = data.build_cache()
    assert sorted(summary["rebuilt"]) == sorted(data.TABLES)


def test_optional_workbook_is_included_and_newest_release_wins(private_data_dir, monkeypatch):
    before = data.load("outcomes")
    # a 2016/17 workbook appears in raw/: only the outcomes table is rebuilt, and it gains 2016/17
    _add_optional_workbook(monkeypatch, private_data_dir, "outcomes_2016_17", "2016/17")
    summary = data.build_cache()
    assert summary["rebuilt"] == ["outcomes"]
    out = data.load("outcomes")
    assert len(out) == len(before) + 12
    assert set(out.loc[out["financial_year"] == "2016/17", "source_key"]) == {"outcomes_2016_17"}
    assert FinancialQuarter(2016, 2) in data.outcome_quarters()
    assert "outcomes_2016_17" in data.input_hashes()
    assert {p["key"] for p in data.provenance("outcomes")} == {"outcomes_2016_17", "outcomes_2017_18_csv"}
    # the official 2017/18 workbook (a newer release than the CSV copy) replaces the CSV for 2017/18
    _add_optional_workbook(monkeypatch, private_data_dir, "outcomes_2017_18", "2017/18")
    assert data.build_cache()["rebuilt"] == ["outcomes"]
    out = data.load("outcomes")
    assert set(out.loc[out["financial_year"] == "2017/18", "source_key"]) == {"outcomes_2017_18"}
    assert len(out) == 24
    # a third build changes nothing
    assert data.build_cache()["rebuilt"] == []


def test_load_builds_a_missing_cache(real_data_dir, tmp_path, monkeypatch):
    """An empty data folder: load() fetches from the mirror and builds everything."""
    monkeypatch.setenv("PEEL_DATA_DIR", str(tmp_path / "fresh"))
    pop = data.load("population")
    assert len(pop) == 43 * 16
    assert (tmp_path / "fresh" / "processed" / data.STATE_FILE).is_file()


def test_public_helpers(real_data_dir):
    import datetime as dt

    cov = data.coverage("recorded_crime")
    assert dt.date(2017, 6, 30) in cov and dt.date(2017, 12, 31) in cov
    assert data.coverage("population") == list(range(2002, 2018))
    assert data.coverage("ons_published") == [dt.date(2018, 3, 31), dt.date(2018, 6, 30)]
    assert [p["key"] for p in data.provenance("population")] == ["pfa_tables_mar2018", "pfa_tables_jun2018"]
    assert data.coverage("asb")[-1] == dt.date(2018, 3, 31)
    assert [q.label for q in data.coverage("outcomes")] == [f"2017/18 Q{q}" for q in (1, 2, 3, 4)]
    hashes = data.input_hashes()
    assert hashes == {k: sf.sha256 for k, sf in manifest.load_manifest().items() if sf.required}
    prov = data.provenance("recorded_crime")
    assert [p["key"] for p in prov] == ["rec_crime_pfa"]
    assert set(prov[0]) == {"key", "filename", "title", "publisher", "release", "url", "sha256"}
    assert len(data.provenance()) == 5
    with pytest.raises(ParameterError, match="recorded_crime"):
        data.load("crimes")


def test_load_returns_independent_frames(real_data_dir):
    a = data.load("population")
    a["extra"] = 1
    a.loc[0, "population"] = -1
    b = data.load("population")
    assert "extra" not in b.columns and b.loc[0, "population"] != -1
    assert isinstance(b, pd.DataFrame)


# ------------------------------------------------------------------------------------------
# Optional workbooks downloaded by the build when reachable (a replaced downloader)

class _Response(io.BytesIO):
    def __init__(self, body: bytes):
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body))}


def _downloader(monkeypatch, serve: dict[str, bytes]) -> list[str]:
    """fetch._open_url replaced: URLs in ``serve`` answer with those bytes, others fail to resolve."""
    asked = []

    def open_url(url, timeout):
        asked.append(url)
        if url in serve:
            return _Response(serve[url])
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.delenv("PEEL_OFFLINE", raising=False)
    monkeypatch.setattr(fetch, "_open_url", open_url)
    return asked


def test_failed_optional_download_leaves_the_cache_alone(private_data_dir, monkeypatch):
    asked = _downloader(monkeypatch, serve={})
    messages = []
    summary = data.build_cache(retry_downloads=True, notify=messages.append)
    assert summary["rebuilt"] == [] and summary["reason"] is None
    assert len(asked) == 1 and len(messages) == 1
    assert "prc-outcomes-open-data-mar2017-tables-240724.xlsx" in messages[0]
    assert [q.label for q in data.outcome_quarters()] == [f"2017/18 Q{q}" for q in (1, 2, 3, 4)]
    # load() afterwards neither rebuilds nor goes back to the network
    data.load("outcomes", columns=["quarter"])
    assert len(asked) == 1


def test_reachable_optional_workbook_is_downloaded_verified_and_used(private_data_dir, monkeypatch, tmp_path):
    """The build fetches the 2016/17 workbook (SYNTHETIC bytes, pinned in a patched manifest) and the
    outcomes table gains 2016/17 from it; the other wanted files fail and are reported."""
    body = write_official_workbook(tmp_path / "served.xlsx", financial_year="2016/17").read_bytes()
    files = manifest.load_manifest()
    files["outcomes_2016_17"] = dataclasses.replace(files["outcomes_2016_17"], sha256=hashlib.sha256(body).hexdigest(),
                                                    size=len(body))
    # 2016/17 listed first, so that it is tried before the (failing) others
    files = {k: files[k] for k in ("outcomes_2016_17", "outcomes_2015_16", "outcomes_2017_18")} | files
    monkeypatch.setattr(manifest, "load_manifest", lambda path=None: dict(files))
    asked = _downloader(monkeypatch, serve={files["outcomes_2016_17"].url: body})
    messages = []
    summary = data.build_cache(retry_downloads=True, notify=messages.append)
    assert summary["rebuilt"] == ["outcomes"]
    raw = private_data_dir / "raw" / files["outcomes_2016_17"].filename
    assert raw.read_bytes() == body and hashlib.sha256(Path(raw).read_bytes()).hexdigest() == files["outcomes_2016_17"].sha256
    out = data.load("outcomes")
    assert set(out.loc[out["financial_year"] == "2016/17", "source_key"]) == {"outcomes_2016_17"}
    assert FinancialQuarter(2016, 2) in data.outcome_quarters()
    assert len(asked) == 2 and len(messages) == 1 and files["outcomes_2016_17"].filename not in messages[0]


# ------------------------------------------------------------------------------------------
# Population from several files: each mid-year from one file, the newest release

def test_population_mid_year_in_two_files_comes_from_the_newer(tmp_path):
    files = manifest.load_manifest()
    old = dataclasses.replace(files["pfa_tables_jun2018"], key="older", release_date="2018-01-01")
    new = dataclasses.replace(files["pfa_tables_jun2018"], key="newer", release_date="2019-01-01")
    paths = {"older": write_ons_p3_like(tmp_path / "old.xlsx"),
             "newer": write_ons_p3_like(tmp_path / "new.xlsx", population_offset=100)}
    pop = tables._build_population([old, new], paths)
    assert len(pop) == 43 and set(pop["source_key"]) == {"newer"}
    from peel_helpers.core.forces import FORCE_NAMES

    i = FORCE_NAMES.index("Cambridgeshire")
    assert pop.set_index("force").loc["Cambridgeshire", "population"] == 10_000 + 100 * i + 100   # as written
    assert set(pop["england_and_wales_population"]) == {1_000_100}


# ------------------------------------------------------------------------------------------
# A damaged cache: detected and rebuilt, never "up to date" followed by a pyarrow traceback

def _table_file(folder, table: str) -> Path:
    (path,) = (folder / "processed").glob(f"{table}-*.parquet")
    return path


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:1000])


def test_a_truncated_table_file_is_rebuilt_by_data(private_data_dir, capsys):
    path = _table_file(private_data_dir, "outcomes")
    _truncate(path)
    assert data.main([]) == 0
    out = capsys.readouterr().out
    assert "up to date" not in out and "outcomes" in out
    assert [line.split()[-1] for line in out.splitlines() if line.strip().startswith("outcomes ")] == ["rebuilt"]
    assert len(data.load("outcomes", columns=["quarter"])) > 400_000


def test_a_garbage_table_file_is_rebuilt_when_read(private_data_dir):
    """No `data` first: a notebook's load() meets the damaged file, rebuilds it and reads it."""
    path = _table_file(private_data_dir, "asb")
    data._MEMO.clear()
    path.write_bytes(b"SYNTHETIC garbage, not a parquet file")
    asb = data.load("asb")
    assert len(asb) > 400 and "incidents" in asb.columns
    assert data.build_cache()["rebuilt"] == []      # the rebuilt file is recorded as the one written


def test_a_table_file_that_stays_unreadable_is_one_line(private_data_dir, monkeypatch):
    from peel_helpers.core.errors import DataFileError

    data._MEMO.clear()

    def broken(*args, **kwargs):
        raise OSError("SYNTHETIC read failure")

    monkeypatch.setattr(data.pd, "read_parquet", broken)
    with pytest.raises(DataFileError) as info:
        data.load("population")
    msg = str(info.value)
    assert "\n" not in msg and "population-" in msg and "peel-reports data" in msg


def _results_file(folder) -> Path:
    """The results table's cache file for the current inputs."""
    from peel_helpers.measures import table

    return folder / "processed" / f"results-{table.cache_key()[:20]}.parquet"


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_results_cache_is_rebuilt(private_data_dir, no_user_data_return, damage):
    from peel_helpers import measures, results

    measures.clear_caches()
    first = results(forces=["Kent"], measures="recorded_crime_per_1000", periods="2018-03-31")
    path = _results_file(private_data_dir)
    if damage == "truncated":
        _truncate(path)
    else:
        path.write_bytes(b"SYNTHETIC garbage, not a parquet file")
    measures.clear_caches()
    again = results(forces=["Kent"], measures="recorded_crime_per_1000", periods="2018-03-31")
    assert again["value"].tolist() == first["value"].tolist()
    assert len(pd.read_parquet(path)) > 40_000           # written again, whole


def test_build_keeps_the_results_cache_when_nothing_changed(private_data_dir, no_user_data_return, monkeypatch):
    """build_cache() used to delete every results-*.parquet, so the results table was rebuilt on every
    `build` (about 0.8 s); a results cache whose key still holds is kept and read."""
    from peel_helpers import measures, results
    from peel_helpers.measures import table

    measures.clear_caches()
    results(forces=["England and Wales"], measures="recorded_crime_per_1000", periods="2018-03-31")
    path = _results_file(private_data_dir)
    assert path.is_file()
    assert data.build_cache()["rebuilt"] == []
    assert path.is_file()
    measures.clear_caches()

    def no_rebuild(periods):
        raise AssertionError("the results table was rebuilt although its key still holds")

    monkeypatch.setattr(table, "build", no_rebuild)
    assert len(results(forces=["England and Wales"], measures="recorded_crime_per_1000", periods="2018-03-31")) == 1


# ------------------------------------------------------------------------------------------
# Same-size damage (one byte changed, size and modification time kept): the bytes are checked
# against the record written with them, never trusted on their stat

KENT, KENT_PERIOD = "Kent", "2018-03-31"


def _kent_rate_oracle(raw_files) -> float:
    """Kent, 12 months to 31 March 2018: offences excluding fraud over ONS's mid-2017 population × 1,000,
    read here from the official files with the csv module and openpyxl."""
    import csv

    import openpyxl

    with open(raw_files["rec_crime_pfa"], newline="", encoding="utf-8-sig") as fh:
        count = sum(int(r["Rolling year total number of offences"]) for r in csv.DictReader(fh)
                    if r["PFA"] == KENT and r["12 months ending"] == "31-03-2018" and r["Offence"] != "Fraud offences")
    rows = list(openpyxl.load_workbook(raw_files["pfa_tables_jun2018"], read_only=True, data_only=True)["Table P3"]
                .iter_rows(values_only=True))
    header = next(r for r in rows if r[0] == "Area Code")
    col = next(i for i, h in enumerate(header) if h and "mid-2017" in str(h))
    (population,) = [int(r[col]) for r in rows if r[1] == KENT]
    return 1000 * count / population


def _kent_rate() -> float:
    from peel_helpers import results

    rows = results(forces=[KENT], measures="recorded_crime_per_1000", periods=KENT_PERIOD, aggregates=False)
    return float(rows["value"].iloc[0])


def _same_size_write(path: Path, raw: bytes) -> None:
    st = path.stat()
    assert len(raw) == st.st_size
    path.write_bytes(raw)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _flip_double(path: Path, value: float) -> None:
    """Change one byte of the 8 that store ``value`` in the parquet file (a readable file, another number)."""
    import struct

    raw = bytearray(path.read_bytes())
    at = raw.find(struct.pack("<d", value))
    assert at >= 0 and raw.count(struct.pack("<d", value)) == 1
    raw[at + 6] ^= 0x01
    _same_size_write(path, bytes(raw))


def _flip_until(path: Path, column: str, changed) -> None:
    """Change one byte inside ``column``'s data in the parquet file, the first that leaves the file readable
    and ``changed(frame)`` true (searched from the start of the column's pages)."""
    import pyarrow.parquet as pq

    raw = path.read_bytes()
    meta = pq.ParquetFile(path).metadata.row_group(0)
    chunk = next(meta.column(i) for i in range(meta.num_columns) if meta.column(i).path_in_schema == column)
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    for at in range(start, start + chunk.total_compressed_size):
        bad = bytearray(raw)
        bad[at] ^= 0x01
        try:
            frame = pd.read_parquet(io.BytesIO(bytes(bad)))
        except Exception:      # noqa: BLE001 - pyarrow raises several kinds for a broken page
            continue
        if changed(frame):
            _same_size_write(path, bytes(bad))
            return
    raise AssertionError(f"no single byte of {column} changes the table")


def _kent_population_changed(frame: pd.DataFrame) -> bool:
    row = frame[(frame["force"] == KENT) & (frame["mid_year"] == 2017)]
    return len(row) == 1 and int(row["population"].iloc[0]) != 1_832_300


def _drop_results_caches(folder: Path) -> None:
    from peel_helpers import measures

    for old in (folder / "processed").glob("results-*.parquet"):
        old.unlink()
    measures.clear_caches()


def test_a_same_size_change_in_a_table_file_is_caught_by_a_warm_load(private_data_dir):
    path = _table_file(private_data_dir, "population")
    before = pd.read_parquet(path)
    _flip_until(path, "population", _kent_population_changed)
    data._MEMO.clear()
    pd.testing.assert_frame_equal(data.load("population"), before)
    assert pd.read_parquet(path).equals(before)           # rebuilt on disk, not only read around


def test_a_same_size_change_in_the_results_cache_is_caught(private_data_dir, no_user_data_return, raw_files):
    """Case 5: a byte of Kent's rate changed in results-*.parquet, size and modification time kept."""
    from peel_helpers import measures

    oracle = _kent_rate_oracle(raw_files)
    measures.clear_caches()
    assert _kent_rate() == pytest.approx(oracle, rel=1e-12)
    _flip_double(_results_file(private_data_dir), _kent_rate())
    measures.clear_caches()
    assert _kent_rate() == pytest.approx(oracle, rel=1e-12)


def test_a_damaged_population_table_never_leaves_a_results_cache_made_from_it(private_data_dir, no_user_data_return,
                                                                                raw_files):
    """Case 6: a byte changed in the population parquet, then results() from Python, then a build."""
    oracle = _kent_rate_oracle(raw_files)
    _drop_results_caches(private_data_dir)
    _flip_until(_table_file(private_data_dir, "population"), "population", _kent_population_changed)
    data._MEMO.clear()
    assert _kent_rate() == pytest.approx(oracle, rel=1e-12)
    data.build_cache()
    from peel_helpers import measures

    measures.clear_caches()
    assert _kent_rate() == pytest.approx(oracle, rel=1e-12)


@pytest.mark.parametrize("damaged", ["results", "population"])
def test_a_fresh_process_catches_a_same_size_change(private_data_dir, no_user_data_return, raw_files, damaged):
    """A new process (a notebook kernel started fresh) reads nothing from memory: it must check the bytes."""
    import subprocess
    import sys

    from peel_helpers import measures

    oracle = _kent_rate_oracle(raw_files)
    measures.clear_caches()
    value = _kent_rate()
    if damaged == "results":
        _flip_double(_results_file(private_data_dir), value)
    else:
        _drop_results_caches(private_data_dir)
        _flip_until(_table_file(private_data_dir, "population"), "population", _kent_population_changed)
    code = ("from peel_helpers import results; r = results(forces=['Kent'], measures='recorded_crime_per_1000', "
            "periods='2018-03-31', aggregates=False); print(repr(float(r['value'].iloc[0])))")
    env = {**os.environ, "PEEL_DATA_DIR": str(private_data_dir)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.strip().splitlines()[-1]) == pytest.approx(oracle, rel=1e-12)


def test_every_cache_file_is_written_with_a_record(private_data_dir, no_user_data_return):
    """The data cache's tables, its state file and the results table are all written through core.records:
    each is trusted, its record names the key it was built for, and its sha256 is hashlib's on its bytes."""
    from peel_helpers.core import records
    from peel_helpers.measures import table

    state = json.loads((private_data_dir / "processed" / data.STATE_FILE).read_text())
    assert records.trusted(private_data_dir / "processed" / data.STATE_FILE)
    for name, entry in state["tables"].items():
        path = private_data_dir / "processed" / entry["file"]
        assert records.trusted(path, made_from=entry["key"]), name
        assert records.read(path)["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    _kent_rate()
    path = _results_file(private_data_dir)
    record = records.read(path)
    assert record["made_from"] == table.cache_key() and records.trusted(path, table.cache_key())
    for name in table.RESULTS_TABLES:
        table_file = private_data_dir / "processed" / state["tables"][name]["file"]
        assert record["inputs"][table_file.name] == hashlib.sha256(table_file.read_bytes()).hexdigest()


def test_the_results_cache_key_holds_the_tables_bytes_and_only_the_results_layers(private_data_dir, tmp_path,
                                                                                  monkeypatch, no_user_data_return):
    """Editing batch/, reports/ or publish/ keeps the results cache; editing measures/ or a table's bytes
    changes its key."""
    from peel_helpers.core import contract
    from peel_helpers.core.paths import PACKAGE_DIR
    from peel_helpers.measures import table

    code = tmp_path / "peel_helpers"
    shutil.copytree(PACKAGE_DIR, code, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(table, "CODE_DIR", code)

    def key() -> str:
        contract.layers_sha256.cache_clear()
        table.clear_caches()
        return table.cache_key()

    first = key()
    for layer in ("batch", "reports"):
        with open(next((code / layer).glob("*.py")), "a", encoding="utf-8") as fh:
            fh.write("\n# an edit outside the results layers\n")
    (code / "publish").mkdir(exist_ok=True)
    (code / "publish" / "page.py").write_text('"""A publisher module."""\n', encoding="utf-8")
    assert key() == first
    with open(code / "measures" / "rates.py", "a", encoding="utf-8") as fh:
        fh.write("\n# an edit inside them\n")
    second = key()
    assert second != first
    # a table file whose bytes differ (its record says so) changes the key too
    from peel_helpers.core import records

    path = _table_file(private_data_dir, "asb")
    frame, old = pd.read_parquet(path), records.read(path)
    extra = {k: v for k, v in old.items() if k not in ("format", "file", "sha256", "bytes", "written")}
    records.write(path, lambda tmp: frame.iloc[:-1].to_parquet(tmp, index=False), **extra)
    assert key() != second


def test_the_results_table_reads_only_the_tables_its_key_holds(real_data_dir, no_user_data_return, monkeypatch):
    """The results cache is keyed by the tables in RESULTS_TABLES: building the table must read no other."""
    import peel_helpers.data as data_layer
    from peel_helpers.measures import table

    read = set()
    real = data_layer.load

    def spy(name, *args, **kwargs):
        read.add(name)
        return real(name, *args, **kwargs)

    for module in (data_layer, data):
        monkeypatch.setattr(module, "load", spy)
    table.build(table.covered_periods())
    assert read and read <= set(table.RESULTS_TABLES), read


def test_a_same_size_change_in_the_state_file_is_not_trusted(private_data_dir):
    """cache.json changed in one digit (size and modification time kept) is treated as no state: the
    tables are checked against their records, none is rebuilt, and the state is written again."""
    from peel_helpers.core import records

    path = private_data_dir / "processed" / data.STATE_FILE
    text = path.read_text(encoding="utf-8")
    at = text.index('"mtime_ns": ') + len('"mtime_ns": ') + 5
    digit = "1" if text[at] != "1" else "2"
    _same_size_write(path, (text[:at] + digit + text[at + 1:]).encode("utf-8"))
    assert not records.trusted(path)
    data._MEMO.clear()
    assert len(data.load("asb")) > 400
    assert records.trusted(path) and json.loads(path.read_text(encoding="utf-8")) == json.loads(text)
    assert data.build_cache()["rebuilt"] == []
