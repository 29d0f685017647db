"""The report's sections, declared once (``notebooks/sections.toml``).

Everything that needs to know the sections reads them here: the batch runner (which notebooks a
build runs, and ``--section`` names), the combined report (order, titles, which section closes it),
the index (column headers) and the assumption links (which items of ``data/ASSUMPTIONS.md`` apply
to a section).

A folder of one's own notebooks (``peel-reports build --notebooks DIR``) may carry its own
``sections.toml``; without one, its ``NN_*.ipynb`` notebooks are the sections, in ``NN`` order,
titled by their metadata ``title`` (or their file name), with only the assumptions that apply
everywhere.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import DataFileError
from .paths import NOTEBOOKS_DIR

DECLARATION = "sections.toml"
PATTERN = "[0-9][0-9]_*.ipynb"


@dataclass(frozen=True)
class Section:
    notebook: str                      # file stem, e.g. "02_figure1_action_taken"
    title: str
    short: str
    assumptions: tuple[str, ...] = ()  # ids of data/ASSUMPTIONS.md items, "everywhere" ones included
    closing: bool = False              # printed after "About the data"
    new_page: bool = False             # starts a new printed page (when it has a chart or panel to show)

    @property
    def number(self) -> str:
        return self.notebook.split("_", 1)[0]

    @property
    def name(self) -> str:
        return self.notebook.split("_", 1)[1] if "_" in self.notebook else self.notebook


def _title_of(path: Path) -> str:
    try:
        title = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("title")
    except (OSError, ValueError, AttributeError):
        title = None
    return title or path.stem.partition("_")[2].replace("_", " ").capitalize()


@lru_cache(maxsize=8)
def _declared(folder: Path) -> tuple[Section, ...]:
    path = folder / DECLARATION
    if not path.is_file():
        return tuple(Section(p.stem, _title_of(p), _title_of(p)) for p in sorted(folder.glob(PATTERN)))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise DataFileError(f"{path} cannot be read ({err}): fix it, or restore it with git checkout.") from None
    everywhere = tuple(data.get("everywhere", ()))
    out = []
    for entry in data.get("section", []):
        try:
            out.append(Section(entry["notebook"], entry["title"], entry.get("short", entry["title"]),
                               everywhere + tuple(a for a in entry.get("assumptions", ()) if a not in everywhere),
                               bool(entry.get("closing", False)), bool(entry.get("new_page", False))))
        except (KeyError, TypeError):
            raise DataFileError(f"{path}: every [[section]] needs a notebook and a title; fix the entry "
                                f"{entry!r}.") from None
    return tuple(out)


def sections(folder: Path | str = NOTEBOOKS_DIR) -> tuple[Section, ...]:
    """The sections of a notebooks folder, in the combined report's order (closing ones last)."""
    declared = _declared(Path(folder).resolve())
    return tuple(s for s in declared if not s.closing) + tuple(s for s in declared if s.closing)


def by_notebook(folder: Path | str = NOTEBOOKS_DIR) -> dict[str, Section]:
    return {s.notebook: s for s in sections(folder)}


def section(notebook: str, folder: Path | str = NOTEBOOKS_DIR) -> Section:
    """The declared section of a notebook stem; an undeclared one gets a title from its name."""
    found = by_notebook(folder).get(notebook)
    if found is not None:
        return found
    title = notebook.partition("_")[2].replace("_", " ").capitalize() or notebook
    return Section(notebook, title, title)
