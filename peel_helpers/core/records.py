"""One record for every file a build writes, and the only test of whether such a file can be trusted.

Every file the project generates (executed notebooks, section pages, combined reports, their CSVs
and PDFs, the national pages, the index, the results cache) is written through :func:`write`:

* the bytes go to a temporary file in the same folder and are renamed over the target only when
  complete (:func:`~peel_helpers.core.files.atomic_write`), so nobody ever sees half a file;
* then a record is written beside it, in the folder's ``.records/`` directory
  (``.records/<name>.json``), holding the sha256 and size of the bytes just written, the
  fingerprint of what the file was made from (``made_from``), the sha256 of each file it was made
  from (``inputs``, by name), a ``kind`` and the time. The record is written *at write time*, from
  the bytes in hand, never by hashing the file again later.

A later build trusts a file only through :func:`trusted`: its record exists, names the fingerprint
the build expects now, and the file's bytes still have the recorded sha256. A file that was
truncated, emptied, overwritten with the same size, or written by an earlier build from other
inputs is not trusted, and is built again. Existence and modification times prove nothing.

A file made from others is withdrawn (:func:`withdraw`: the file, then its record) before what it
was made from is rebuilt, and whenever that fails, so that no page links a file made from other
data. ``peel-reports clean`` deletes only what records name (:func:`recorded`).

This module is imported by notebook kernels (through the data layer): it starts no thread and
imports only the standard library.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Iterator

from .files import CHUNK, atomic_write

RECORDS_DIR = ".records"
FORMAT = 1


def record_path(path: Path | str) -> Path:
    """Where the record of ``path`` lives: ``<folder>/.records/<name>.json``."""
    path = Path(path)
    return path.parent / RECORDS_DIR / f"{path.name}.json"


def _digest(content: str | bytes) -> tuple[str, int]:
    raw = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.sha256(raw).hexdigest(), len(raw)


def _hash_file(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def write(path: Path | str, content: str | bytes | Callable[[Path], None], *, made_from: str,
          inputs: dict[str, str] | None = None, kind: str = "", **extra) -> dict:
    """Write ``content`` to ``path`` atomically, then its record; return the record.

    ``content`` is text, bytes, or a function that writes a given temporary path (a parquet or PDF
    writer); in that last case the temporary file is hashed before it is renamed into place, so the
    record still describes exactly the bytes this call wrote. ``made_from`` is the fingerprint of
    what the file was made from; ``inputs`` the sha256 of the files it was made from, by name.
    Any failure (a full disk) leaves neither the file nor a record that could vouch for it."""
    path = Path(path)
    seen: dict[str, tuple[str, int]] = {}
    if callable(content):
        writer = content

        def hashed(tmp: Path) -> None:
            writer(tmp)
            seen["digest"] = _hash_file(tmp)

        body: str | bytes | Callable[[Path], None] = hashed
    else:
        body = content.encode("utf-8") if isinstance(content, str) else content
        seen["digest"] = _digest(body)
    record_path(path).unlink(missing_ok=True)   # no record may vouch for a file while it is replaced
    try:
        atomic_write(path, body)
        sha, size = seen["digest"]
        record = {"format": FORMAT, "file": path.name, "sha256": sha, "bytes": size, "made_from": made_from,
                  "inputs": dict(sorted((inputs or {}).items())), "kind": kind,
                  "written": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **extra}
        atomic_write(record_path(path), json.dumps(record, indent=1))
    except BaseException:
        withdraw(path)
        raise
    return record


def read(path: Path | str) -> dict | None:
    """The record of ``path`` (None when there is none, or it cannot be read)."""
    try:
        record = json.loads(record_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("format") == FORMAT else None


def intact(path: Path | str, record: dict | None = None) -> bool:
    """The file exists and has exactly the bytes its record describes."""
    record = read(path) if record is None else record
    if not record:
        return False
    try:
        if os.stat(path).st_size != record.get("bytes"):
            return False
        return _hash_file(Path(path))[0] == record.get("sha256")
    except OSError:
        return False


def trusted(path: Path | str, made_from: str | None = None) -> bool:
    """May a build reuse ``path``? Only if its record names ``made_from`` (when given) and its bytes are
    the ones recorded."""
    record = read(path)
    if record is None or (made_from is not None and record.get("made_from") != made_from):
        return False
    return intact(path, record)


def verified_bytes(path: Path | str, made_from: str | None = None) -> bytes | None:
    """The bytes of ``path``, read once and checked against its record (and ``made_from``, when given);
    None when the file is not trusted. What a reader parses is then exactly what was checked: the file
    cannot change between the check and the read."""
    record = read(path)
    if record is None or (made_from is not None and record.get("made_from") != made_from):
        return None
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return None
    return raw if _digest(raw) == (record.get("sha256"), record.get("bytes")) else None


def sha256(path: Path | str) -> str | None:
    """The recorded sha256 of a trusted file (None when it is not trusted): what a file made from it
    names among its ``inputs``."""
    record = read(path)
    return record["sha256"] if record and intact(path, record) else None


def withdraw(*paths: Path | str) -> None:
    """Remove each file and then its record (a missing one is fine)."""
    for path in paths:
        Path(path).unlink(missing_ok=True)
        record_path(path).unlink(missing_ok=True)


def recorded(root: Path | str) -> Iterator[Path]:
    """Every file under ``root`` that a record says this project wrote (whether or not it still exists)."""
    for folder in sorted(Path(root).rglob(RECORDS_DIR)):
        if folder.is_dir():
            for rec in sorted(folder.glob("*.json")):
                yield folder.parent / rec.name[: -len(".json")]


def fingerprint(*parts: str) -> str:
    """A fingerprint of what a file is made from: sha256 over the parts, in order."""
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()


class Busy(Exception):
    """Another process holds the output folder's lock."""


class BuildLock:
    """The lock a build (or ``clean``) holds on its output folder, so two never write into one folder at
    once: ``fcntl.flock`` on ``<out>/.peel-build.lock``, released when the holder ends, however it ends.
    :meth:`take` raises :class:`Busy` with the holder's pid and start time when it is taken."""

    def __init__(self, out: Path | str, name: str = ".peel-build.lock"):
        self.path = Path(out) / name
        self._fh = None

    def take(self, what: str = "build") -> "BuildLock":
        import fcntl

        fh = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise Busy(holder) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{what} (pid {os.getpid()}, since {dt.datetime.now().strftime('%H:%M:%S')})")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()       # closing the file releases the lock
            self._fh = None
