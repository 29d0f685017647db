"""The batch runner: scope checks, failures kept apart, resumable and atomic, the index."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from peel_helpers import cli
from peel_helpers.batch import checks, jobs as batch_jobs, runner
from peel_helpers.core.errors import ParameterError
from peel_helpers.core.paths import PROJECT_ROOT

from notebook_factory import write_notebook


# --------------------------------------------------------------------------- no kernel needed

def test_sections_and_picking():
    available = checks.sections()
    assert "01_force_in_numbers" in available and "02_figure1_action_taken" in available
    assert checks.pick_sections(["02"], available) == ["02_figure1_action_taken"]
    assert checks.pick_sections(["force_in_numbers", "01_force_in_numbers"], available) == ["01_force_in_numbers"]
    with pytest.raises(ParameterError, match="is not a section"):
        checks.pick_sections(["99_nothing"], available)


def test_notebook_parameters_are_typed_defaults():
    params = batch_jobs.notebook_parameters(PROJECT_ROOT / "notebooks" / "02_figure1_action_taken.ipynb")
    assert params == {"force": "'Cambridgeshire'", "period_end": "'2017-06-30'", "comparison_period_end": "''"}


def test_bad_force_name_stops_before_anything_runs(tmp_path, capsys):
    code = cli.main(["build", "--force", "Cambridgeshire", "--force", "Atlantis Constabulary",
                        "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and err[0].startswith("ERROR: Unknown force 'Atlantis Constabulary'")
    assert not list(tmp_path.rglob("*.html"))


def test_bad_period_and_section_are_one_line_errors(tmp_path, capsys):
    assert cli.main(["build", "--period", "2017-05-31", "--out", str(tmp_path)]) == 2
    assert "not a quarter end" in capsys.readouterr().err
    assert cli.main(["build", "--section", "nope", "--out", str(tmp_path)]) == 2
    assert "is not a section" in capsys.readouterr().err


def test_missing_kernel_says_run_make_setup(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(checks, "KERNEL_NAME", "no-such-kernel-here")
    assert cli.main(["build", "--force", "Kent", "--out", str(tmp_path)]) == 2
    assert "run make setup" in capsys.readouterr().err


def test_bad_force_from_the_console_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "peel_helpers", "--force", "Nowhere", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert proc.stderr.strip().startswith("ERROR: Unknown force 'Nowhere'")
    assert not list(tmp_path.rglob("*.html"))


def test_fingerprint_changes_with_parameters_and_inputs(tmp_path):
    from peel_helpers.core.forces import resolve
    from peel_helpers.core.periods import Period

    forces = [resolve("Kent")]
    a = batch_jobs.make_jobs(forces, ["01_force_in_numbers"], [Period.parse("2017-06-30")], tmp_path, {"x": "1"}, [])
    b = batch_jobs.make_jobs(forces, ["01_force_in_numbers"], [Period.parse("2018-03-31")], tmp_path, {"x": "1"}, [])
    c = batch_jobs.make_jobs(forces, ["01_force_in_numbers"], [Period.parse("2017-06-30")], tmp_path, {"x": "2"}, [])
    assert len({a[0].fingerprint, b[0].fingerprint, c[0].fingerprint}) == 3
    assert a[0].ipynb == tmp_path / "2017-06-30" / "kent" / "01_force_in_numbers.ipynb"
    assert not batch_jobs.up_to_date(a[0])


# --------------------------------------------------------------------------- real runs

def _count(stdout: str, label: str) -> int:
    return int(next(line for line in stdout.splitlines() if line.startswith(label)).split()[-1])


@pytest.mark.realdata
@pytest.mark.notebooks
def test_failed_run_is_kept_apart(real_data_dir, tmp_path):
    """A notebook that raises is never a result: failed/ copy, no HTML, a one-line reason, the index."""
    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks / "01_breaks.ipynb", "print('before the failure')",
                   "raise ValueError('deliberate failure\\nsecond line of the message')")
    out = tmp_path / "out"
    code = cli.main(["build", "--notebooks", str(notebooks), "--force", "Kent", "--period", "2018-03-31",
                        "--out", str(out), "--quiet"])
    assert code == 1
    folder = out / "2018-03-31" / "kent"
    kept = folder / "failed" / "01_breaks.ipynb"
    assert kept.is_file() and "deliberate failure" in kept.read_text()
    assert not (folder / "01_breaks.html").exists()
    assert not (folder / "01_breaks.ipynb").exists()
    record = json.loads((folder / "01_breaks.status.json").read_text())
    assert record["status"] == "failed" and record["reason"] == "ValueError: deliberate failure"
    index = (out / "index.html").read_text()
    assert re.search(r"\b0 section pages\b[^.]*\b1 failed\.", index)


def test_notebooks_folder_without_reports_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["build", "--notebooks", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no NN_*.ipynb report notebooks" in err[0]


@pytest.mark.realdata
@pytest.mark.notebooks
def test_interrupted_batch_resumes(real_data_dir, tmp_path):
    """SIGTERM mid-batch, then the same command: finished outputs are kept and only the rest run.
    SYNTHETIC sections: the first finishes at once, the others wait while a marker file exists, so
    the interruption always comes after the first report and before the others."""
    marker = tmp_path / "hold"
    marker.touch()
    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks / "01_quick.ipynb", "1 + 1")
    for name in ("02_waits", "03_waits"):
        write_notebook(notebooks / f"{name}.ipynb", f"import os, time\nwhile os.path.exists({str(marker)!r}):\n"
                                                     "    time.sleep(0.05)")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "peel_helpers", "build", "--notebooks", str(notebooks), "--force", "Kent",
           "--period", "2018-03-31", "--jobs", "1", "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    folder = out / "2018-03-31" / "kent"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not list(folder.glob("*.status.json")):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    first = {p.name: p.stat().st_mtime_ns for p in folder.glob("[0-9][0-9]_*.ipynb")}   # the executed notebooks
    assert list(first) == ["01_quick.ipynb"], "the interruption should come after the first notebook"
    assert not list(folder.glob("*.html")), "pages are published after the batch, never from a part of it"
    assert not list(folder.glob(".*.tmp")), "no half-written file may look finished"
    marker.unlink()

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert again.returncode == 0, again.stdout + again.stderr
    assert _count(again.stdout, "skipped") == len(first)
    assert _count(again.stdout, "done") == 3 - len(first)
    assert _count(again.stdout, "failed") == 0
    for name, mtime in first.items():
        assert (folder / name).stat().st_mtime_ns == mtime  # finished outputs untouched
    assert len(list(folder.glob("[0-9][0-9]_*.html"))) == 3 and (folder / "report.html").is_file()


def test_a_bad_data_return_file_stops_the_build_once(tmp_path, capsys, monkeypatch):
    """An empty or misspelt data-return file: one line before any notebook runs, nothing written."""
    from peel_helpers.measures import datareturn

    bad = tmp_path / "bad.csv"
    for body, text in (("", "bad.csv is empty"),
                       ("force,period_end,measure,numerator\nKent,2017-06-30,da_arest,5\n", "unknown measure")):
        bad.write_text(body, encoding="utf-8")
        monkeypatch.setenv(datareturn.ENV_VAR, str(bad))
        code = cli.main(["build", "--force", "Kent", "--out", str(tmp_path / "out"), "--quiet"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and text in err[0] and err[0].startswith("ERROR: ")
        assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("error, retried", [
    (RuntimeError("Kernel died before replying to kernel_info"), True),
    (TimeoutError("Kernel didn't respond in 120 seconds"), True),
    (RuntimeError("ZeroDivisionError: division by zero"), False),   # a failing cell: never run again
])
def test_a_kernel_that_does_not_start_is_started_again_once(tmp_path, monkeypatch, error, retried):
    import nbformat

    from peel_helpers.batch import jobs
    from peel_helpers.core.forces import resolve
    from peel_helpers.core.periods import Period
    from notebook_factory import write_notebook

    path = write_notebook(tmp_path / "nb" / "01_probe.ipynb", "1 + 1")
    (job,) = batch_jobs.make_jobs([resolve("Kent")], ["01_probe"], [Period.parse("2018-03-31")], tmp_path / "out",
                              {"x": "1"}, [], tmp_path / "nb")
    calls = []

    def fake_execute(job, tmp, kernel_start, shared_process):   # no kernel: a SYNTHETIC stand-in
        calls.append(kernel_start)
        if len(calls) == 1:
            raise error
        return nbformat.read(path, as_version=4)

    monkeypatch.setattr(jobs, "_execute", fake_execute)
    record = batch_jobs.run_job(job)
    assert len(calls) == (2 if retried else 1)
    assert record["status"] == ("done" if retried else "failed")
    assert job.ipynb.is_file() == retried


def test_a_worker_prestarts_the_template_its_jobs_use(tmp_path, monkeypatch):
    """The key of the template a worker starts at once must be the key every job then asks for: a
    key made in the parent (whose environment the worker changes) would make the first job close
    the prestarted template and start another one."""
    from peel_helpers.batch import jobs as batch_jobs, kernels
    from peel_helpers.core.forces import resolve
    from peel_helpers.core.periods import Period

    write_notebook(tmp_path / "nb" / "01_probe.ipynb", "1 + 1")
    jobs = batch_jobs.make_jobs([resolve("Kent"), resolve("Dorset")], ["01_probe"], [Period.parse("2018-03-31")],
                            tmp_path / "out", {"x": "1"}, [], tmp_path / "nb")
    environ = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "PYDEVD_DISABLE_FILE_VALIDATION")}
    monkeypatch.setattr(os, "environ", environ)     # the parent's environment, restored afterwards
    monkeypatch.setattr(signal, "signal", lambda *args: None)
    args = runner.worker_args(jobs, None, "fork")   # made in the parent
    started = []
    monkeypatch.setattr(kernels, "prestart", lambda name, key, channel=None: started.append(key) or "started")
    batch_jobs.init_worker(*args)                   # in the worker
    assert started == [kernels.template_key(job.context) for job in jobs[:1]]
    assert {kernels.template_key(job.context) for job in jobs} == set(started)
    assert runner.worker_args(jobs, None, "fresh")[1] == ""   # fresh kernels: no template


def test_a_notebook_that_is_not_json_is_one_line(tmp_path, capsys):
    """Case 13: a file named like a section that is not a notebook stops the build before anything runs."""
    notebooks = tmp_path / "nb"
    write_notebook(notebooks / "01_fine.ipynb", "1 + 1")
    (notebooks / "02_broken.ipynb").write_text("this is not JSON {", encoding="utf-8")
    assert cli.main(["build", "--notebooks", str(notebooks), "--force", "Kent", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "02_broken.ipynb is not a Jupyter notebook" in err[0] and err[0].startswith("ERROR: ")
    assert not (tmp_path / "out").exists()
    write_notebook(notebooks / "02_broken.ipynb", "1 + 1")
    nb = json.loads((notebooks / "02_broken.ipynb").read_text())
    nb["cells"][0]["metadata"]["tags"] = []
    (notebooks / "02_broken.ipynb").write_text(json.dumps(nb))
    assert cli.main(["build", "--notebooks", str(notebooks), "--force", "Kent", "--out", str(tmp_path / "out")]) == 2
    assert "has no cell tagged 'parameters'" in capsys.readouterr().err
