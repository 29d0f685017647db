"""Committed notebooks carry no outputs (the CI check; also `make check-notebooks`)."""

from __future__ import annotations

import json
import subprocess

import pytest

from peel_helpers.core.paths import NOTEBOOKS_DIR, PROJECT_ROOT


def _notebooks():
    try:
        listed = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                                check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        listed = []
    paths = {PROJECT_ROOT / p for p in listed} | set(NOTEBOOKS_DIR.glob("*.ipynb"))
    return sorted(p for p in paths if p.is_file())


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_notebook_has_no_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; run nbstripout {path.relative_to(PROJECT_ROOT)}"
    assert "papermill" not in nb.get("metadata", {}), f"{path.name} is an executed copy (papermill metadata)"
    assert nb["metadata"].get("kernelspec", {}).get("name") == "peel-effectiveness", path.name


def test_there_are_notebooks():
    assert len(_notebooks()) >= 5


def test_the_readme_stays_short_and_its_simulation_figures_are_the_benchmarks():
    """The README is for readers (under 200 lines); its table of how often a verdict flags by chance
    gives the ranges of the benchmark's table in docs/statistics.md, not figures of its own."""
    import re

    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 200
    rows = [line.split("|")[1:-1] for line in (PROJECT_ROOT / "docs" / "statistics.md").read_text(encoding="utf-8")
            .splitlines() if line.startswith("| ") and re.match(r"\| [A-Z]", line) and "measure" not in line]
    assert len(rows) == 11
    number = lambda cell: float(cell.split("(")[0])                                     # noqa: E731
    per_head = [r for r in rows if "per 1,000" in r[0]]
    others = [r for r in rows if "per 1,000" not in r[0]]
    span = lambda rs, col: f"{min(number(r[col]) for r in rs):.2f}–{max(number(r[col]) for r in rs):.2f}"  # noqa: E731
    assert f"| 0.08 | {span(per_head, 3)} | 0.08 |" in readme
    assert f"| 0.09 | {span(others, 3)} | {span(others, 4)} |" in readme
    every = lambda col: f"{min(number(r[col]) for r in rows):.1f}–{max(number(r[col]) for r in rows):.1f}"  # noqa: E731
    assert f"| 2.1 | {every(6)} | {every(7)} |" in readme
