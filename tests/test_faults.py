"""The batch runner under faults, as a user meets them: the runner killed, a worker killed, the only
Dask worker gone, Ctrl-C and SIGTERM, a bad ``--out``, a kernel that dies mid-cell, a full disk.

Every process a run starts carries the run's own ``PEEL_TEST_TAG`` in its environment (it is set
only in the runner's environment, and every worker, template and kernel inherits it), so "a process
from the run" means exactly that here, whatever else runs on the machine at the same time.

The notebooks are SYNTHETIC sections that hold their kernels while a marker file exists and record
each kernel's pid as they start, so a fault always lands mid-batch however fast the machine is.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from peel_helpers import cli
from peel_helpers.batch import checks, jobs as batch_jobs, runner

from notebook_factory import write_notebook


# --------------------------------------------------------------------------- running a build

def run_processes(tag: str) -> list[psutil.Process]:
    """Live processes (not zombies) whose environment carries ``PEEL_TEST_TAG=tag``."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get("PEEL_TEST_TAG") == tag and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def wait_until_gone(tag: str, seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := run_processes(tag)) and time.monotonic() < deadline:
        time.sleep(0.1)
    out = []
    for proc in left:
        try:
            out.append(f"{proc.pid}: {' '.join(proc.cmdline())[:100]}")
        except psutil.Error:
            continue
    return out


class Held:
    """SYNTHETIC sections whose kernels write their pid into ``started/`` and then wait while ``hold``
    exists."""

    def __init__(self, root: Path, names: list[str], quick: list[str] = ()):
        self.root, self.hold, self.started = root, root / "hold", root / "started"
        self.started.mkdir(parents=True)
        self.hold.touch()
        self.notebooks = root / "notebooks"
        for name in quick:
            write_notebook(self.notebooks / f"{name}.ipynb", "print('quick')")
        for name in names:
            write_notebook(self.notebooks / f"{name}.ipynb",
                           f"import os, time, pathlib\npathlib.Path({str(self.started)!r}, str(os.getpid())).touch()\n"
                           f"while os.path.exists({str(self.hold)!r}):\n    time.sleep(0.05)")

    def kernels(self) -> list[int]:
        return sorted(int(p.name) for p in self.started.iterdir())

    def wait_for(self, n: int, proc: subprocess.Popen, seconds: float = 180) -> list[int]:
        deadline = time.monotonic() + seconds
        while len(self.kernels()) < n:
            if proc.poll() is not None:
                raise AssertionError(f"the runner ended early: {proc.communicate()}")
            assert time.monotonic() < deadline, f"fewer than {n} kernels started"
            time.sleep(0.05)
        return self.kernels()

    def release(self) -> None:
        self.hold.unlink(missing_ok=True)


def build_cmd(notebooks: Path, out: Path, *extra: str, forces=("Kent",)) -> list[str]:
    cmd = [sys.executable, "-m", "peel_helpers", "build", "--notebooks", str(notebooks), "--period", "2018-03-31",
           "--out", str(out), "--quiet", *extra]
    for force in forces:
        cmd += ["--force", force]
    return cmd


def start(cmd: list[str], tag: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PEEL_TEST_TAG": tag}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True, **kwargs)


def count(stdout: str, label: str) -> int:
    """A count from the summary table the build prints last."""
    return int(next(line for line in stdout.splitlines()
                    if line.startswith(label) and line.split()[-1].isdigit()).split()[-1])


def index_summary(out: Path) -> tuple[int, int]:
    text = (out / "index.html").read_text(encoding="utf-8")
    found = re.search(r"\b(\d+) section pages\b[^.]*?\b(\d+) failed\.", text)
    return int(found.group(1)), int(found.group(2))


# --------------------------------------------------------------------------- the runner is killed

@pytest.mark.realdata
@pytest.mark.notebooks
@pytest.mark.parametrize("kernel_start", ["fork", "fresh"])
def test_killing_the_runner_leaves_no_process_of_the_run(real_data_dir, tmp_path, kernel_start):
    """SIGKILL (as from the out-of-memory killer) mid-batch: every worker, template and kernel of the
    run goes within a few seconds, and none of them writes an output afterwards."""
    tag = uuid.uuid4().hex
    held = Held(tmp_path, ["01_waits", "02_waits"])
    out = tmp_path / "out"
    proc = start(build_cmd(held.notebooks, out, "--jobs", "2", "--kernel-start", kernel_start,
                           forces=("Kent", "Essex")), tag)
    held.wait_for(2, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)             # not communicate(): a surviving worker would hold its pipes open
    proc.stdout.close()
    proc.stderr.close()
    held.release()                    # a kernel that survived would now finish and its worker write it
    left = wait_until_gone(tag, 10)
    assert not left, left
    time.sleep(1)
    # the index the runner wrote before the batch is all; no notebook, status or page came after it
    assert [p.name for p in out.rglob("*.html")] == ["index.html"], "written after the runner died"
    assert not list(out.rglob("*.status.json")) and not list(out.glob("*/*/*.ipynb")), "written after the runner died"


# --------------------------------------------------------------------------- a worker is killed

def _a_worker(out: Path, runner_pid: int) -> psutil.Process:
    """One of the runner's workers (each logs to ``.logs/worker-<pid>.log``)."""
    for log in sorted((out / ".logs").glob("worker-*.log")):
        proc = psutil.Process(int(log.stem.split("-")[1]))
        if proc.ppid() == runner_pid:
            return proc
    raise AssertionError("no worker of the runner found")


@pytest.mark.realdata
@pytest.mark.notebooks
def test_a_dead_worker_costs_only_the_job_it_was_running(real_data_dir, tmp_path):
    """2 workers, 6 jobs, each held: one worker is killed mid-job. That job fails (saying why); a new
    worker takes over, and the 5 others all finish."""
    tag = uuid.uuid4().hex
    held = Held(tmp_path, ["01_waits", "02_waits", "03_waits"])
    out = tmp_path / "out"
    proc = start(build_cmd(held.notebooks, out, "--jobs", "2", forces=("Kent", "Essex")), tag)
    held.wait_for(2, proc)            # both workers are running a job, and 4 jobs wait
    _a_worker(out, proc.pid).kill()
    time.sleep(0.5)
    held.release()
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1, stdout + stderr
    assert count(stdout, "failed") == 1 and count(stdout, "done") == 5, stdout + stderr
    assert "worker" in next(line for line in stdout.splitlines() if "FAILED" in line)
    assert index_summary(out) == (5, 1)
    assert not list(out.rglob(".*.running.ipynb")), "the dead worker's scratch notebook is left"
    assert not wait_until_gone(tag, 10)


@pytest.mark.realdata
@pytest.mark.notebooks
def test_a_dead_template_host_costs_only_the_notebooks_running_on_its_kernels(real_data_dir, tmp_path):
    """The template host (the runner's child that forks every template) is killed while 2 jobs hold
    their kernels: those 2 fail, the workers start templates of their own and the 4 others finish."""
    tag = uuid.uuid4().hex
    held = Held(tmp_path, ["01_waits", "02_waits", "03_waits"])
    out = tmp_path / "out"
    proc = start(build_cmd(held.notebooks, out, "--jobs", "2", forces=("Kent", "Essex")), tag)
    held.wait_for(2, proc)
    workers = {int(log.stem.split("-")[1]) for log in (out / ".logs").glob("worker-*.log")}
    (host,) = [c for c in psutil.Process(proc.pid).children() if c.pid not in workers]
    host.kill()
    time.sleep(0.5)
    held.release()
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1, stdout + stderr
    assert count(stdout, "failed") == 2 and count(stdout, "done") == 4, stdout + stderr
    assert not wait_until_gone(tag, 10)


# --------------------------------------------------------------------------- Ctrl-C and SIGTERM

@pytest.mark.realdata
@pytest.mark.notebooks
@pytest.mark.parametrize("signum, code, name", [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")])
def test_an_interrupt_is_one_line_naming_the_signal_and_the_index_is_rewritten(real_data_dir, tmp_path, signum,
                                                                                code, name):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) or SIGTERM (to the runner,
    as ``kill`` sends it) after one report finished: one line on stderr naming that signal, no
    traceback, the index lists the finished report, and no process of the run is left."""
    tag = uuid.uuid4().hex
    held = Held(tmp_path, ["02_waits", "03_waits"], quick=["01_quick"])
    out = tmp_path / "out"
    # a shell without job control starts background jobs with SIGINT ignored; a terminal does not
    proc = start(build_cmd(held.notebooks, out, "--jobs", "1"), tag,
                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    held.wait_for(1, proc)
    assert list((out / "2018-03-31" / "kent").glob("01_quick.status.json"))
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    lines = stderr.strip().splitlines()
    assert proc.returncode == code, stderr
    assert len(lines) == 1, stderr
    assert name in lines[0] and ({"SIGINT", "SIGTERM"} - {name}).pop() not in lines[0], lines[0]
    assert index_summary(out) == (0, 0)          # pages are published after the batch, never from a part of it
    assert "1 section(s) have run but are not published yet" in (out / "index.html").read_text(encoding="utf-8")
    assert not wait_until_gone(tag, 10)


# --------------------------------------------------------------------------- --out and --jobs

def _no_pool(monkeypatch):
    """Fail the test if any worker is started (the checks must come first)."""
    from peel_helpers.batch import pool

    def refuse(*args, **kwargs):
        raise AssertionError("a worker was started")

    monkeypatch.setattr(pool.LocalPool, "__init__", refuse)


def test_a_read_only_out_is_one_line_before_any_worker_starts(read_only_dir, capsys, monkeypatch):
    _no_pool(monkeypatch)
    code = cli.main(["build", "--force", "Kent", "--period", "2018-03-31", "--out", str(read_only_dir / "reports"),
                        "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("ERROR: --out ") and "cannot write" in err[0], err[0]


def test_a_file_as_out_is_one_line_before_any_worker_starts(tmp_path, capsys, monkeypatch):
    _no_pool(monkeypatch)
    target = tmp_path / "reports.html"
    target.write_text("not a folder", encoding="utf-8")
    code = cli.main(["build", "--force", "Kent", "--period", "2018-03-31", "--out", str(target), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("ERROR: --out ") and "is a file" in err[0], err[0]
    assert target.read_text(encoding="utf-8") == "not a folder"


def test_jobs_is_capped_at_the_batch_and_warns_above_the_cores(capsys):
    from peel_helpers.batch import pool

    cores = os.cpu_count() or 1
    assert pool.worker_count(500, 8, "fork") == 8
    assert "more than the" in capsys.readouterr().err
    assert pool.worker_count(1, 8, "fork") == 1
    assert pool.worker_count(cores, 3 * cores, "fork") == cores
    assert capsys.readouterr().err == ""                          # no warning at or below the cores
    assert pool.worker_count(None, 1, "fork") == 1                # the default is capped too


# --------------------------------------------------------------------------- bad periods

@pytest.mark.realdata
@pytest.mark.parametrize("period", ["1999-03-31", "2030-03-31"])
def test_a_period_outside_the_data_is_refused_once_before_anything_runs(real_data_dir, tmp_path, capsys, monkeypatch,
                                                                       period):
    _no_pool(monkeypatch)
    out = tmp_path / "out"
    code = cli.main(["build", "--force", "Kent", "--force", "Essex", "--period", period, "--out", str(out),
                        "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"ERROR: --period {period}") and "data cover" in err[0], err[0]
    assert not out.exists()


# --------------------------------------------------------------------------- a kernel dies mid-cell

@pytest.mark.realdata
@pytest.mark.notebooks
def test_a_kernel_that_dies_mid_cell_keeps_its_partial_notebook(real_data_dir, tmp_path):
    """The index's "failed" link must lead to the notebook as far as it ran (what papermill keeps
    for a failing cell), not to an empty folder."""
    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks / "01_dies.ipynb", "print('before the kernel died')",
                   "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    out = tmp_path / "out"
    code = cli.main(["build", "--notebooks", str(notebooks), "--force", "Kent", "--period", "2018-03-31",
                        "--out", str(out), "--quiet"])
    assert code == 1
    folder = out / "2018-03-31" / "kent"
    record = json.loads((folder / "01_dies.status.json").read_text())
    assert record["status"] == "failed" and "died" in record["reason"].lower()
    links = re.findall(r'<td class="failed"[^>]*><a href="([^"]+)"', (out / "index.html").read_text())
    assert links, "the failed run is not linked"
    kept = out / links[0]
    assert kept.is_file(), f"the failed link {links[0]} leads nowhere"
    nb = json.loads(kept.read_text())
    printed = next(c for c in nb["cells"] if "print('before" in "".join(c["source"]))
    assert "before the kernel died" in json.dumps(printed["outputs"])


# --------------------------------------------------------------------------- a full disk

def _probe_job(tmp_path):
    from peel_helpers.core.forces import resolve
    from peel_helpers.core.periods import Period

    path = write_notebook(tmp_path / "nb" / "01_probe.ipynb", "1 + 1")
    (job,) = batch_jobs.make_jobs([resolve("Kent")], ["01_probe"], [Period.parse("2018-03-31")], tmp_path / "out",
                              {"x": "1"}, [], tmp_path / "nb")
    return job, path


def _fake_execute(path):
    import nbformat

    def execute(job, tmp, kernel_start, shared_process):   # no kernel: a SYNTHETIC executed notebook
        nb = nbformat.read(path, as_version=4)
        nbformat.write(nb, tmp)
        return nb
    return execute


def test_a_full_disk_leaves_nothing_that_looks_like_a_result(tmp_path, monkeypatch):
    """The disk fills while the executed notebook is written: no notebook or "done" status may be left
    in the results folder, and the run is a failure saying why."""
    from peel_helpers.batch import jobs
    from peel_helpers.core import records

    job, path = _probe_job(tmp_path)
    monkeypatch.setattr(jobs, "_execute", _fake_execute(path))
    real = records.write

    def full(target, *args, **kwargs):
        if Path(target).suffix == ".ipynb" and Path(target).parent == job.folder:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(target, *args, **kwargs)

    monkeypatch.setattr(records, "write", full)
    record = batch_jobs.run_job(job)
    assert record["status"] == "failed" and "No space left on device" in record["reason"]
    left = sorted(p.name for p in job.folder.iterdir() if p.is_file())
    assert left in ([], ["01_probe.status.json"]), left
    if left:
        assert json.loads(job.status_path.read_text())["status"] == "failed"


# --------------------------------------------------------------------------- broken outputs on resume

@pytest.mark.parametrize("damage", ["truncated notebook", "notebook of another run", "same-size edit",
                                    "status of another run"])
def test_a_broken_output_is_rebuilt_not_skipped(tmp_path, monkeypatch, damage):
    """Before a finished notebook is skipped as up to date, its bytes must be the ones recorded when it
    was written, with the job's fingerprint (the pages made from it are the publisher's)."""
    from peel_helpers.batch import jobs

    job, path = _probe_job(tmp_path)
    monkeypatch.setattr(jobs, "_execute", _fake_execute(path))
    assert batch_jobs.run_job(job)["status"] == "done"
    assert batch_jobs.up_to_date(job)
    stat = job.ipynb.stat()
    if damage == "truncated notebook":
        text = job.ipynb.read_text()
        job.ipynb.write_text(text[: len(text) // 2])
    elif damage == "notebook of another run":
        nb = json.loads(job.ipynb.read_text())
        nb["metadata"]["peel"]["fingerprint"] = "0" * 64
        job.ipynb.write_text(json.dumps(nb))
    elif damage == "same-size edit":
        raw = bytearray(job.ipynb.read_bytes())
        raw[len(raw) // 2] ^= 0x01
        job.ipynb.write_bytes(bytes(raw))
        os.utime(job.ipynb, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    else:
        record = json.loads(job.status_path.read_text())
        job.status_path.write_text(json.dumps(record | {"fingerprint": "0" * 64}))
    assert not batch_jobs.up_to_date(job), damage


# --------------------------------------------------------------------------- steps after the notebooks

def _probe(item):
    """What a pool_map worker is: its parent, the signal it gets when that parent dies, Ctrl-C ignored."""
    import ctypes

    found = ctypes.c_int()
    ctypes.CDLL(None).prctl(2, ctypes.byref(found), 0, 0, 0)   # PR_GET_PDEATHSIG
    return item * 10, os.getppid(), found.value, signal.getsignal(signal.SIGINT) == signal.SIG_IGN


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_runner_shares_work_after_the_notebooks_between_workers_that_die_with_it():
    """What the combined reports use for many documents: the runner's own kind of worker (dies with the
    runner, leaves Ctrl-C to it), results in order."""
    got = runner.pool_map(_probe, [1, 2, 3, 4, 5], 2, "spawn")
    assert [g[0] for g in got] == [10, 20, 30, 40, 50]
    assert {g[1:] for g in got} == {(os.getpid(), signal.SIGKILL, True)}


def _dies_on_3(item: int) -> int:
    if item == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return item * 10


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_dead_pool_worker_costs_only_its_item(tmp_path):
    got = runner.pool_map(_dies_on_3, [1, 2, 3, 4, 5, 6], 2, "spawn", failed=lambda item, why: ("failed", item, why))
    assert got[:2] == [10, 20] and got[3:] == [40, 50, 60]
    assert got[2][:2] == ("failed", 3) and "SIGKILL" in got[2][2]


def test_a_document_whose_process_died_is_failed_and_withdrawn(tmp_path):
    from peel_helpers.core import records
    from peel_helpers.publish import build, pages

    folder = pages.Folder(str(tmp_path), "2018-03-31", "kent", ("01_x",))
    records.write(folder.path / "report.html", "<html>an earlier build</html>", made_from="old")
    records.write(folder.path / "report-results.csv", "x", made_from="old")
    record = build._died((folder, False), "the worker died (SIGKILL)")
    assert record["status"] == "failed" and "SIGKILL" in record["reason"]
    assert not (folder.path / "report.html").exists() and not (folder.path / "report-results.csv").exists()


def test_many_documents_are_built_through_the_pool_the_runner_gives(tmp_path, monkeypatch):
    from peel_helpers.publish import build, pages

    monkeypatch.setattr(build, "PER_WORKER", 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(build, "_fresh", lambda folder, pdf: False)
    monkeypatch.setattr(build, "build_folder", lambda folder, pdf: {"status": "done", "slug": folder.slug})
    calls = []

    def pool_map(fn, items, workers, failed):
        calls.append((len(items), workers))
        return [fn(item) for item in items]

    folders = [pages.Folder(str(tmp_path), "2018-03-31", slug, ()) for slug in ("kent", "essex", "dorset")]
    assert [r["slug"] for r in build._build_folders(folders, False, pool_map)] == ["kent", "essex", "dorset"]
    assert calls == [(3, 3)]
