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

Optional files (``required = false`` in the manifest) never stop a build. Those marked
``fetch = "if-reachable"`` (the outcomes workbooks the default report windows need) are
downloaded whenever their URL can be reached, with a short timeout; the first connection
failure ends all further attempts for that run, the missing files are listed once in a short
block, and the build goes on with what it has. A failed attempt is remembered for an hour
(``.optional-downloads.json`` in ``raw_dir()``) so that the steps of one ``make reports`` do not
each wait on the network again; ``make data`` always tries again. ``PEEL_OFFLINE=1`` turns all
downloads off (the test suite sets it).

Downloads use ``urllib`` from the standard library rather than pooch: the fetcher needs its
own temporary-file/rename handling, the mirror fallback and one-line error messages, and pooch
would add its own cache layout, logging and multi-line errors on top without saving code.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import manifest
from ..core.files import atomic_write, sha256_file
from ..core.errors import DataFileError, HashMismatchError
from .manifest import SourceFile
from ..core.paths import mirror_dir, raw_dir

CHUNK = 1 << 20
TIMEOUT_SECONDS = 60            # required files: a slow server is worth waiting for
OPTIONAL_TIMEOUT_SECONDS = 10   # optional files: give up quickly on a machine without internet
RETRY_AFTER_SECONDS = 3600      # an implicit build does not retry the network sooner than this
OFFLINE_ENV = "PEEL_OFFLINE"
MEMO_FILE = ".optional-downloads.json"


class UnreachableError(DataFileError):
    """The file's server could not be reached at all (no network, name lookup, refused, timed out)."""


def offline() -> bool:
    """True if ``PEEL_OFFLINE`` forbids every download (raw/ and the mirror are still used)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


# ---------------------------------------------------------------------------------------------
# Verification record (sidecar): avoids rehashing an unchanged file on every call.

def _sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}.verified")


def _stat_key(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_sidecar(path: Path, sha: str) -> None:
    record = {"sha256": sha, **_stat_key(path)}
    atomic_write(_sidecar(path), json.dumps(record))


def verified_sha256(path: Path) -> str:
    """sha256 of ``path``, from the sidecar if size and mtime are unchanged, else rehashed."""
    side = _sidecar(path)
    try:
        record = json.loads(side.read_text(encoding="utf-8"))
        if record.get("size") == path.stat().st_size and record.get("mtime_ns") == path.stat().st_mtime_ns:
            return record["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    sha = sha256_file(path)
    try:
        _write_sidecar(path, sha)
    except OSError:  # read-only folder: still correct, just slower next time
        pass
    return sha


def _check_existing(sf: SourceFile, path: Path, rehash: bool = False) -> Path:
    """``path`` if its sha256 is the pinned one. ``rehash`` hashes the file now, whatever its sidecar
    says (a file changed in place keeps its size and mtime, so only its bytes tell)."""
    if rehash:
        actual = sha256_file(path)
        try:
            _write_sidecar(path, actual)
        except OSError:
            pass
    else:
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


def _open_url(url: str, timeout: float):
    """The one place that touches the network (tests replace it): an open HTTP response."""
    request = urllib.request.Request(url, headers={"User-Agent": "peel-effectiveness data fetcher"})
    return urllib.request.urlopen(request, timeout=timeout)


def _not_downloaded(sf: SourceFile, dest: Path, reason: str, error=DataFileError) -> DataFileError:
    mirror = mirror_dir()
    in_mirror = f" (the mirror {mirror} does not hold it either)" if mirror else ""
    err = error(
        f"{sf.filename} is not in {dest.parent}{in_mirror} and could not be downloaded from {sf.url} ({reason}); "
        f"nothing was kept: connect to the internet and run `make data`, or set PEEL_DATA_MIRROR to a folder "
        f"holding the file, or download that URL into {dest.parent} yourself."
    )
    err.reason = reason
    return err


def _download(sf: SourceFile, dest: Path, timeout: float = TIMEOUT_SECONDS) -> Path:
    """Download ``sf`` into ``dest`` (verified). :class:`UnreachableError` if the server cannot be
    reached; another :class:`DataFileError` if it answers with an error or with the wrong bytes."""
    if offline():
        raise _not_downloaded(sf, dest, f"{OFFLINE_ENV} is set", UnreachableError)
    try:
        with _open_url(sf.url, timeout) as response:
            length = response.headers.get("Content-Length")
            return _copy_verified(sf, response, dest, sf.url, int(length) if length else None)
    except urllib.error.HTTPError as exc:       # the server answered: the network is fine
        raise _not_downloaded(sf, dest, f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", None) or exc.__class__.__name__
        if isinstance(exc, http.client.IncompleteRead):
            reason = f"connection closed after {len(exc.partial)} bytes"
        raise _not_downloaded(sf, dest, str(reason), UnreachableError) from None


def fetch(key: str, rehash: bool = False) -> Path:
    """Make sure the source file ``key`` is in ``raw_dir()`` with the pinned sha256; return its path.
    A file already there is hashed again with ``rehash`` (else its sidecar record is trusted while
    its size and mtime are unchanged); a copied or downloaded file is always hashed."""
    sf = manifest.get(key)
    dest = raw_dir() / sf.filename
    if dest.is_file():
        return _check_existing(sf, dest, rehash)
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


@dataclass
class OptionalOutcome:
    """What happened to the optional files one :func:`fetch_all` call looked at."""

    fetched: dict[str, Path] = field(default_factory=dict)      # key -> verified path
    missing: list[tuple[SourceFile, str]] = field(default_factory=list)   # (file, why)
    unreachable: str | None = None      # why the network could not be used, if it could not
    announce: bool = False              # True if the missing files should be reported now


def _memo_path() -> Path:
    return raw_dir() / MEMO_FILE


def _recent_failure() -> str | None:
    """The reason of a failed attempt less than RETRY_AFTER_SECONDS ago, else None."""
    try:
        memo = json.loads(_memo_path().read_text(encoding="utf-8"))
        if time.time() - float(memo["at"]) < RETRY_AFTER_SECONDS:
            return str(memo["reason"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _remember_failure(reason: str | None) -> None:
    try:
        if reason is None:
            _memo_path().unlink(missing_ok=True)
        else:
            _memo_path().parent.mkdir(parents=True, exist_ok=True)
            atomic_write(_memo_path(), json.dumps({"at": time.time(), "reason": reason}))
    except OSError:  # a read-only data folder only means the next build tries again
        pass


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def fetch_optional(files: list[SourceFile], retry: bool = True, rehash: bool = False) -> OptionalOutcome:
    """Get each optional file from raw/ or the mirror, else try its URL (short timeout).

    The first connection failure stops all further downloads. With ``retry=False`` a failure
    remembered from the last hour is not retried, and nothing is announced again.
    """
    result = OptionalOutcome()
    remembered = None if retry else _recent_failure()
    blocked = remembered
    tried = False
    for sf in files:
        if is_available(sf.key):
            result.fetched[sf.key] = fetch(sf.key, rehash)   # present but corrupt: a one-line error, as always
            continue
        if blocked is not None:
            result.missing.append((sf, ""))
            continue
        tried = True
        try:
            result.fetched[sf.key] = _download(sf, raw_dir() / sf.filename, timeout=OPTIONAL_TIMEOUT_SECONDS)
        except UnreachableError as exc:
            blocked = f"{OFFLINE_ENV} is set" if offline() else f"cannot reach {_host(sf.url)}: {_reason(exc)}"
            result.missing.append((sf, ""))
        except DataFileError as exc:                     # reachable, but an HTTP error or wrong bytes
            result.missing.append((sf, _reason(exc)))
    result.unreachable = blocked
    if tried:
        _remember_failure(blocked)
    result.announce = bool(result.missing) and (tried or remembered is None)
    return result


def _reason(exc: Exception) -> str:
    """The short cause of a failed download, for the missing-files block."""
    if getattr(exc, "reason", None):
        return str(exc.reason)
    if isinstance(exc, HashMismatchError):
        return "the server sent bytes whose sha256 differs from data/manifest.toml; nothing was kept"
    return str(exc)


def _what_it_adds(sf: SourceFile) -> str:
    """'outcomes 2015/16, quarters 1-4', noting a year that an older copy on disk covers meanwhile."""
    text = sf.covers or ", ".join(sf.tables) or "nothing the tables read yet"
    if sf.financial_year:
        stand_in = [other.filename for other in manifest.outcomes_files(sf.financial_year)
                    if other.key != sf.key and is_available(other.key)]
        if stand_in:
            text += f" (the newer official release; {stand_in[0]} covers that year meanwhile)"
    return text


def missing_message(outcome: OptionalOutcome) -> str:
    """A short block: which optional files are missing, what they would add, and how to get them."""
    why = f" ({outcome.unreachable})" if outcome.unreachable else ""
    lines = [f"Note: {len(outcome.missing)} optional source file(s) are not in {raw_dir()} or the mirror and "
             f"could not be downloaded{why}; carrying on without them:"]
    for sf, reason in outcome.missing:
        lines.append(f"  - {sf.filename} ({sf.size / 1e6:.0f} MB): would add {_what_it_adds(sf)}"
                     + (f" [{reason}]" if reason else ""))
    lines.append("  To add them, run `make data` with internet, or copy them into that folder or PEEL_DATA_MIRROR "
                 "(see data/README.md).")
    return "\n".join(lines)


def fetch_all(include_optional: bool = False, retry: bool = True, notify=None, rehash: bool = False) -> dict[str, Path]:
    """Fetch every required file (errors stop the build), then the optional files the default build
    wants (``fetch = "if-reachable"``; every optional file with ``include_optional``) when they can be
    had. Missing optional files are reported once through ``notify`` (default: standard error).
    ``rehash`` hashes every file already present again. Returns key -> verified path of every file
    now in ``raw_dir()``."""
    files = manifest.load_manifest()
    out = {key: fetch(key, rehash) for key, sf in files.items() if sf.required}
    optional = [sf for sf in files.values() if not sf.required and (sf.wanted or include_optional)]
    outcome = fetch_optional(optional, retry=retry, rehash=rehash)
    out.update(outcome.fetched)
    if outcome.announce:
        (notify or _to_stderr)(missing_message(outcome))
    return out


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
