"""Get the pinned source files into ``data/raw/`` and prove they are the right bytes.

Order of sources for a file that is not yet in ``raw_dir()``:

1. the folder named by ``PEEL_DATA_MIRROR`` (an offline copy), if it holds the file;
2. the pinned URL from ``data/manifest.toml``.

Either way the bytes go to a temporary file in the same folder, are hashed while they are
written, and are renamed into place only when size and sha256 match the manifest. An
interrupted or corrupt transfer therefore never leaves a file that looks complete.

A file already in ``raw_dir()`` is trusted without rehashing when its size and modification
time equal those recorded the last time it was verified (a small ``.<name>.verified`` sidecar
next to it); otherwise it is rehashed.

Downloads use ``urllib`` from the standard library rather than pooch: the fetcher needs its
own temporary-file/rename handling, the mirror fallback and one-line error messages, and pooch
would add its own cache layout, logging and multi-line errors on top without saving code.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from . import manifest
from ..core.errors import DataFileError, HashMismatchError
from .manifest import SourceFile
from ..core.paths import mirror_dir, raw_dir

CHUNK = 1 << 20
TIMEOUT_SECONDS = 60


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Verification record (sidecar): avoids rehashing an unchanged file on every call.

def _sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}.verified")


def _stat_key(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_sidecar(path: Path, sha: str) -> None:
    record = {"sha256": sha, **_stat_key(path)}
    _atomic_write_text(_sidecar(path), json.dumps(record))


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def verified_sha256(path: Path) -> str:
    """sha256 of ``path``, from the sidecar if size and mtime are unchanged, else rehashed."""
    side = _sidecar(path)
    try:
        record = json.loads(side.read_text(encoding="utf-8"))
        if record.get("size") == path.stat().st_size and record.get("mtime_ns") == path.stat().st_mtime_ns:
            return record["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    sha = sha256_of(path)
    try:
        _write_sidecar(path, sha)
    except OSError:  # read-only folder: still correct, just slower next time
        pass
    return sha


def _check_existing(sf: SourceFile, path: Path) -> Path:
    actual = verified_sha256(path)
    if actual != sf.sha256:
        raise HashMismatchError(
            f"{sf.filename} in {path.parent} has sha256 {actual} but the manifest expects {sf.sha256}: "
            f"delete {path} and run `make data` again to re-fetch it (if it came from PEEL_DATA_MIRROR, "
            "check the copy there)."
        )
    return path


# ---------------------------------------------------------------------------------------------
# Transfers

def _copy_verified(sf: SourceFile, reader, dest: Path, origin: str, expected_size: int | None = None) -> Path:
    """Stream ``reader`` into a temp file next to ``dest``, check size+sha256, then rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while True:
                block = reader.read(CHUNK)
                if not block:
                    break
                h.update(block)
                out.write(block)
                size += len(block)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; source files are ordinary readable files
        if expected_size is not None and size != expected_size:
            raise DataFileError(
                f"{sf.filename}: transfer from {origin} stopped after {size} of {expected_size} bytes; "
                "nothing was kept: run `make data` again (or check the network / the mirror)."
            )
        actual = h.hexdigest()
        if actual != sf.sha256:
            where = "check the copy in PEEL_DATA_MIRROR" if origin.startswith("mirror") else \
                "the server sent different bytes; check the URL in data/manifest.toml"
            raise HashMismatchError(
                f"{sf.filename} from {origin} has sha256 {actual} ({size} bytes) but the manifest expects "
                f"{sf.sha256} ({sf.size} bytes); nothing was kept: {where}, then run `make data` again."
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        _write_sidecar(dest, sf.sha256)
    except OSError:
        pass
    return dest


def _from_mirror(sf: SourceFile, src: Path, dest: Path) -> Path:
    with open(src, "rb") as fh:
        return _copy_verified(sf, fh, dest, f"mirror {src.parent}", expected_size=None)


def _download(sf: SourceFile, dest: Path) -> Path:
    import http.client

    request = urllib.request.Request(sf.url, headers={"User-Agent": "peel-effectiveness data fetcher"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            length = response.headers.get("Content-Length")
            return _copy_verified(sf, response, dest, sf.url, int(length) if length else None)
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", None) or exc.__class__.__name__
        if isinstance(exc, http.client.IncompleteRead):
            reason = f"connection closed after {len(exc.partial)} bytes"
        mirror = mirror_dir()
        in_mirror = f" (the mirror {mirror} does not hold it either)" if mirror else ""
        raise DataFileError(
            f"{sf.filename} is not in {dest.parent}{in_mirror} and could not be downloaded from {sf.url} ({reason}); "
            f"nothing was kept: connect to the internet and run `make data`, or set PEEL_DATA_MIRROR to a folder "
            f"holding the file, or download that URL into {dest.parent} yourself."
        ) from None


def fetch(key: str) -> Path:
    """Make sure the source file ``key`` is in ``raw_dir()`` with the pinned sha256; return its path."""
    sf = manifest.get(key)
    dest = raw_dir() / sf.filename
    if dest.is_file():
        return _check_existing(sf, dest)
    mirror = mirror_dir()
    if mirror is not None:
        src = mirror / sf.filename
        if src.is_file():
            return _from_mirror(sf, src, dest)
    return _download(sf, dest)


def is_available(key: str) -> bool:
    """True if ``key`` is already in ``raw_dir()`` or can be copied from the mirror (no network)."""
    sf = manifest.get(key)
    if (raw_dir() / sf.filename).is_file():
        return True
    mirror = mirror_dir()
    return bool(mirror and (mirror / sf.filename).is_file())


def fetch_all(include_optional: bool = False) -> dict[str, Path]:
    """Fetch every required file (and the optional ones if asked). Returns key -> path."""
    out: dict[str, Path] = {}
    for key, sf in manifest.load_manifest().items():
        if sf.required or include_optional:
            out[key] = fetch(key)
    return out
