"""File helpers every layer shares: sha256 of files and text, atomic writes, and the checks a command
makes before it writes where a user told it to.

An atomic write goes to a temporary file in the target's folder and is renamed over the target
only when complete, so a reader (or an interrupted batch) never sees a half-written file;
:func:`write_all` does the same for several files at once (all of them or none).
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Callable

from .errors import OutputError

CHUNK = 1 << 20


def sha256_file(path: Path | str) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def sha256_text(*parts: str) -> str:
    """Hex sha256 of the given strings joined by '|' (a key for caches and fingerprints)."""
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()


def atomic_write(path: Path | str, content: str | bytes | Callable[[Path], None]) -> Path:
    """Write ``content`` (text, bytes, or a function that writes a given temporary path) to ``path``
    atomically; the temporary file never survives a failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if callable(content):
            content(Path(tmp))
        else:
            Path(tmp).write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        os.chmod(tmp, 0o644)   # mkstemp creates 0600; outputs are ordinary readable files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def code_sha256(package_dir: Path) -> str:
    """One hash over a package's code and bundled tables: computed results depend on them too."""
    h = hashlib.sha256()
    for path in sorted(list(package_dir.rglob("*.py")) + list(package_dir.rglob("*.csv"))):
        h.update(path.relative_to(package_dir).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def check_writable(path: Path | str, option: str, *, folder: bool = False, example: str = "",
                   what: str = "the CSV files") -> Path:
    """``path`` as given, if a file can be written there (with ``folder``: files can be written into it,
    creating it if need be); else a one-line :class:`OutputError` that names ``option`` and says what is
    wrong. Nothing is created. ``example`` is a file name to suggest when a folder is given for a file;
    ``what`` names what a folder is for ("the reports")."""
    path = Path(path).expanduser()
    if path.exists():
        mode = path.stat().st_mode
        if folder and not stat.S_ISDIR(mode):
            raise OutputError(f"{option} {path} is a file, not a folder: name a folder for {what} "
                              "(it is created if it does not exist).")
        if not folder and stat.S_ISDIR(mode):
            raise OutputError(f"{option} {path} is a folder: name the file to write"
                              + (f", e.g. {path / example}." if example else "."))
        if not folder and not stat.S_ISREG(mode):
            raise OutputError(f"{option} {path} is not a regular file (a device or a named pipe): name a new or "
                              "existing .csv file.")
    existing = path if path.exists() and folder else path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{option} {path}: {existing} is a file, not a folder: name a path inside a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        why = "read-only file system" if _read_only_fs(existing) else "permission denied"
        raise OutputError(f"{option} {path}: cannot write in {existing} ({why}): name a folder you can write to.")
    return path


def write_all(contents: dict[Path, str | bytes], option: str) -> None:
    """Write several files so that either every one is replaced or none is: each goes to a temporary
    file beside its target, and only when all are complete are they renamed into place. A failure (a
    full disk, a read-only place) is a one-line :class:`OutputError` naming ``option``; it leaves no
    temporary file, and no folder this call created."""
    staged: list[tuple[Path, Path]] = []
    created: list[Path] = []
    replaced: list[str] = []
    path = Path(next(iter(contents)))
    try:
        for path, content in contents.items():
            path = Path(path)
            missing = [p for p in [path.parent, *path.parent.parents] if not p.exists()]
            path.parent.mkdir(parents=True, exist_ok=True)
            created += reversed(missing)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            os.close(fd)
            staged.append((Path(tmp), path))
            Path(tmp).write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
            os.chmod(tmp, 0o644)
        for tmp, path in staged:
            os.replace(tmp, path)
            replaced.append(path.name)
    except OSError as err:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                pass
        done = f"only {', '.join(replaced)} was replaced" if replaced else "nothing was written"
        raise OutputError(f"{option} {path}: could not write ({err.strerror or type(err).__name__}); {done}: free "
                          "some space or name a place you can write to.") from None
