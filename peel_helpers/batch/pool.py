"""The local worker pool: a few processes, each running one job at a time; a dead worker costs only its job.

``concurrent.futures.ProcessPoolExecutor`` is not used because of what it does when one worker dies:
it marks the whole pool broken, fails every pending job with ``BrokenProcessPool`` (also the jobs
that never started) and starts no replacement. Here each worker gets one job at a time over its
own pipe, so the runner always knows which job each worker holds. When a worker dies, that job
alone is reported failed (with the signal that killed the worker), a new worker is started if jobs
remain, and the batch goes on.

Workers are *forked* from the runner when the runner is a safe template (Linux, one thread, no zmq
context or socket; it has then already imported the notebook stack and read the data once, and
every worker inherits that instead of importing it again), and *spawned* otherwise. Every worker
dies with the runner (:mod:`peel_helpers.batch.lifetime`), ignores Ctrl-C (the runner decides what
an interrupt means) and is stopped by the runner on an interrupt.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait as wait_ready

from . import lifetime


def default_jobs(kernel_start: str, n_todo: int) -> int:
    """All cores. With forked kernels and a batch of at least 12 notebooks per core, one worker more,
    to fill the time a worker only waits (its kernel starting and exiting, the kernel's replies:
    latency, not CPU); on a smaller batch that worker costs more than it saves."""
    cores = os.cpu_count() or 1
    return cores + 1 if kernel_start == "fork" and n_todo >= 12 * cores else cores


def worker_count(requested: int | None, n_todo: int, kernel_start: str, quiet: bool = False) -> int:
    """Workers for ``n_todo`` jobs: ``--jobs`` (or the default), never more than the jobs; a warning on
    stderr (unless ``quiet``) when ``--jobs`` asks for more workers than there are cores."""
    cores = os.cpu_count() or 1
    wanted = requested or default_jobs(kernel_start, n_todo)
    chosen = max(1, min(wanted, n_todo))
    if requested and requested > cores and not quiet:
        print(f"warning: --jobs {requested} is more than the {cores} cores here; every worker runs its own "
              f"kernels (and, with forked kernels, keeps a template of a few hundred MB): using {chosen}",
              file=sys.stderr, flush=True)
    return chosen


@dataclass(eq=False)
class Worker:
    """One worker process, the pipes to it, and the task it holds (None when idle)."""

    process: multiprocessing.process.BaseProcess
    jobs: object
    results: object
    task: object = None
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass
class Outcome:
    """What a worker reported: ``done`` (``value`` is the task's return value), ``error`` (the task
    raised: ``value`` is one line), or ``died`` (the worker ended: ``value`` says how)."""

    worker: Worker
    task: object
    kind: str
    value: object


def _serve(jobs, results, parent: int, inherited: list, initializer, initargs) -> None:
    """The worker's loop: run each task it is sent, reply, until told to stop or its pipe closes."""
    lifetime.die_with_parent(parent)
    lifetime.name_process("peel-worker")
    for item in inherited:  # a forked worker's copies of pipes that are not its own
        if isinstance(item, int):
            os.close(item)
        else:
            item.close()
    initializer(*initargs)
    while True:
        try:
            task = jobs.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        fn, args = task
        try:
            reply = ("done", fn(*args))
        except Exception as err:  # noqa: BLE001 - the runner records it as that job's failure
            reply = ("error", f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}")
        try:
            results.send(reply)
        except OSError:
            return


def how_it_ended(exitcode: int | None) -> str:
    """``was killed by SIGKILL``, ``exited with status 3``, or ``ended`` when unknown."""
    if exitcode is None:
        return "ended"
    if exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


class LocalPool:
    """``size`` worker processes started with ``method`` (``fork`` or ``spawn``); each runs
    ``initializer(*initargs)`` first."""

    def __init__(self, size: int, method: str, initializer, initargs: tuple = (), channels=None):
        self.method = method
        self._initializer, self._initargs = initializer, initargs
        self._channels = channels  # gives each forked worker the pipes to its template (None: no such pipes)
        self.workers: list[Worker] = []
        for _ in range(size):
            self.workers.append(self._start())

    def _start(self) -> Worker:
        """A new worker. It starts with Ctrl-C ignored, so an interrupt during its start-up cannot
        print a traceback; forked from the runner only while the runner has one thread."""
        method = self.method if self.method != "fork" or threading.active_count() == 1 else "spawn"
        ctx = multiprocessing.get_context(method)
        jobs_r, jobs_w = ctx.Pipe(duplex=False)
        results_r, results_w = ctx.Pipe(duplex=False)
        taken = self._channels.take() if self._channels is not None and method == "fork" else None
        inherited = [jobs_w, results_r] + [c for w in self.workers for c in (w.jobs, w.results)] \
            if method == "fork" else []
        if taken is not None:
            inherited += self._channels.free_worker_fds()
        initargs = (*self._initargs, taken[1].worker_fds if taken else None)
        process = ctx.Process(target=_serve, name="peel-worker", daemon=True,
                              args=(jobs_r, results_w, os.getpid(), inherited, self._initializer, initargs))
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if lifetime.in_main_thread() else None
        try:
            process.start()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        jobs_r.close()
        results_w.close()
        if taken is not None:
            self._channels.serve(taken[0])
        return Worker(process, jobs_w, results_r)

    def idle(self) -> list[Worker]:
        return [w for w in self.workers if w.task is None]

    def busy(self) -> list[Worker]:
        return [w for w in self.workers if w.task is not None]

    def submit(self, worker: Worker, task, fn, *args) -> None:
        """Give ``worker`` (idle) the call ``fn(*args)``; ``task`` is what :class:`Outcome` hands back."""
        worker.task = task
        try:
            worker.jobs.send((fn, args))
        except OSError:
            pass  # the worker has died: wait() reports it, with this task

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        """Replies and deaths, once at least one has happened (or ``timeout`` has passed: empty)."""
        by_object = {}
        for worker in self.workers:
            by_object[worker.process.sentinel] = worker
            if worker.task is not None:
                by_object[worker.results] = worker
        ready = wait_ready(list(by_object), timeout)
        outcomes, seen = [], set()
        for obj in ready:
            worker = by_object[obj]
            if id(worker) not in seen:
                seen.add(id(worker))
                outcomes.append(self._outcome(worker))
        return [o for o in outcomes if o is not None]

    def _outcome(self, worker: Worker) -> Outcome | None:
        task = worker.task
        if task is not None and worker.results.poll():  # a reply sent just before the worker died still counts
            try:
                kind, value = worker.results.recv()
                worker.task = None
                return Outcome(worker, task, kind, value)
            except (EOFError, OSError):
                pass
        if worker.process.is_alive():
            return None
        worker.process.join()
        self.workers.remove(worker)
        self._close(worker)
        return Outcome(worker, task, "died", how_it_ended(worker.process.exitcode))

    def replace(self) -> Worker:
        """Start one more worker (after one died, while jobs remain)."""
        worker = self._start()
        self.workers.append(worker)
        return worker

    @staticmethod
    def _close(worker: Worker) -> None:
        for conn in (worker.jobs, worker.results):
            try:
                conn.close()
            except OSError:
                pass

    def close(self, timeout: float = 30.0) -> None:
        """The batch is done: tell every worker to stop and wait for it (its template and kernels go with it)."""
        for worker in self.workers:
            try:
                worker.jobs.send(None)
            except OSError:
                pass
        self._end(timeout)

    def stop(self, grace: float = 2.0) -> None:
        """Stop every worker now (an interrupt): SIGTERM, then SIGKILL for any still there after ``grace``."""
        for worker in self.workers:
            if worker.process.is_alive():
                worker.process.terminate()
        self._end(grace)

    def _end(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            self._close(worker)
        self.workers = []
