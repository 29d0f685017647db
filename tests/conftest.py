"""Shared fixtures.

Isolation: for the whole test session ``PEEL_DATA_DIR`` points at a temporary folder, so no test
writes into the repository's ``data/raw`` or ``data/processed`` (notebook kernels started by
tests inherit the variable too).

Real data: ``real_data_dir`` fetches the official files once per session into that folder (from
``PEEL_DATA_MIRROR``, or from an existing ``data/raw`` of the repository, read-only) and builds
the cache once. Without either, real-data tests are skipped; with ``CI`` or
``PEEL_REQUIRE_REAL_DATA`` set they fail instead, so a CI run can never pass by skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from peel_helpers.data import manifest
from peel_helpers.core.paths import REPO_DATA_DIR


def _require_real_data() -> bool:
    return any(os.environ.get(v, "").strip() not in ("", "0", "false", "False")
               for v in ("CI", "PEEL_REQUIRE_REAL_DATA"))


def _source_folder() -> Path | None:
    """A folder holding every required file: the mirror, else the repository's data/raw."""
    required = [sf.filename for sf in manifest.load_manifest().values() if sf.required]
    candidates = []
    if os.environ.get("PEEL_DATA_MIRROR"):
        candidates.append(Path(os.environ["PEEL_DATA_MIRROR"]).expanduser().resolve())
    candidates.append(REPO_DATA_DIR / "raw")
    for folder in candidates:
        if all((folder / name).is_file() for name in required):
            return folder
    return None


# ------------------------------------------------------------------------------------------
# Small SYNTHETIC files in official layouts, written by the tests themselves

OFFICIAL_HEADINGS = ["Force Name", "Offence Description", "Offence Group", "Offence Subgroup", "Offence Code",
                     "Outcome Description", "Outcome Group", "Outcome Type", "Financial Year", "Financial Quarter",
                     "Force outcomes for offences recorded in quarter", "Force outcomes recorded in quarter"]


def synthetic_outcome_rows(financial_year: str = "2016/17") -> list[list]:
    """A handful of labelled synthetic rows in the official layout (numbers are made up)."""
    rows = []
    for force in ("Cambridgeshire", "London, City of", "British Transport Police"):
        for quarter in (2, 3):
            for otype, desc, group in ((0, "Not yet assigned an outcome", "Not yet assigned an outcome"),
                                       (1, "Charged/Summonsed", "Charged/Summonsed")):
                n = 10 * quarter + otype
                rows.append([force, "Synthetic offence", "Synthetic group", "Synthetic subgroup", 80,
                             desc, group, otype, financial_year, quarter, n, None if otype == 0 else n + 1])
    return rows


def write_official_workbook(path, financial_year: str = "2016/17", title_rows: int = 2):
    """Write a small official-layout outcomes workbook (SYNTHETIC data) with openpyxl."""
    from openpyxl import Workbook

    wb = Workbook()
    notes = wb.active
    notes.title = "Notes"
    notes.append(["SYNTHETIC test workbook in the Home Office outcomes open-data layout; not real data"])
    ws = wb.create_sheet("Data")
    for i in range(title_rows):
        ws.append([f"Synthetic title row {i + 1}"])
    ws.append(OFFICIAL_HEADINGS)
    for row in synthetic_outcome_rows(financial_year):
        ws.append(row)
    wb.save(path)
    return path


def write_ons_p3_like(path, city_population=7_700, title_year="20181,2", population_offset: int = 0):
    """Write a SYNTHETIC sheet in the ONS Table P3 layout (year ending June 2018 tables): title rows,
    a 'Population figures (mid-2017)' column beside the rates, a unit row, regions, numbered notes."""
    from openpyxl import Workbook

    from peel_helpers.core.forces import FORCES

    wb = Workbook()
    ws = wb.active
    ws.title = "Table P3"
    ws.append([f"Table P3: SYNTHETIC recorded crime, rate of offences, year ending June {title_year}"])
    ws.append([])
    ws.append(["England and Wales"])
    ws.append([])
    ws.append(["Area Code", "Area Name", "Population figures\n (mid-2017)3  rounded to 100", None, None,
               "Total recorded crime (excluding fraud5)"])
    ws.append([None, None, None, None, None, "Rate per 1,000 population"])
    ws.append(["K04000001", "ENGLAND AND WALES10", 1_000_000 + population_offset, None, None, 80.5])
    ws.append(["E12000007", "London", 9_000, None, None, 90.0])
    for i, f in enumerate(FORCES):
        if f.name == "City of London":
            ws.append([f.code, "City of London11", city_population, None, None, "+"])
        else:
            ws.append([f.code, f.name, 10_000 + 100 * i + population_offset, None, None, 50.0 + i])
    ws.append(["Source: synthetic"])
    ws.append(["3. Based on mid-2017 population estimates for England and Wales."])
    ws.append(["10. Total rate for England and Wales includes offences recorded by British Transport Police."])
    ws.append(["11. '+' Rates for London include 'City of London'."])
    wb.save(path)
    return path


# ------------------------------------------------------------------------------------------
# Isolation and real data

def _seed_from_template(folder: Path) -> None:
    """``PEEL_TEST_DATA_TEMPLATE=DIR`` (used by ``make mutation``, which runs the tests once per mutant):
    start the session's data folder as a copy of DIR's verified files and data cache, so that each run
    does not read the source workbooks again. Cached results tables are never copied: they are what the
    mutated code computes. The data layer still checks every file and cache key as usual."""
    import shutil

    template = os.environ.get("PEEL_TEST_DATA_TEMPLATE", "").strip()
    if not template:
        return
    for part in ("raw", "processed"):
        source = Path(template) / part
        if source.is_dir():
            shutil.copytree(source, folder / part, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("results-*", "*.lock"))


@pytest.fixture(scope="session", autouse=True)
def session_data_dir(tmp_path_factory) -> Path:
    """PEEL_DATA_DIR -> a fresh temporary folder for the whole session (autouse)."""
    folder = tmp_path_factory.mktemp("peel-data")
    _seed_from_template(folder)
    old = os.environ.get("PEEL_DATA_DIR")
    os.environ["PEEL_DATA_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("PEEL_DATA_DIR", None)
    else:
        os.environ["PEEL_DATA_DIR"] = old


@pytest.fixture(scope="session", autouse=True)
def no_network_downloads() -> None:
    """PEEL_OFFLINE=1 for the whole session (autouse): the fetcher never goes to the internet, so
    the optional outcomes workbooks are reported missing at once. Tests of downloads unset it and
    serve files from 127.0.0.1 or a replaced downloader."""
    old = os.environ.get("PEEL_OFFLINE")
    os.environ["PEEL_OFFLINE"] = "1"
    yield
    if old is None:
        os.environ.pop("PEEL_OFFLINE", None)
    else:
        os.environ["PEEL_OFFLINE"] = old


@pytest.fixture(scope="session")
def real_data_dir(session_data_dir) -> Path:
    """The session data folder with every required file fetched and verified and the cache built.

    Use it (directly or through another fixture) in every test marked ``realdata``.
    """
    source = _source_folder()
    if source is None:
        msg = ("real data not available: set PEEL_DATA_MIRROR to a folder holding the files listed in "
               "data/manifest.toml (or run `make data` with internet)")
        if _require_real_data():
            pytest.fail(msg + " - CI/PEEL_REQUIRE_REAL_DATA is set, so this is a failure, not a skip")
        pytest.skip(msg)
    os.environ["PEEL_DATA_MIRROR"] = str(source)
    from peel_helpers import data
    from peel_helpers.data import fetch

    fetch.fetch_all()
    data.build_cache()
    return session_data_dir


@pytest.fixture(scope="session")
def raw_files(real_data_dir) -> dict[str, Path]:
    """Manifest key -> verified path of every required source file."""
    return {key: real_data_dir / "raw" / sf.filename
            for key, sf in manifest.load_manifest().items() if sf.required}


# --------------------------------------------------------------------------- built reports (report tests)

REPORT_FORCES_2017 = ("Cambridgeshire", "City of London", "Suffolk")
REPORT_FORCES_2018 = ("Cambridgeshire",)


@pytest.fixture(scope="session")
def built_reports(real_data_dir, tmp_path_factory) -> dict:
    """Every notebook run through the batch runner, once per session, into a temporary outputs folder.

    Cambridgeshire (the report's own force), City of London (tiny resident population: flagged
    rates) and Suffolk (left out of the 2017 outcomes by Annex A) for the 12 months to 30 June 2017,
    and Cambridgeshire for the 12 months to 31 March 2018. Returns the folder and exit statuses.
    """
    from peel_helpers import cli
    from peel_helpers.batch import checks, jobs as batch_jobs, runner

    out = tmp_path_factory.mktemp("reports")
    codes = []
    for forces, period in ((REPORT_FORCES_2017, "2017-06-30"), (REPORT_FORCES_2018, "2018-03-31")):
        argv = ["build", "--period", period, "--out", str(out), "--quiet"]
        for force in forces:
            argv += ["--force", force]
        codes.append(cli.main(argv))
    return {"out": out, "codes": codes, "sections": checks.sections(),
            "jobs": [(p, f) for forces, p in ((REPORT_FORCES_2017, "2017-06-30"), (REPORT_FORCES_2018, "2018-03-31"))
                     for f in forces]}


def _without_user_data_return(mp: pytest.MonkeyPatch, folder: Path) -> None:
    from peel_helpers import measures
    from peel_helpers.measures import datareturn

    mp.delenv(datareturn.ENV_VAR, raising=False)
    mp.setattr(datareturn, "USER_PATH", folder / "input" / "data_return.csv")
    measures.clear_caches()


@pytest.fixture
def no_user_data_return(monkeypatch, tmp_path):
    """No user-supplied HMICFRS data-return file: the repository's data/input is never read by tests."""
    _without_user_data_return(monkeypatch, tmp_path)
    yield


@pytest.fixture(scope="module")
def no_user_data_return_module(tmp_path_factory):
    """The same, for a whole test module."""
    with pytest.MonkeyPatch.context() as mp:
        _without_user_data_return(mp, tmp_path_factory.mktemp("no-input"))
        yield


@pytest.fixture(scope="session")
def shared_reference(real_data_dir) -> Path:
    """The report text in ../shared/reference, gated like the real data (fails under CI if absent)."""
    path = REPO_DATA_DIR.parent.parent / "shared" / "reference" / "peel-effectiveness-2017-cambridgeshire.txt"
    if not path.is_file():
        msg = f"the reference report text is not at ../shared/reference ({path.name})"
        if _require_real_data():
            pytest.fail(msg + " - CI/PEEL_REQUIRE_REAL_DATA is set, so this is a failure, not a skip")
        pytest.skip(msg)
    return path


@pytest.fixture
def read_only_dir(tmp_path, monkeypatch):
    """A folder nobody can write to. Root ignores permission bits, so for root it is a read-only
    file system mounted there; where root cannot mount (some containers), the folder's permission
    bits are honoured by making ``os.access`` answer as it would for any other user (and writes into
    it fail as they would)."""
    import subprocess

    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "peel-read-only", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        folder.chmod(0o555)
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode, **kw: (
            False if Path(path) == folder and mode & os.W_OK else real_access(path, mode, **kw)))
        yield folder
        folder.chmod(0o755)
        return
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)
