"""Run the batch on a Dask cluster: ``peel-reports build --scheduler tcp://host:8786``.

``distributed.Client`` offers a ``concurrent.futures.Executor`` (``client.get_executor()``), so the
runner hands its jobs to the cluster through the same interface as a process pool, and outputs,
resumability, atomic writes, failures and the index behave the same. Each Dask worker process keeps
its own kernel template (:mod:`peel_helpers.batch.kernels`), started on its first job.

Workers that go away:

* A worker lost mid-job: the scheduler gives its jobs to the other workers (Dask counts such a loss
  against a job up to ``distributed.scheduler.allowed-failures`` times, then fails it with
  ``KilledWorker``, which the runner records as that job's failure). Jobs are also submitted with
  ``retries=1``, so a job whose task raises is tried once more (a notebook that fails in a cell is a
  failed record, not an exception, and is never retried).
* No worker at all: the runner checks every second while it waits, and once the cluster has had no
  worker for ``--scheduler-wait`` seconds (default 60) it stops with one line saying how many jobs
  did not run; the index lists what finished. It never waits for ever.

The workers need what a local worker has: this project installed with the same code, the
``peel-effectiveness`` kernelspec, the data cache (``PEEL_DATA_DIR``, which the runner passes to
each job) and the output folder, at the same paths (a shared file system on several machines).

``distributed`` is an optional extra: ``pip install -e '.[cluster]'``.
"""

from __future__ import annotations

import time

from ..core.errors import ParameterError, PeelError

CONNECT_TIMEOUT_S = 10
RETRIES = 1
INSTALL_HINT = "pip install -e '.[cluster]'"


class NoWorkers(PeelError):
    """The cluster has had no worker for longer than the runner waits."""


class ClusterExecutor:
    """The pool interface the runner uses, over a ``distributed.Client`` that it owns."""

    def __init__(self, client, address: str = "", wait_s: float = 60.0):
        self.client = client
        self.address = address
        self.wait_s = wait_s
        self._executor = client.get_executor(pure=False, retries=RETRIES)
        self._empty_since: float | None = None

    def submit(self, fn, *args, **kwargs):
        return self._executor.submit(fn, *args, **kwargs)

    def check_workers(self, remaining: int) -> int:
        """Workers connected now; raises :class:`NoWorkers` once there have been none for ``wait_s`` seconds."""
        try:
            count = len(self.client.nthreads())
        except (OSError, TimeoutError):  # the scheduler itself is unreachable: as good as no worker
            count = 0
        now = time.monotonic()
        if count:
            self._empty_since = None
            return count
        self._empty_since = self._empty_since or now
        if now - self._empty_since >= self.wait_s:
            raise NoWorkers(f"no Dask worker connected to {self.address} for {self.wait_s:g} s: {remaining} "
                            f"notebook(s) did not run; start workers (dask worker {self.address}) and run the "
                            "same command again")
        return 0

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Wait for (or cancel) what was submitted, then disconnect; the cluster keeps running."""
        try:
            self._executor.shutdown(wait=wait and not cancel_futures)
        finally:
            self.client.close()

    def terminate(self) -> None:
        """On an interrupt: cancel everything still queued or running on the cluster."""
        self.shutdown(wait=False, cancel_futures=True)


def connect(address: str, wait_s: float = 60.0) -> ClusterExecutor:
    """A :class:`ClusterExecutor` on the scheduler at ``address``; one-line errors if that cannot be."""
    try:
        import distributed
    except ImportError:
        raise ParameterError(f"--scheduler needs the optional cluster extra: {INSTALL_HINT}") from None
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as err:
        reason = " ".join(str(err).split())[:200] or type(err).__name__
        raise ParameterError(f"--scheduler {address}: cannot reach a Dask scheduler there ({reason}).") from None
    return ClusterExecutor(client, address, wait_s)
