"""``--scheduler``: the batch on a Dask cluster behaves like the local pool; one-line errors without it."""

from __future__ import annotations

import json
import re
import sys
import uuid

import pytest

from peel_helpers.batch import cluster, runner

from test_kernels import _wait_until_gone


def test_scheduler_without_the_extra_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    code = runner.main(["build", "--force", "Kent", "--scheduler", "tcp://127.0.0.1:8786", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0] == "ERROR: --scheduler needs the optional cluster extra: pip install -e '.[cluster]'"
    assert not list(tmp_path.iterdir())


def test_unreachable_scheduler_is_one_line(tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 2)
    code = runner.main(["build", "--force", "Kent", "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path)])
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
        first = runner.main([*argv, "--scheduler", dask_cluster.scheduler_address])
        capsys.readouterr()
        again = runner.main([*argv, "--scheduler", dask_cluster.scheduler_address])
    assert first == 0 and again == 0
    assert "skipped (up to date)       2" in capsys.readouterr().out  # resumable on a cluster too
    folder = tmp_path / "2018-03-31" / "kent"
    sections = ["01_force_in_numbers", "02_figure1_action_taken"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{s}{suffix}" for s in sections for suffix in (".html", ".ipynb", ".status.json"))
    for section in sections:
        record = json.loads((folder / f"{section}.status.json").read_text())
        assert record["status"] == "done" and record["html"] == f"{section}.html"
        nb = json.loads((folder / f"{section}.ipynb").read_text())
        assert nb["metadata"]["peel"]["fingerprint"] == record["fingerprint"]
        assert "ERROR" not in (folder / f"{section}.html").read_text()
    assert re.search(r"\b2 reports\b[^.]*\b0 failed\.", (tmp_path / "index.html").read_text())
    assert not list(folder.glob(".*")), "no temporary file may be left"
    left = _wait_until_gone(tag)
    assert not left, [" ".join(p.cmdline())[:120] for p in left]  # no template or kernel outlives the cluster
