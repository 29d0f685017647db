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
