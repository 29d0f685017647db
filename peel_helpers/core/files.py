"""File helpers every layer shares: sha256 of files and text, and atomic writes.

An atomic write goes to a temporary file in the target's folder and is renamed over the target
only when complete, so a reader (or an interrupted batch) never sees a half-written file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Callable

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
