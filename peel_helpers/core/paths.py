"""Every path the project uses, resolved from the package location, never the current directory.

papermill and the batch runner execute notebooks from other working directories, so
nothing here may depend on ``os.getcwd()``.

Environment variables:

``PEEL_DATA_MIRROR``
    A folder holding the exact source files (for example an offline copy). When set, the
    fetcher copies from there instead of downloading; hashes are still checked.
``PEEL_DATA_DIR``
    Relocates ``data/raw`` and ``data/processed`` (default: the repository's ``data/``).
``PEEL_DATA_RETURN``
    A CSV in the HMICFRS data-return input layout (see ``data/README.md``) that adds to or
    replaces the published values in ``data/published/data_return.csv``.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent
PROJECT_ROOT = PACKAGE_DIR.parent
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
OUTPUTS_DIR = PROJECT_ROOT / "outputs"
REPO_DATA_DIR = PROJECT_ROOT / "data"
PUBLISHED_DIR = REPO_DATA_DIR / "published"
MANIFEST_PATH = REPO_DATA_DIR / "manifest.toml"
ASSUMPTIONS_PATH = REPO_DATA_DIR / "ASSUMPTIONS.md"


def data_dir() -> Path:
    """Root for fetched and derived data (``PEEL_DATA_DIR`` or the repository's ``data/``)."""
    override = os.environ.get("PEEL_DATA_DIR")
    return Path(override).expanduser().resolve() if override else REPO_DATA_DIR


def raw_dir() -> Path:
    """Where verified source files live. Never edited in place."""
    return data_dir() / "raw"


def processed_dir() -> Path:
    """Where the parquet cache lives."""
    return data_dir() / "processed"


def mirror_dir() -> Path | None:
    """The folder named by ``PEEL_DATA_MIRROR``, if any."""
    value = os.environ.get("PEEL_DATA_MIRROR")
    return Path(value).expanduser().resolve() if value else None
