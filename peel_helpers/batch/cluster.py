"""Run the batch on a Dask cluster: ``peel-reports build --scheduler tcp://host:8786``.

``distributed.Client`` offers a ``concurrent.futures.Executor`` (``client.get_executor()``), so the
runner hands its jobs to the cluster through the same interface as its local process pool, and
outputs, resumability, atomic writes, failures and the index behave the same. Each Dask worker
process keeps its own kernel template (:mod:`peel_helpers.batch.kernels`), started on its first job.

The workers need what a local worker has: this project installed with the same code, the
``peel-effectiveness`` kernelspec, the data cache (``PEEL_DATA_DIR``, which the runner passes to
each job) and the output folder, at the same paths (a shared file system on several machines).

``distributed`` is an optional extra: ``pip install -e '.[cluster]'``.
"""

from __future__ import annotations

from ..core.errors import ParameterError

CONNECT_TIMEOUT_S = 10
INSTALL_HINT = "pip install -e '.[cluster]'"


class ClusterExecutor:
    """The pool interface ``run_jobs`` uses, over a ``distributed.Client`` that it owns."""

    def __init__(self, client):
        self.client = client
        self._executor = client.get_executor(pure=False)
        self.workers = max(1, sum(client.nthreads().values()))

    def submit(self, fn, *args, **kwargs):
        return self._executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Wait for (or cancel) what was submitted, then disconnect; the cluster keeps running."""
        try:
            self._executor.shutdown(wait=wait and not cancel_futures)
        finally:
            self.client.close()

    def terminate(self) -> None:
        """On an interrupt: cancel everything still queued or running on the cluster."""
        self.shutdown(wait=False, cancel_futures=True)


def connect(address: str) -> ClusterExecutor:
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
    return ClusterExecutor(client)
