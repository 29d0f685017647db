"""Forked kernels: choosing the start, a thread-free template, no state leaks between notebooks,
the same notebooks as fresh kernels, and no process left behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import psutil
import pytest

from peel_helpers import cli
from peel_helpers.batch import checks, kernels
from peel_helpers.batch import jobs as batch_jobs
from peel_helpers.core.errors import ParameterError

from notebook_factory import write_notebook

needs_fork = pytest.mark.skipif(not kernels.fork_supported(), reason="forked kernels need Linux")


# --------------------------------------------------------------------------- no kernel needed

def test_choose_kernel_start(monkeypatch):
    assert kernels.choose_kernel_start("fresh") == "fresh"
    assert kernels.choose_kernel_start(" FRESH ") == "fresh"
    with pytest.raises(ParameterError, match="use fork, fresh or auto") as info:
        kernels.choose_kernel_start("banana")
    assert "\n" not in str(info.value)
    monkeypatch.setattr(kernels, "fork_supported", lambda: False)  # macOS, Windows
    assert kernels.choose_kernel_start("auto") == "fresh"
    with pytest.raises(ParameterError, match="use --kernel-start fresh"):
        kernels.choose_kernel_start("fork")
    monkeypatch.setattr(kernels, "fork_supported", lambda: True)
    assert kernels.choose_kernel_start(None) == "fork"


def test_bad_kernel_start_is_one_line_before_anything_runs(tmp_path, capsys):
    code = cli.main(["build", "--force", "Kent", "--kernel-start", "banana", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0] == "ERROR: --kernel-start 'banana' is not a kernel start: use fork, fresh or auto."
    assert not list(tmp_path.rglob("*.html"))


def test_split_kernel_command_and_template_key(monkeypatch):
    cmd = ["/venv/bin/python", "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "/tmp/k.json"]
    assert kernels.split_kernel_command(cmd) == (cmd[:2], ["-f", "/tmp/k.json"])
    assert kernels.split_kernel_command(["R", "--slave", "-f", "x"]) is None
    monkeypatch.setenv("PEEL_DATA_DIR", "/data/a")
    a = kernels.template_key('{"inputs": 1}')
    assert a == kernels.template_key('{"inputs": 1}')
    assert a != kernels.template_key('{"inputs": 2}')  # new inputs or code: a new template
    monkeypatch.setenv("PEEL_DATA_DIR", "/data/b")
    assert a != kernels.template_key('{"inputs": 1}')  # another data folder: a new template


def test_default_jobs_adds_a_worker_for_forked_kernels_on_a_large_batch():
    from peel_helpers.batch.pool import default_jobs

    cores = os.cpu_count() or 1
    assert default_jobs("fresh", 1000) == cores
    assert default_jobs("fork", 1000) == cores + 1
    assert default_jobs("fork", 2 * cores) == cores


# --------------------------------------------------------------------------- the template

def _kernel_python() -> list[str]:
    from jupyter_client.kernelspec import KernelSpecManager

    argv = KernelSpecManager().get_kernel_spec(batch_jobs.KERNEL_NAME).argv
    return kernels.split_kernel_command(argv)[0]


BATCH_PROCESSES = ("batch.template", "ipykernel", "multiprocessing.spawn", "peel_helpers")


def _tagged(tag: str) -> list[psutil.Process]:
    """Live templates, kernels and workers carrying ``PEEL_TEST_TAG=tag`` in their environment
    (not, say, the resource tracker that multiprocessing keeps for the test process itself)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if (proc.environ().get("PEEL_TEST_TAG") == tag and proc.status() != psutil.STATUS_ZOMBIE
                    and any(word in " ".join(proc.cmdline()) for word in BATCH_PROCESSES)):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def _wait_until_gone(tag: str, seconds: float = 15) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while (left := _tagged(tag)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


async def _forked(key: str, *, kill: bool = False):
    """A kernel started through the fork manager (killed at once if ``kill``) and its client."""
    from peel_helpers.batch import provisioner

    km = provisioner.manager_class(key)(kernel_name=batch_jobs.KERNEL_NAME)
    await km.start_kernel()
    if kill:
        os.kill(km.provisioner.pid, signal.SIGKILL)
    kc = km.client()
    kc.start_channels()
    return km, kc


async def _one_forked_kernel(key: str, server: kernels.ForkServer) -> dict:
    """Start a kernel through the fork manager, look at it and its template, shut it down."""
    km, kc = await _forked(key)
    try:
        await kc.wait_for_ready(timeout=120)
        template, kernel = psutil.Process(server.proc.pid), psutil.Process(km.provisioner.pid)
        seen = {"threads": template.num_threads(), "sockets": template.net_connections(kind="all"),
                "ready": server._ready, "template": template.pid, "kernel_parent": kernel.ppid(),
                "kernel_group": os.getpgid(kernel.pid), "kernel": kernel.pid}
        reply = await kc.execute_interactive("import sys; assert 'pandas' in sys.modules", timeout=60)
        seen["reply"] = reply["content"]["status"]
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=False)
    seen["template_children"] = template.children()
    return seen


@needs_fork
@pytest.mark.realdata
def test_template_is_thread_free_and_its_kernels_are_its_children(real_data_dir, monkeypatch):
    import asyncio

    tag = uuid.uuid4().hex
    monkeypatch.setenv("PEEL_TEST_TAG", tag)
    key = kernels.template_key("test-template")
    server = kernels.server(_kernel_python(), key)
    try:
        seen = asyncio.run(_one_forked_kernel(key, server))
    finally:
        kernels.close_all()
    assert seen["ready"] == {"ready": True, "pid": seen["template"], "note": "", "problems": []}
    assert seen["threads"] == 1  # every native thread counted, not only Python's
    assert seen["sockets"] == []  # no zmq or other socket in the template
    assert seen["kernel_parent"] == seen["template"] and seen["kernel_group"] == seen["kernel"]
    assert seen["reply"] == "ok"  # the kernel has the template's imports
    assert seen["template_children"] == []  # the ended kernel was reaped: no zombie
    assert not _wait_until_gone(tag)


async def _ready_then_dead(key: str) -> dict:
    """A forked kernel through :class:`ReadyClient`: its first output, its exit, then a kernel killed
    before it could answer."""
    seen = {}
    km, kc = await _forked(key)
    try:
        await kc.wait_for_ready(timeout=120)
        seen["client"] = type(kc).__name__
        msg_id, messages = kc.execute("print('first')"), []
        while not messages or not (messages[-1]["msg_type"] == "status" and messages[-1]["content"][
                "execution_state"] == "idle" and messages[-1]["parent_header"].get("msg_id") == msg_id):
            messages.append(await kc.get_iopub_msg(timeout=60))
        seen["parents"] = {m["parent_header"].get("msg_id") for m in messages} - {msg_id}
        seen["outputs"] = [m["content"]["text"] for m in messages if m["msg_type"] == "stream"]
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=False)
    seen["exit"] = km.provisioner is None or km.provisioner.process is None
    km, kc = await _forked(key, kill=True)
    try:
        await kc.wait_for_ready(timeout=30)
    except RuntimeError as err:
        seen["dead"] = err
    finally:
        kc.stop_channels()
        await km.cleanup_resources()
    return seen


@needs_fork
@pytest.mark.realdata
def test_ready_client_waits_for_the_kernel_not_for_a_timer(real_data_dir):
    """The forked kernel's client returns when the kernel has answered and IOPub is drained: the
    first cell sees only its own output (nothing from the start-up), the manager sees the kernel
    exit, and a kernel that dies before answering gives jupyter_client's own error, which the
    runner recognises and answers with one more kernel."""
    import asyncio

    try:
        seen = asyncio.run(_ready_then_dead(kernels.template_key("test-ready")))
    finally:
        kernels.close_all()
    assert seen["client"] == "ReadyClient"
    assert seen["parents"] == set()  # IOPub held nothing from before the cell
    assert seen["outputs"] == ["first\n"]
    assert seen["exit"]
    assert batch_jobs.kernel_start_failed(seen["dead"]), seen["dead"]


@needs_fork
@pytest.mark.realdata
def test_a_new_key_replaces_the_template(real_data_dir):
    """Inputs changed (a new key): the old template, which holds the old data, is closed."""
    first = kernels.server(_kernel_python(), "key-one")
    try:
        assert kernels.server(_kernel_python(), "key-one") is first
        second = kernels.server(_kernel_python(), "key-two")
        assert second is not first and second.alive()
        assert first.proc.poll() is not None
    finally:
        kernels.close_all()


@needs_fork
@pytest.mark.realdata
@pytest.mark.notebooks
def test_a_template_that_cannot_start_means_a_fresh_kernel(real_data_dir, tmp_path, monkeypatch, capfd):
    """The fast path never fails a batch: without a template the job runs in a fresh kernel."""
    from peel_helpers.core.forces import resolve
    from peel_helpers.core.periods import Period

    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks / "01_small.ipynb", "import os; print('kernel', os.getpid())")
    job = batch_jobs.make_jobs([resolve("Kent")], ["01_small"], [Period.parse("2018-03-31")], tmp_path / "out",
                           {"x": "1"}, [], notebooks)[0]
    monkeypatch.setattr(kernels, "TEMPLATE_CODE", "import sys; sys.exit(3)")
    try:
        record = batch_jobs.run_job(job, "fork")
    finally:
        kernels.close_all()
    assert record["status"] == "done", record["reason"]
    assert "kernel template unavailable, starting a plain kernel: the kernel template exited (status 3)" \
        in capfd.readouterr().err
    assert job.ipynb.is_file()


@pytest.mark.realdata
def test_template_reads_the_cache_as_pandas_does(real_data_dir):
    """The template's thread-free parquet reads give exactly the frames a kernel would read."""
    import pandas as pd

    from peel_helpers.batch.template import single_threaded_parquet
    from peel_helpers.core.paths import processed_dir

    files = sorted(processed_dir().glob("*.parquet"))
    assert files
    for path in files:
        plain = pd.read_parquet(path)
        with single_threaded_parquet():
            same = pd.read_parquet(path)
            some = pd.read_parquet(path, columns=list(plain.columns[:2]))
        pd.testing.assert_frame_equal(same, plain, check_exact=True)
        pd.testing.assert_frame_equal(some, plain[list(plain.columns[:2])], check_exact=True)


# --------------------------------------------------------------------------- no state leaks

CHANGE_EVERYTHING = """
import os, matplotlib, pandas as pd
from peel_helpers.data import cache
leaked_global = "from A"
matplotlib.rcParams["lines.linewidth"] = 7.5
pd.set_option("display.max_rows", 3)
os.environ["PEEL_LEAK_TEST"] = "from A"
cache._MEMO["leak-marker"] = pd.DataFrame({"a": [1]})
cache.load("population")
memo = cache._MEMO[next(k for k in cache._MEMO if "population" in k)]
memo.loc[memo.index[0], "population"] = -1   # an in-place edit of the cached frame itself
import json; print(json.dumps({"pid": os.getpid(), "ppid": os.getppid()}))
"""

SEE_NOTHING = """
import os, matplotlib, pandas as pd
from peel_helpers.data import cache
seen = {
    "global": "leaked_global" in globals(),
    "rcParams": matplotlib.rcParams["lines.linewidth"] == 7.5,
    "pandas option": pd.get_option("display.max_rows") == 3,
    "environment": "PEEL_LEAK_TEST" in os.environ,
    "module cache": "leak-marker" in cache._MEMO,
    "cached frame": bool((cache.load("population")["population"] == -1).any()),
}
import json; print(json.dumps({"pid": os.getpid(), "ppid": os.getppid()}))
assert not any(seen.values()), "state leaked from notebook A: " + ", ".join(k for k, v in seen.items() if v)
"""


def _printed(path) -> dict:
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            if output.get("name") == "stdout" and '"pid"' in "".join(output["text"]):
                return json.loads("".join(output["text"]).strip().splitlines()[-1])
    raise AssertionError(f"{path.name} printed no pid")


def _cli_build(*args: str) -> subprocess.CompletedProcess:
    """The build command as a user runs it (a process of its own, so with forked kernels the runner
    preloads itself and forks its workers and templates: the path every command line build takes)."""
    cmd = [sys.executable, "-m", "peel_helpers", "build", "--quiet", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=os.environ.copy())


def _templates_were_forked(out) -> bool:
    """Every worker's template came from the runner's own image (its template host), none was started
    as a new interpreter."""
    logs = " ".join(p.read_text() for p in (out / ".logs").glob("worker-*.log"))
    return "kernel template served by the runner's template host" in logs and "kernel template started" not in logs


@needs_fork
@pytest.mark.realdata
@pytest.mark.notebooks
def test_no_state_leaks_between_notebooks_of_one_worker(real_data_dir, tmp_path):
    import papermill as pm

    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks / "01_changes_everything.ipynb", CHANGE_EVERYTHING)
    write_notebook(notebooks / "02_sees_nothing.ipynb", SEE_NOTHING)
    out = tmp_path / "out"
    done = _cli_build("--notebooks", str(notebooks), "--kernel-start", "fork", "--jobs", "1", "--force", "Kent",
                      "--period", "2018-03-31", "--out", str(out))
    folder = out / "2018-03-31" / "kent"
    statuses = {p.name: json.loads(p.read_text()) for p in folder.glob("*.status.json")}
    assert done.returncode == 0, ({k: v["reason"] for k, v in statuses.items()}, done.stderr)
    assert _templates_were_forked(out)
    a, b = _printed(folder / "01_changes_everything.ipynb"), _printed(folder / "02_sees_nothing.ipynb")
    assert a["ppid"] == b["ppid"] != a["pid"] != b["pid"], "A and B were not forked from the same template"
    # The check can fail: run A's changes and B's check in one kernel, and it must.
    together = write_notebook(tmp_path / "together.ipynb", CHANGE_EVERYTHING, SEE_NOTHING)
    with pytest.raises(pm.PapermillExecutionError, match="state leaked from notebook A: global, rcParams, "
                       "pandas option, environment, module cache, cached frame"):
        pm.execute_notebook(str(together), str(tmp_path / "together-out.ipynb"), kernel_name=batch_jobs.KERNEL_NAME,
                            progress_bar=False, parameters={"force": "Kent", "period_end": "2018-03-31"})


# --------------------------------------------------------------------------- fork == fresh

def _comparable(path) -> dict:
    """An executed notebook without what differs between any two runs: timings, execution metadata,
    and the random id papermill gives the injected-parameters cell."""
    nb = json.loads(path.read_text())
    nb["metadata"].pop("papermill", None)
    for cell in nb["cells"]:
        for key in ("execution", "papermill"):
            cell.get("metadata", {}).pop(key, None)
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["id"] = "injected"
    return nb


def _comparable_html(path) -> str:
    return re.sub(r'(celltag_injected-parameters" id="cell-id=)[0-9a-f-]+"', r'\1injected"', path.read_text())


@needs_fork
@pytest.mark.realdata
@pytest.mark.notebooks
def test_forked_and_fresh_kernels_give_the_same_notebooks(real_data_dir, tmp_path):
    """One force, every section, one period: identical executed notebooks (chart bytes included) and HTML."""
    outs = {}
    for start in ("fork", "fresh"):
        outs[start] = tmp_path / start
        done = _cli_build("--force", "Cambridgeshire", "--period", "2018-03-31", "--kernel-start", start,
                          "--out", str(outs[start]))
        assert done.returncode == 0, (start, done.stdout, done.stderr)
    assert _templates_were_forked(outs["fork"])
    files = {start: sorted(p.relative_to(out).as_posix() for p in out.glob("*/*/[0-9][0-9]_*")   # the sections
                           if p.suffix in (".ipynb", ".html")) for start, out in outs.items()}
    assert files["fork"] == files["fresh"] and len(files["fork"]) == 2 * len(checks.sections())
    for name in files["fork"]:
        fork, fresh = outs["fork"] / name, outs["fresh"] / name
        if name.endswith(".ipynb"):
            assert _comparable(fork) == _comparable(fresh), name
        else:
            assert _comparable_html(fork) == _comparable_html(fresh), name


# --------------------------------------------------------------------------- nothing left behind

@needs_fork
@pytest.mark.realdata
@pytest.mark.notebooks
def test_interrupt_leaves_no_template_or_kernel(real_data_dir, tmp_path):
    """Ctrl-C (SIGINT to the runner's process group) mid-batch: every worker, template and kernel goes.
    The notebook waits (a SYNTHETIC section), so the interrupt always finds its kernels running."""
    from test_faults import Held

    tag = uuid.uuid4().hex
    env = {**os.environ, "PEEL_TEST_TAG": tag}
    held = Held(tmp_path, ["01_waits"])
    cmd = [sys.executable, "-m", "peel_helpers", "build", "--notebooks", str(held.notebooks), "--force", "Kent",
           "--force", "Essex", "--period", "2018-03-31", "--kernel-start", "fork", "--jobs", "2",
           "--out", str(tmp_path / "out"), "--quiet"]
    # As at a terminal: a shell without job control starts background jobs (`make test &`) with
    # SIGINT ignored, and the runner rightly keeps an inherited "ignore".
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    kernels_ = held.wait_for(2, proc)
    assert all(_tagged_pid(tag, pid) for pid in kernels_), "the kernels are not the run's"
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    left = _wait_until_gone(tag)
    assert not left, [" ".join(p.cmdline())[:120] for p in left]


def _tagged_pid(tag: str, pid: int) -> bool:
    return any(p.pid == pid for p in _tagged(tag))
