"""``--scheduler``: the batch on a Dask cluster behaves like the local pool; one-line errors without it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid

import psutil
import pytest

from peel_helpers import cli
from peel_helpers.batch import cluster

from test_kernels import _wait_until_gone


def test_scheduler_without_the_extra_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    code = cli.main(["build", "--force", "Kent", "--scheduler", "tcp://127.0.0.1:8786", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0] == "ERROR: --scheduler needs the optional cluster extra: pip install -e '.[cluster]'"
    assert not list(tmp_path.iterdir())


def test_unreachable_scheduler_is_one_line(tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 2)
    code = cli.main(["build", "--force", "Kent", "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("ERROR: --scheduler tcp://127.0.0.1:9: cannot reach a Dask scheduler there (")
    assert not list(tmp_path.iterdir())


@pytest.mark.realdata
@pytest.mark.notebooks
def test_batch_on_a_local_dask_cluster(real_data_dir, tmp_path, monkeypatch, capsys):
    """1 force × 2 sections on a LocalCluster (2 worker processes, 2 threads each): the same outputs,
    status files and index as the local pool, resumable, and no template or kernel left behind."""
    distributed = pytest.importorskip("distributed")
    tag = uuid.uuid4().hex
    monkeypatch.setenv("PEEL_TEST_TAG", tag)  # inherited by the cluster's workers and their kernels
    argv = ["build", "--force", "Kent", "--section", "01", "--section", "02", "--period", "2018-03-31",
            "--out", str(tmp_path), "--quiet"]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None,
                                  silence_logs=50) as dask_cluster:
        first = cli.main([*argv, "--scheduler", dask_cluster.scheduler_address])
        capsys.readouterr()
        again = cli.main([*argv, "--scheduler", dask_cluster.scheduler_address])
    assert first == 0 and again == 0
    assert "skipped (up to date)       2" in capsys.readouterr().out  # resumable on a cluster too
    folder = tmp_path / "2018-03-31" / "kent"
    sections = ["01_force_in_numbers", "02_figure1_action_taken"]
    assert sorted(p.name for p in folder.iterdir() if p.name != ".records") == sorted(
        f"{s}{suffix}" for s in sections for suffix in (".html", ".ipynb", ".status.json"))
    for section in sections:
        record = json.loads((folder / f"{section}.status.json").read_text())
        assert record["status"] == "done" and record["notebook"] == f"{section}.ipynb"
        nb = json.loads((folder / f"{section}.ipynb").read_text())
        assert nb["metadata"]["peel"]["fingerprint"] == record["fingerprint"]
        assert "ERROR" not in (folder / f"{section}.html").read_text()
    assert re.search(r"\b2 section pages\b[^.]*\b0 failed\.", (tmp_path / "index.html").read_text())
    assert [p.name for p in folder.glob(".*")] == [".records"], "no temporary file may be left"
    left = _wait_until_gone(tag)
    assert not left, [" ".join(p.cmdline())[:120] for p in left]  # no template or kernel outlives the cluster


@pytest.mark.realdata
@pytest.mark.notebooks
@pytest.mark.parametrize("workers", [1, 2])
def test_a_dask_worker_that_dies_never_hangs_the_batch(real_data_dir, tmp_path, workers):
    """SIGKILL one Dask worker process mid-batch. With another worker its jobs are run there and the
    batch finishes; when it was the only one, the build stops with one line once the cluster has had
    no worker for the stated time (``--scheduler-wait``), instead of waiting for ever."""
    distributed = pytest.importorskip("distributed")
    from test_faults import Held, build_cmd, count, start, wait_until_gone

    tag = uuid.uuid4().hex
    held = Held(tmp_path, ["01_waits", "02_waits"])
    env = {**os.environ, "PEEL_TEST_TAG": tag}
    with distributed.LocalCluster(n_workers=0, processes=True, dashboard_address=":0",
                                  silence_logs=50) as dask_cluster:  # a scheduler on tcp, no worker of its own
        address = dask_cluster.scheduler_address
        dask_workers = [subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--no-nanny", "--nthreads", "2",
             "--no-dashboard", "--name", f"w{i}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True) for i in range(workers)]
        try:
            cmd = build_cmd(held.notebooks, tmp_path / "out", "--scheduler", address, "--scheduler-wait", "5",
                            forces=("Kent", "Essex"))
            proc = start(cmd, tag)
            first = held.wait_for(1, proc)[0]
            victim = next(w for w in dask_workers if w.pid in {p.pid for p in psutil.Process(first).parents()})
            started = time.monotonic()
            victim.kill()
            victim.wait()
            held.release()
            stdout, stderr = proc.communicate(timeout=240)
            took = time.monotonic() - started
        finally:
            for w in dask_workers:
                w.kill()
                w.wait()
    if workers == 1:
        lines = stderr.strip().splitlines()
        assert proc.returncode != 0 and len(lines) == 1, stderr
        assert lines[0].startswith("ERROR: ") and "no Dask worker" in lines[0] and "5 s" in lines[0], lines[0]
        assert took < 120
    else:
        assert proc.returncode == 0, stdout + stderr
        assert count(stdout, "done") == 4 and count(stdout, "failed") == 0
    assert not wait_until_gone(tag, 15)
