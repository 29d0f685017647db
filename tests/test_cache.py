"""The parquet cache: built once, rebuilt only when an input changes, optional outcomes workbooks
picked up (newest release per financial year), provenance and coverage."""

from __future__ import annotations

import dataclasses
import os
import shutil

import pandas as pd
import pytest

from peel_helpers.data import cache as data
from peel_helpers.data import fetch
from peel_helpers.data import manifest
from peel_helpers.core.errors import ParameterError
from peel_helpers.core.periods import FinancialQuarter

from conftest import write_official_workbook

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
    files[key] = dataclasses.replace(files[key], sha256=fetch.sha256_of(path), size=path.stat().st_size)
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
    assert len(pop) == 43 * 15
    assert (tmp_path / "fresh" / "processed" / data.STATE_FILE).is_file()


def test_public_helpers(real_data_dir):
    import datetime as dt

    cov = data.coverage("recorded_crime")
    assert dt.date(2017, 6, 30) in cov and dt.date(2017, 12, 31) in cov
    assert data.coverage("population")[-1] == 2016
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
