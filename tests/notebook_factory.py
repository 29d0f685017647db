"""Small report-shaped notebooks written by tests into temporary ``--notebooks`` folders."""

from __future__ import annotations

from pathlib import Path

import nbformat

PARAMETERS = 'force: str = "Cambridgeshire"\nperiod_end: str = "2017-06-30"\n'


def write_notebook(path: Path, *cells: str, title: str = "") -> Path:
    """A notebook with the usual ``parameters`` cell (force, period_end), then ``cells`` as code."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "peel-effectiveness", "display_name": "Python (peel-effectiveness)",
                                 "language": "python"}
    if title:
        nb.metadata["title"] = title
    first = nbformat.v4.new_code_cell(PARAMETERS)
    first.metadata["tags"] = ["parameters"]
    nb.cells = [first] + [nbformat.v4.new_code_cell(src) for src in cells]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
