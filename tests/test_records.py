"""core.records: a file is trusted only when its record names the expected fingerprint and its bytes
are the ones recorded at write time. The oracle is hashlib on the bytes the test wrote."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from peel_helpers.core import records


def test_a_written_file_is_trusted_with_its_fingerprint_and_the_sha256_of_its_bytes(tmp_path):
    path = tmp_path / "page.html"
    record = records.write(path, "<p>é</p>", made_from="fp1", inputs={"a.ipynb": "abc"}, kind="page")
    raw = "<p>é</p>".encode("utf-8")
    assert path.read_bytes() == raw
    assert record["sha256"] == hashlib.sha256(raw).hexdigest() and record["bytes"] == len(raw)
    on_disk = json.loads((tmp_path / ".records" / "page.html.json").read_text())
    assert on_disk["made_from"] == "fp1" and on_disk["inputs"] == {"a.ipynb": "abc"} and on_disk["kind"] == "page"
    assert records.trusted(path, "fp1") and records.trusted(path)
    assert not records.trusted(path, "fp2")
    assert records.sha256(path) == hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize("damage", ["truncate", "empty", "same_size", "delete", "no_record"])
def test_a_damaged_file_is_not_trusted(tmp_path, damage):
    path = tmp_path / "report.csv"
    records.write(path, b"force,value\r\nKent,96.7\r\n", made_from="fp")
    stat = path.stat()
    if damage == "truncate":
        path.write_bytes(b"force,value\r\nKent,9")
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "same_size":                       # one byte changed, size and mtime kept
        path.write_bytes(b"force,value\r\nKent,112.7"[:stat.st_size].ljust(stat.st_size, b"\n"))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    elif damage == "delete":
        path.unlink()
    else:
        records.record_path(path).unlink()
    assert not records.trusted(path, "fp")
    assert records.sha256(path) is None


def test_a_write_that_fails_leaves_no_file_and_no_record(tmp_path):
    path = tmp_path / "report.pdf"
    records.write(path, b"old", made_from="old")

    def broken(tmp):
        tmp.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        records.write(path, broken, made_from="new")
    assert not path.exists() and not records.record_path(path).exists()
    assert [p.name for p in tmp_path.iterdir() if p.name != ".records"] == []   # no temporary file left


def test_a_function_writer_is_recorded_from_the_bytes_it_wrote(tmp_path):
    path = tmp_path / "cache.parquet"
    record = records.write(path, lambda tmp: tmp.write_bytes(b"\x00" * 1000), made_from="k")
    assert record["sha256"] == hashlib.sha256(b"\x00" * 1000).hexdigest()
    assert records.trusted(path, "k")


def test_withdraw_and_recorded(tmp_path):
    a, b = tmp_path / "x" / "a.html", tmp_path / "y" / "b.csv"
    for p in (a, b):
        records.write(p, "x", made_from="f")
    (tmp_path / "users-own.txt").write_text("keep")
    assert sorted(records.recorded(tmp_path)) == sorted([a, b])
    records.withdraw(a)
    assert not a.exists() and not records.record_path(a).exists()
    assert list(records.recorded(tmp_path)) == [b]


@pytest.mark.parametrize("damage", ["none", "same_size", "other_fingerprint", "no_record"])
def test_verified_bytes_are_the_recorded_bytes_or_none(tmp_path, damage):
    path = tmp_path / "table.parquet"
    body = bytes(range(256)) * 4
    records.write(path, body, made_from="key")
    if damage == "same_size":
        stat = path.stat()
        path.write_bytes(body[:100] + bytes([body[100] ^ 1]) + body[101:])
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    elif damage == "no_record":
        records.record_path(path).unlink()
    made_from = "other" if damage == "other_fingerprint" else "key"
    got = records.verified_bytes(path, made_from)
    assert got == (body if damage == "none" else None)
    if damage == "none":
        assert hashlib.sha256(got).hexdigest() == records.read(path)["sha256"]
