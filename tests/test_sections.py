"""The sections, declared once (notebooks/sections.toml): every report notebook has an entry, every
entry a notebook, every assumption id an item of the log; the runner, the report and the index all
read the same declaration."""

from __future__ import annotations

import re
import tomllib

import pytest

from peel_helpers.core import sections as declared
from peel_helpers.core.paths import ASSUMPTIONS_PATH, NOTEBOOKS_DIR


def _toml() -> dict:
    return tomllib.loads((NOTEBOOKS_DIR / "sections.toml").read_text(encoding="utf-8"))


def test_every_notebook_is_declared_and_every_declaration_has_a_notebook():
    on_disk = sorted(p.stem for p in NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    entries = [e["notebook"] for e in _toml()["section"]]
    assert sorted(entries) == on_disk
    assert len(entries) == len(set(entries))


def test_every_assumption_id_is_an_item_of_the_log():
    ids = set(re.findall(r"^### (A-[A-Z0-9-]+)", ASSUMPTIONS_PATH.read_text(encoding="utf-8"), re.M))
    data = _toml()
    used = set(data["everywhere"]) | {a for e in data["section"] for a in e.get("assumptions", [])}
    assert used and used <= ids, used - ids


def test_the_report_order_puts_closing_sections_last_and_keeps_the_declared_order():
    data = _toml()
    listed = [e["notebook"] for e in data["section"] if not e.get("closing")] + \
        [e["notebook"] for e in data["section"] if e.get("closing")]
    assert [s.notebook for s in declared.sections()] == listed
    assert declared.sections()[-1].notebook == "06_reproduction_ledger"


def test_a_section_gets_the_assumptions_that_apply_everywhere_and_its_own():
    data = _toml()
    figure1 = declared.section("02_figure1_action_taken")
    own = next(e for e in data["section"] if e["notebook"] == "02_figure1_action_taken")["assumptions"]
    assert set(figure1.assumptions) == set(data["everywhere"]) | set(own)


def test_the_runner_runs_the_declared_sections(tmp_path):
    from peel_helpers.batch import checks

    assert checks.sections() == [s.notebook for s in declared.sections()]
    folder = tmp_path / "mine"       # a folder of one's own without a declaration: NN order, titles from metadata
    folder.mkdir()
    from notebook_factory import write_notebook

    write_notebook(folder / "02_second.ipynb", "1", title="The second one")
    write_notebook(folder / "01_first.ipynb", "1")
    assert checks.sections(folder) == ["01_first", "02_second"]
    assert [s.title for s in declared.sections(folder)] == ["First", "The second one"]


def test_a_broken_declaration_is_one_line(tmp_path):
    from peel_helpers.core.errors import DataFileError

    (tmp_path / "sections.toml").write_text("[[section]]\ntitle = 'no notebook'\n")
    with pytest.raises(DataFileError, match="needs a notebook and a title"):
        declared.sections(tmp_path)
