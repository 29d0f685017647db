"""Manifest validation and the fetcher: mirror copy, real HTTP download through a local server on
127.0.0.1, the one-line errors for bad input (hash mismatch, no source, partial download), and the
optional workbooks the default build fetches when it can (through a replaced downloader: these tests
never use the real network)."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import io
import json
import os
import socket
import threading
import urllib.error
from pathlib import Path

import pytest

from peel_helpers.data import fetch
from peel_helpers.data import manifest
from peel_helpers.core.errors import DataFileError, HashMismatchError
from peel_helpers.core.paths import MANIFEST_PATH

SYNTHETIC = b"SYNTHETIC test file for the fetcher; not real data.\n" * 200


# ------------------------------------------------------------------------------------------
# Manifest

def test_manifest_lists_mirrored_and_official_files():
    files = manifest.load_manifest()
    mirrored = {k for k, sf in files.items() if sf.mirrored}
    assert len(mirrored) == 5
    assert all(files[k].required for k in mirrored)
    optional = [sf for sf in files.values() if not sf.mirrored]
    assert len(optional) == 5 and not any(sf.required for sf in optional)
    for sf in files.values():
        assert sf.url.startswith("https://") and sf.landing_page.startswith("https://")
        assert len(sf.sha256) == 64 and sf.size > 0 and sf.licence and sf.title and sf.release
    years = {sf.financial_year for sf in optional if "outcomes" in sf.tables}
    assert years == {"2015/16", "2016/17", "2017/18", "2018/19"}
    # the default build tries the workbooks the report's two windows need; the rest only on request
    assert {k for k, sf in files.items() if sf.fetch == "if-reachable"} == \
        {"outcomes_2015_16", "outcomes_2016_17", "outcomes_2017_18"}
    assert {k for k, sf in files.items() if sf.fetch == "on-request"} == {"outcomes_2018_19", "prc_pfa_ods"}
    assert all(sf.fetch == "always" for sf in files.values() if sf.required)
    # the ONS tables feed population (P9 and P3) and ONS's own published figures
    assert "population" in files["pfa_tables_jun2018"].tables and "ons_published" in files["pfa_tables_jun2018"].tables
    assert {"population", "asb", "ons_published"} <= set(files["pfa_tables_mar2018"].tables)


@pytest.mark.parametrize("change, expected", [
    ('required = false\nfetch = "always"', "fetch = 'always'"),
    ('required = false\nfetch = "sometimes"', "use one of always, if-reachable, on-request"),
])
def test_bad_fetch_policy_is_a_one_line_error(tmp_path, change, expected):
    text = MANIFEST_PATH.read_text(encoding="utf-8")
    start = text.index("[files.outcomes_2018_19]")
    block = text[start:].replace('required = false\nfetch = "on-request"', change, 1)
    bad = tmp_path / "manifest.toml"
    bad.write_text(text[:start] + block, encoding="utf-8")
    with pytest.raises(DataFileError) as err:
        manifest.load_manifest(bad)
    assert "outcomes_2018_19" in str(err.value) and expected in str(err.value) and "\n" not in str(err.value)


@pytest.mark.realdata
def test_manifest_sizes_and_hashes_match_the_mirror(real_data_dir):
    for sf in manifest.load_manifest().values():
        if sf.mirrored:
            path = real_data_dir / "raw" / sf.filename
            assert path.stat().st_size == sf.size, sf.filename
            assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == sf.sha256, sf.filename


def test_outcomes_file_for(tmp_path, monkeypatch):
    monkeypatch.setenv("PEEL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PEEL_DATA_MIRROR", raising=False)
    assert manifest.outcomes_file_for("2016/17").filename == "prc-outcomes-open-data-mar2017-tables-240724.xlsx"
    assert manifest.outcomes_file_for("2015/16").key == "outcomes_2015_16"
    assert manifest.outcomes_file_for("2009/10") is None
    # for 2017/18 the newest release is the official workbook, unless only the CSV copy is present
    assert manifest.outcomes_file_for("2017/18").key == "outcomes_2017_18"
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "outcomes-open-data-2017-18.csv.gz").write_bytes(b"x")
    assert manifest.outcomes_file_for("2017/18").key == "outcomes_2017_18_csv"
    assert manifest.outcomes_file_for("2017/18", prefer_present=False).key == "outcomes_2017_18"


def test_bad_manifest_is_a_one_line_error(tmp_path):
    text = MANIFEST_PATH.read_text(encoding="utf-8").replace(
        'sha256 = "1d199879f3d9a01aa78da5cef89a08701b15109a10ccbd551c5a211f03c90722"', 'sha256 = "nothex"')
    bad = tmp_path / "manifest.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError) as err:
        manifest.load_manifest(bad)
    assert "rec_crime_pfa" in str(err.value) and "\n" not in str(err.value)


def test_unknown_key():
    with pytest.raises(DataFileError, match="rec_crime_pfa"):
        manifest.get("no_such_file")


# ------------------------------------------------------------------------------------------
# Fixtures: a synthetic manifest entry, a local HTTP server

@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty PEEL_DATA_DIR, no mirror, and downloads allowed (only ever from 127.0.0.1 or a
    replaced downloader)."""
    folder = tmp_path / "data"
    monkeypatch.setenv("PEEL_DATA_DIR", str(folder))
    monkeypatch.delenv("PEEL_DATA_MIRROR", raising=False)
    monkeypatch.delenv("PEEL_OFFLINE", raising=False)
    return folder


def _patch_entry(monkeypatch, key: str, **changes) -> manifest.SourceFile:
    files = manifest.load_manifest()
    files[key] = dataclasses.replace(files[key], **changes)
    monkeypatch.setattr(manifest, "load_manifest", lambda path=None: dict(files))
    return files[key]


@pytest.fixture
def synthetic_entry(monkeypatch):
    """The pfa_lookup_2016 entry pointed at SYNTHETIC bytes (hash and size of SYNTHETIC)."""
    return _patch_entry(monkeypatch, "pfa_lookup_2016", filename="synthetic.csv",
                        sha256=hashlib.sha256(SYNTHETIC).hexdigest(), size=len(SYNTHETIC))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    timeout = 10

    def log_message(self, *args):  # keep test output clean
        pass


class _TruncatingHandler(_QuietHandler):
    """Announces the full length, sends half of the body, then closes the connection."""

    def do_GET(self):
        body = SYNTHETIC
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def serve(tmp_path):
    """serve(folder, handler=None) -> base URL of a server on 127.0.0.1 (stopped after the test)."""
    servers = []

    def start(folder: Path, handler=_QuietHandler) -> str:
        factory = functools.partial(handler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), factory)
        server.timeout = 10
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ------------------------------------------------------------------------------------------
# Mirror and download paths

def test_fetch_copies_from_mirror_and_verifies(data_dir, synthetic_entry, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "synthetic.csv").write_bytes(SYNTHETIC)
    monkeypatch.setenv("PEEL_DATA_MIRROR", str(mirror))
    path = fetch.fetch("pfa_lookup_2016")
    assert path == data_dir / "raw" / "synthetic.csv" and path.read_bytes() == SYNTHETIC
    # second call: nothing to do, the verification record is reused (no rehash)
    calls = []
    monkeypatch.setattr(fetch, "sha256_file", lambda p: calls.append(p) or "0" * 64)
    assert fetch.fetch("pfa_lookup_2016") == path
    assert calls == []


def test_fetch_downloads_through_local_http_server(data_dir, synthetic_entry, serve, tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / "synthetic.csv").write_bytes(SYNTHETIC)
    base = serve(site)
    _patch_entry(monkeypatch, "pfa_lookup_2016", filename="synthetic.csv", sha256=synthetic_entry.sha256,
                 size=synthetic_entry.size, url=f"{base}/synthetic.csv")
    path = fetch.fetch("pfa_lookup_2016")
    assert path.read_bytes() == SYNTHETIC
    assert _leftovers(path.parent) == [".synthetic.csv.verified", "synthetic.csv"]


@pytest.mark.realdata
def test_fetch_downloads_real_file_from_local_mirror_server(real_data_dir, serve, tmp_path, monkeypatch):
    """The mirror folder served over HTTP on 127.0.0.1: download + sha256 check of a real file."""
    mirror = Path(os.environ["PEEL_DATA_MIRROR"])
    base = serve(mirror)
    sf = manifest.get("pfa_lookup_2016")
    _patch_entry(monkeypatch, "pfa_lookup_2016", url=f"{base}/{sf.filename}")
    monkeypatch.setenv("PEEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PEEL_DATA_MIRROR")
    monkeypatch.delenv("PEEL_OFFLINE", raising=False)
    path = fetch.fetch("pfa_lookup_2016")
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == sf.sha256 and path.stat().st_size == sf.size


# ------------------------------------------------------------------------------------------
# Bad input: one-line errors that say what to do

def _one_line(err) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_hash_mismatch_from_server(data_dir, synthetic_entry, serve, tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / "synthetic.csv").write_bytes(SYNTHETIC + b"tampered")
    base = serve(site)
    _patch_entry(monkeypatch, "pfa_lookup_2016", filename="synthetic.csv", sha256=synthetic_entry.sha256,
                 size=synthetic_entry.size, url=f"{base}/synthetic.csv")
    with pytest.raises(HashMismatchError) as err:
        fetch.fetch("pfa_lookup_2016")
    msg = _one_line(err)
    actual = hashlib.sha256(SYNTHETIC + b"tampered").hexdigest()
    assert "synthetic.csv" in msg and synthetic_entry.sha256 in msg and actual in msg
    assert "nothing was kept" in msg
    assert _leftovers(data_dir / "raw") == []          # no partial or corrupt file left behind


def test_hash_mismatch_in_mirror(data_dir, synthetic_entry, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "synthetic.csv").write_bytes(b"SYNTHETIC but different")
    monkeypatch.setenv("PEEL_DATA_MIRROR", str(mirror))
    with pytest.raises(HashMismatchError) as err:
        fetch.fetch("pfa_lookup_2016")
    msg = _one_line(err)
    assert "PEEL_DATA_MIRROR" in msg and synthetic_entry.sha256 in msg
    assert _leftovers(data_dir / "raw") == []


def test_hash_mismatch_of_existing_file(data_dir, synthetic_entry):
    raw = data_dir / "raw"
    raw.mkdir(parents=True)
    (raw / "synthetic.csv").write_bytes(b"SYNTHETIC edited in place")
    with pytest.raises(HashMismatchError) as err:
        fetch.fetch("pfa_lookup_2016")
    msg = _one_line(err)
    actual = hashlib.sha256(b"SYNTHETIC edited in place").hexdigest()
    assert "synthetic.csv" in msg and synthetic_entry.sha256 in msg and actual in msg
    assert "delete" in msg and "make data" in msg


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_missing_file_without_network_or_mirror(data_dir, synthetic_entry, monkeypatch):
    url = f"http://127.0.0.1:{_closed_port()}/synthetic.csv"     # nothing listens there: "no network"
    _patch_entry(monkeypatch, "pfa_lookup_2016", filename="synthetic.csv", sha256=synthetic_entry.sha256,
                 size=synthetic_entry.size, url=url)
    with pytest.raises(DataFileError) as err:
        fetch.fetch("pfa_lookup_2016")
    msg = _one_line(err)
    assert "synthetic.csv" in msg and url in msg
    assert "PEEL_DATA_MIRROR" in msg and "internet" in msg and "download" in msg
    assert _leftovers(data_dir / "raw") == []


def test_partial_download_is_not_left_behind(data_dir, synthetic_entry, serve, tmp_path, monkeypatch):
    base = serve(tmp_path, handler=_TruncatingHandler)
    _patch_entry(monkeypatch, "pfa_lookup_2016", filename="synthetic.csv", sha256=synthetic_entry.sha256,
                 size=synthetic_entry.size, url=f"{base}/synthetic.csv")
    with pytest.raises(DataFileError) as err:
        fetch.fetch("pfa_lookup_2016")
    msg = _one_line(err)
    assert "synthetic.csv" in msg and "nothing was kept" in msg
    assert _leftovers(data_dir / "raw") == []          # neither the file nor a .part remains


def test_fetch_all_tries_wanted_files_and_the_rest_only_on_request(data_dir, monkeypatch):
    fetched, tried = [], []
    monkeypatch.setattr(fetch, "fetch", lambda key, rehash=False: fetched.append(key) or Path(key))
    monkeypatch.setattr(fetch, "fetch_optional",
                        lambda files, retry=True, rehash=False: tried.extend(sf.key for sf in files)
                        or fetch.OptionalOutcome())
    files = manifest.load_manifest()
    fetch.fetch_all()
    assert sorted(fetched) == sorted(k for k, sf in files.items() if sf.required)
    assert tried == ["outcomes_2015_16", "outcomes_2016_17", "outcomes_2017_18"]
    fetched.clear(), tried.clear()
    fetch.fetch_all(include_optional=True)
    assert sorted(fetched + tried) == sorted(files)


# ------------------------------------------------------------------------------------------
# Optional workbooks the default build wants: a replaced downloader, never the real network

WANTED = ("outcomes_2015_16", "outcomes_2016_17", "outcomes_2017_18")


class _Response(io.BytesIO):
    """Stands in for an HTTP response: the body, and the Content-Length header."""

    def __init__(self, body: bytes):
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body))}


def _downloader(monkeypatch, serve: dict[str, bytes] | None = None, fail=None) -> list[str]:
    """Replace fetch._open_url: URLs in ``serve`` answer with those bytes; any other URL raises
    ``fail`` (default: a name-lookup failure, as on a machine without internet). Returns the URLs asked."""
    asked = []

    def open_url(url, timeout):
        asked.append(url)
        assert timeout <= fetch.OPTIONAL_TIMEOUT_SECONDS
        if serve and url in serve:
            return _Response(serve[url])
        raise fail or urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(fetch, "_open_url", open_url)
    return asked


@pytest.fixture
def no_required(monkeypatch):
    """Only the optional entries: fetch_all's required files are not the subject here."""
    files = {k: sf for k, sf in manifest.load_manifest().items() if not sf.required}
    monkeypatch.setattr(manifest, "load_manifest", lambda path=None: dict(files))
    return files


def test_unreachable_network_one_message_stop_after_first_failure(data_dir, monkeypatch, no_required):
    asked = _downloader(monkeypatch)
    messages = []
    out = fetch.fetch_all(notify=messages.append)
    assert out == {}
    files = manifest.load_manifest()
    assert asked == [files["outcomes_2015_16"].url]         # the first failure ends all further attempts
    assert len(messages) == 1
    block = messages[0]
    for key in WANTED:
        assert files[key].filename in block and files[key].covers in block
    assert "Temporary failure in name resolution" in block and "assets.publishing.service.gov.uk" in block
    assert "Traceback" not in block and len(block.splitlines()) == 5
    assert not any(p.name.endswith(".part") for p in (data_dir / "raw").iterdir())
    # an implicit build soon after does not wait on the network again, and says nothing
    messages.clear()
    fetch.fetch_all(retry=False, notify=messages.append)
    assert len(asked) == 1 and messages == []
    # an explicit `make data` (retry) tries again and reports again
    fetch.fetch_all(retry=True, notify=messages.append)
    assert len(asked) == 2 and len(messages) == 1


def test_reachable_download_is_verified_and_http_errors_are_listed(data_dir, monkeypatch, no_required):
    body = SYNTHETIC + b"2016/17"
    entry = _patch_entry(monkeypatch, "outcomes_2016_17", sha256=hashlib.sha256(body).hexdigest(), size=len(body))
    not_found = urllib.error.HTTPError("u", 404, "Not Found", {}, None)
    asked = _downloader(monkeypatch, serve={entry.url: body}, fail=not_found)
    messages = []
    out = fetch.fetch_all(notify=messages.append)
    assert list(out) == ["outcomes_2016_17"]
    assert out["outcomes_2016_17"].read_bytes() == body
    assert fetch.verified_sha256(out["outcomes_2016_17"]) == entry.sha256
    assert len(asked) == 3                        # an HTTP error is not a connection failure: go on
    assert len(messages) == 1 and "HTTP 404 Not Found" in messages[0]
    assert entry.filename not in messages[0]
    assert not (data_dir / "raw" / fetch.MEMO_FILE).exists()     # the network worked: nothing to remember
    # next time the file is on disk: no download
    asked.clear()
    fetch.fetch_all(notify=messages.append)
    assert all(entry.url != url for url in asked)


def test_wrong_bytes_from_the_server_are_not_kept(data_dir, monkeypatch, no_required):
    files = manifest.load_manifest()
    asked = _downloader(monkeypatch, serve={files[k].url: b"SYNTHETIC wrong bytes" for k in WANTED})
    messages = []
    out = fetch.fetch_all(notify=messages.append)
    assert out == {} and len(asked) == 3 and len(messages) == 1
    assert messages[0].count("sha256 differs") == 3
    assert sorted(p.name for p in (data_dir / "raw").iterdir()) == []


def test_offline_switch_means_no_download_at_all(data_dir, monkeypatch, no_required):
    monkeypatch.setenv("PEEL_OFFLINE", "1")
    asked = _downloader(monkeypatch)
    messages = []
    assert fetch.fetch_all(notify=messages.append) == {}
    assert asked == [] and len(messages) == 1 and "PEEL_OFFLINE is set" in messages[0]
    memo = json.loads((data_dir / "raw" / fetch.MEMO_FILE).read_text(encoding="utf-8"))
    assert memo["reason"] == "PEEL_OFFLINE is set"
