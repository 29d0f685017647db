"""The data manifest (``data/manifest.toml``): which source files exist, where the exact bytes
come from, and how to check them.

``load_manifest()`` reads and validates the file once per process (it is re-read if the file
changes). Each entry becomes a frozen :class:`SourceFile`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import DataFileError
from ..core.paths import MANIFEST_PATH, mirror_dir, raw_dir

_REQUIRED_FIELDS = ("filename", "title", "publisher", "release", "landing_page", "url", "sha256", "size",
                    "licence", "mirrored", "required")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

# How the fetcher treats a file that is in neither data/raw nor the mirror (manifest field ``fetch``):
#   always       required: downloaded, and the build stops with an error if it cannot be had;
#   if-reachable wanted by the default build: downloaded when the URL can be reached, otherwise
#                listed once as missing and the build goes on without it;
#   on-request   downloaded only with --include-optional.
FETCH_POLICIES = ("always", "if-reachable", "on-request")
_FINANCIAL_YEAR = re.compile(r"^\d{4}/\d{2}$")


@dataclass(frozen=True)
class SourceFile:
    """One pinned source file."""

    key: str
    filename: str
    title: str
    publisher: str
    release: str
    landing_page: str
    url: str
    sha256: str
    size: int
    licence: str
    mirrored: bool
    required: bool
    covers: str = ""
    release_date: str = ""
    financial_year: str | None = None      # outcomes files only
    tables: tuple[str, ...] = field(default_factory=tuple)
    fetch: str = ""                        # one of FETCH_POLICIES; "" = the default for `required`

    def __post_init__(self):
        if not self.fetch:
            object.__setattr__(self, "fetch", "always" if self.required else "on-request")

    @property
    def optional(self) -> bool:
        return not self.required

    @property
    def wanted(self) -> bool:
        """True if the default build tries to download the file when it is missing."""
        return self.fetch in ("always", "if-reachable")

    def provenance(self) -> dict:
        """The fields that notebooks, source lines and the ledger cite."""
        return {"key": self.key, "filename": self.filename, "title": self.title, "publisher": self.publisher,
                "release": self.release, "url": self.url, "sha256": self.sha256}


_CACHE: dict[tuple, dict[str, SourceFile]] = {}


def _bad(path: Path, what: str) -> DataFileError:
    return DataFileError(f"Data manifest {path.name} is invalid: {what}. Fix the entry in data/manifest.toml.")


def _entry(path: Path, key: str, entry: dict, seen_names: set[str]) -> SourceFile:
    """One ``[files.<key>]`` table checked and turned into a :class:`SourceFile`."""
    missing = [f for f in _REQUIRED_FIELDS if f not in entry]
    if missing:
        raise _bad(path, f"entry {key!r} lacks {', '.join(missing)}")
    unknown = set(entry) - set(SourceFile.__dataclass_fields__) - {"key"}
    if unknown:
        raise _bad(path, f"entry {key!r} has unknown field(s) {', '.join(sorted(unknown))}")
    sha = str(entry["sha256"]).lower()
    if not _SHA256.match(sha):
        raise _bad(path, f"entry {key!r} has a malformed sha256")
    if not isinstance(entry["size"], int) or entry["size"] <= 0:
        raise _bad(path, f"entry {key!r} has a bad size")
    fy = entry.get("financial_year")
    if fy is not None and not _FINANCIAL_YEAR.match(str(fy)):
        raise _bad(path, f"entry {key!r} has financial_year {fy!r}; write it like '2017/18'")
    if entry["filename"] in seen_names:
        raise _bad(path, f"filename {entry['filename']!r} is listed twice")
    seen_names.add(entry["filename"])
    if entry["mirrored"] and not entry["required"]:
        raise _bad(path, f"entry {key!r} is mirrored but not required")
    policy = entry.get("fetch", "always" if entry["required"] else "on-request")
    if policy not in FETCH_POLICIES:
        raise _bad(path, f"entry {key!r} has fetch = {policy!r}; use one of {', '.join(FETCH_POLICIES)}")
    if (policy == "always") != bool(entry["required"]):
        raise _bad(path, f"entry {key!r} has required = {str(entry['required']).lower()} with fetch = {policy!r}; "
                         "a required file is fetched 'always', an optional one 'if-reachable' or 'on-request'")
    values = dict(entry)
    values["sha256"] = sha
    values["tables"] = tuple(entry.get("tables", ()))
    values["fetch"] = policy
    return SourceFile(key=key, **values)


def load_manifest(path: Path | None = None) -> dict[str, SourceFile]:
    """Manifest key -> :class:`SourceFile`, validated. Cached until the file changes."""
    path = Path(path) if path else MANIFEST_PATH
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise DataFileError(f"Data manifest {path} is missing: restore data/manifest.toml from the repository.") from None
    cache_key = (str(path), stat.st_mtime_ns, stat.st_size)
    if cache_key in _CACHE:
        return dict(_CACHE[cache_key])
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise _bad(path, f"TOML syntax error ({exc})") from None
    files = raw.get("files")
    if not isinstance(files, dict) or not files:
        raise _bad(path, "no [files.<key>] entries")
    seen_names: set[str] = set()
    out = {key: _entry(path, key, entry, seen_names) for key, entry in files.items()}
    _CACHE.clear()
    _CACHE[cache_key] = out
    return dict(out)


def get(key: str) -> SourceFile:
    """The manifest entry ``key``, or a one-line error listing the keys."""
    files = load_manifest()
    if key not in files:
        raise DataFileError(f"No source file {key!r} in data/manifest.toml: use one of {', '.join(files)}.")
    return files[key]


def for_table(table: str) -> list[SourceFile]:
    """Manifest entries that can feed ``table`` (required and optional)."""
    return [sf for sf in load_manifest().values() if table in sf.tables]


def _present(sf: SourceFile) -> bool:
    """True if the file is already in data/raw or in the mirror folder (not checked here)."""
    if (raw_dir() / sf.filename).is_file():
        return True
    mirror = mirror_dir()
    return bool(mirror and (mirror / sf.filename).is_file())


def outcomes_files(financial_year: str) -> list[SourceFile]:
    """All files that hold outcomes for ``financial_year``, newest release first."""
    found = [sf for sf in load_manifest().values()
             if "outcomes" in sf.tables and sf.financial_year == financial_year]
    return sorted(found, key=lambda sf: (sf.release_date, sf.required), reverse=True)


def outcomes_file_for(financial_year: str, prefer_present: bool = True) -> SourceFile | None:
    """Which file supplies (or would supply) crime outcomes for ``financial_year``.

    With ``prefer_present`` (default), a file already in data/raw or the mirror wins, the newest
    release first, which is the file the cache uses. Otherwise, or if none is present, the newest
    release listed: the file a user would download to fill that year. ``None`` if no file covers it.
    """
    candidates = outcomes_files(str(financial_year).strip())
    if not candidates:
        return None
    if prefer_present:
        for sf in candidates:
            if _present(sf):
                return sf
    return candidates[0]
