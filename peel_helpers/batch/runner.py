"""The batch: run every out-of-date report notebook of a build, each in its own kernel, and nothing
else (the pages made from them are the publisher's, :mod:`peel_helpers.publish`).

* :func:`plan` checks everything first (:mod:`.checks`), builds the data cache once (kernels then only
  read parquet), takes the output folder's lock, and lists the jobs and those out of date.
* :func:`run_batch` runs them in a pool of worker processes (:mod:`.pool`; all cores by default, never
  more workers than jobs), or on a Dask cluster with ``--scheduler`` (:mod:`.cluster`). Each job runs in
  its own kernel (``peel-effectiveness``) through papermill (:mod:`.jobs`).
* Kernels are forked from a template that has already imported the notebook stack and read the data
  (``--kernel-start fork``, the default on Linux; :mod:`.kernels`), or started as new interpreters
  (``fresh``). With forked kernels the runner does those imports and reads once itself, then forks its
  workers, and each worker forks its template from that same image. Either way each notebook gets a
  new process, and the executed notebooks are the same.
* A failed run is never a result: the notebook as far as it ran goes to ``.../failed/`` and its status
  says why. A worker that dies costs only the job it was running. SIGINT or SIGTERM raise :class:`Stop`
  in the runner (see :func:`stop_on_signals`); every process the runner starts dies with it, even if
  it is killed (:mod:`.lifetime`).
"""

from __future__ import annotations

import os
import signal
import sys
from collections import deque
from concurrent.futures import FIRST_COMPLETED, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..core.contract import LOGS_DIR
from ..core.errors import ParameterError, PeelError
from . import checks
from . import jobs as batch_jobs
from . import lifetime
from .jobs import KERNEL_NAME, Job, input_hashes, make_jobs, provenance, run_job, up_to_date
from .pool import LocalPool, worker_count

DATA_ENV = ("PEEL_DATA_DIR", "PEEL_DATA_RETURN", "PEEL_DATA_MIRROR")
# sys.path[0] as the command line set it (the script's or the working folder), read when the
# command starts: a template forked from the runner drops it, as a kernel started afresh lacks it.
_ENTRY_PATH = sys.path[0] if sys.path else ""


# --------------------------------------------------------------------------- the plan

@dataclass
class Plan:
    """What a build will do, once every check has passed."""

    out: Path
    available: list[str]
    jobs: list[Job]
    todo: list[Job]
    skipped: list[Job]
    kernel_start: str
    workers: int
    method: str                 # "fork": workers forked from this runner (papermill loaded); "spawn": new interpreters
    fail_fast: bool = False
    quiet: bool = False
    cluster: object = None
    host: object = None         # the template host, with forked kernels (peel_helpers.batch.kernels.TemplateHost)
    results: list[dict] = field(default_factory=list)
    forces: list = field(default_factory=list)
    periods: list = field(default_factory=list)
    notebooks: Path | None = None
    lock: object = None         # the output folder's lock (core.records.BuildLock), held until close()

    def close(self) -> None:
        """Stop what the plan started and is still running, and release the output folder's lock."""
        if self.cluster is not None:
            self.cluster.shutdown(wait=False)
            self.cluster = None
        if self.host is not None:   # a batch that never started its workers
            self.host.close()
            self.host = None
        if self.lock is not None:
            self.lock.release()
            self.lock = None


@contextmanager
def _template_threads_off(on: bool):
    """While this runner prepares to be its workers' template: native libraries told to start no
    thread when they load (OpenBLAS, Arrow's allocator) and parquet read without Arrow's thread pools.
    The variables are removed again afterwards, so no kernel's environment carries them."""
    if not on:
        yield
        return
    from .template import TEMPLATE_ENV, single_threaded_parquet

    added = {k: v for k, v in TEMPLATE_ENV.items() if k not in os.environ}
    os.environ.update(added)
    try:
        import numpy  # noqa: F401 - loaded now, while the variables hold
        import pyarrow  # noqa: F401

        with single_threaded_parquet():
            yield
    finally:
        for key in added:
            os.environ.pop(key, None)


@contextmanager
def _no_gc():
    """No cyclic garbage collection while the runner imports the stack and reads the data: those
    allocations make many short collections that find almost nothing (about a third of the CPU time
    of the imports). What is left is frozen (:func:`_prepare_workers`) or collected later."""
    import gc

    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _start_host(args, n_jobs: int, kernel_start: str, out: Path):
    """Fork the template host (:class:`~peel_helpers.batch.kernels.TemplateHost`) now, as soon as the
    options are known to be good, so that it imports and reads what kernels need (matplotlib, seaborn,
    scipy.stats, ipykernel, the results table: about 0.9 CPU-seconds) while this process checks the
    data, lists the jobs and imports what workers need. The host writes nothing and starts no worker; if
    a later check fails, or nothing is out of date, it is stopped. None where it cannot be used (the
    kernelspec names another interpreter, or this process may not fork)."""
    from . import kernels, template

    batch_jobs.worker_env()
    if _ENTRY_PATH:
        template.RUNNER_ENTRY[:] = [_ENTRY_PATH]
    python_cmd = kernels.kernel_python(KERNEL_NAME)
    if not (python_cmd and kernels.same_interpreter(python_cmd)) or template.fork_safety_problems(set()):
        return None
    workers = worker_count(args.jobs, n_jobs, kernel_start, quiet=True)
    return kernels.TemplateHost([kernels.Channel.new() for _ in range(2 * workers)],
                                quarters=n_jobs > 8 * workers, log_path=str(out / LOGS_DIR / "template-host.log"))


def _prepare_workers(prepare=None) -> str:
    """Make this process the image every worker is forked from: papermill imported once here (and
    ``prepare()``, what the step after the batch needs, e.g. its templates compiled), while the template
    host warms what kernels need, and everything allocated so far frozen out of the garbage collector
    (so no process forked from here copies those pages by scanning them). Returns ``fork`` if workers
    may then be forked from here, else ``spawn`` (new interpreters, with templates of their own)."""
    import gc

    from . import template

    import papermill  # noqa: F401 - what every worker runs
    import papermill.engines  # noqa: F401

    if prepare is not None:
        prepare()
    gc.freeze()
    return "spawn" if template.fork_safety_problems(set()) else "fork"


def plan(args, prepare=None) -> Plan:
    """Check everything, build the data cache, take the output folder's lock, list the jobs and what is
    out of date, and (forked kernels) prepare this process and the template host. Raises a one-line
    :class:`PeelError` for anything wrong; nothing is written and no worker has started then.
    ``prepare``: what to load into this process before workers are forked from it."""
    from . import kernels

    forces, periods, notebooks, available, chosen = checks.scope(args)
    out = checks.check_out(args.out)
    kernel_start = kernels.choose_kernel_start(args.kernel_start)
    # with forked kernels this process becomes the template image: no native thread may start in it,
    # from the first import of numpy or pyarrow on
    templating = kernel_start == "fork" and not args.scheduler and kernels.fork_supported()
    with _template_threads_off(templating), _no_gc():
        checks.check_options(args)
        host = _start_host(args, len(forces) * len(chosen) * len(periods), kernel_start, out) if templating else None
        cluster = lock = None
        try:
            from ..measures import datareturn  # (pandas: only now, with native threads held off)

            datareturn.check()  # a bad data-return file stops here, once, not in every notebook that reads it
            if args.scheduler:
                from .cluster import connect

                cluster = connect(args.scheduler, args.scheduler_wait)  # unreachable: one line, nothing written
            jobs, todo, lock = _jobs(args, forces, periods, notebooks, chosen, out)
            if todo and not templating:
                _warm_results(periods)
            workers = worker_count(args.jobs, len(todo), kernel_start) if todo and cluster is None else 0
            method = _prepare_workers(prepare) if templating and todo else "spawn"
        except BaseException:
            if host is not None:
                host.stop()
            if cluster is not None:
                cluster.shutdown(wait=False)
            if lock is not None:
                lock.release()
            raise
    if host is not None and (method != "fork" or not todo):
        host.stop()
        host = None
    skipped = [j for j in jobs if j not in set(todo)]
    return Plan(out, available, jobs, todo, skipped, kernel_start, workers, method, args.fail_fast, args.quiet,
                cluster, host, forces=forces, periods=periods, notebooks=notebooks, lock=lock)


def _warm_results(periods) -> None:
    """Compute (or check) the results table once, here, before any kernel starts, so that kernels that
    start fresh (no template has read it) do not each compute it at the same time."""
    from ..core.text import ENGLAND_AND_WALES
    from ..measures import results

    results(forces=[ENGLAND_AND_WALES], periods=[periods[0].iso])


def take_lock(out: Path, what: str = "build"):
    """The output folder's lock, or one line saying who holds it."""
    from ..core.records import BuildLock, Busy

    try:
        return BuildLock(out).take(what)
    except Busy as busy:
        raise ParameterError(f"--out {out}: another peel-reports {busy} is writing there; wait for it to finish, "
                             "or name another folder.") from None


def _jobs(args, forces, periods, notebooks, chosen, out: Path):
    """Build the data cache, check the periods, create ``--out`` and take its lock; every job, those to
    run, and the lock."""
    from .. import data

    data.build_cache()  # once, here: kernels then only read the parquet cache
    checks.check_periods(periods)
    checks.make_out(out)
    lock = take_lock(out)
    try:
        jobs = make_jobs(forces, chosen, periods, out, input_hashes(), provenance(), notebooks)
        todo = batch_jobs.longest_first([j for j in jobs if args.rerun or not up_to_date(j)])
    except BaseException:
        lock.release()
        raise
    return jobs, todo, lock


# --------------------------------------------------------------------------- the build

class Stop(BaseException):
    """SIGINT or SIGTERM arrived: stop the workers, keep what finished."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextmanager
def stop_on_signals():
    """Within the block, SIGINT and SIGTERM raise :class:`Stop` (once: further ones are ignored while
    the runner cleans up). A SIGINT the runner was started with ignored (a background job) stays ignored."""
    previous = {}

    def handler(signum, frame):
        for signum_ in previous:
            signal.signal(signum_, signal.SIG_IGN)
        raise Stop(signum)

    if lifetime.in_main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(signum) is not signal.SIG_IGN:
                previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def pool_map(fn, items: list, workers: int, method: str = "fork", log_dir: Path | None = None,
             failed=None) -> list:
    """``[fn(item) for item in items]`` in worker processes of the runner's own kind (they die with the
    runner, ignore Ctrl-C, which the runner handles, and are stopped on SIGINT or SIGTERM). A worker
    that dies costs only the item it held: its result is ``failed(item, why)``, a new worker takes the
    rest (without ``failed``, the first such item raises, naming it)."""
    pool = LocalPool(max(1, min(workers, len(items))), method, batch_jobs.init_worker,
                     (str(log_dir) if log_dir else None, ""))
    results: dict[int, object] = {}
    queue = deque(enumerate(items))
    try:
        while queue or pool.busy():
            for worker in pool.idle():
                if queue:
                    i, item = queue.popleft()
                    pool.submit(worker, i, fn, item)
            for outcome in pool.wait():
                if outcome.task is not None and outcome.kind == "done":
                    results[outcome.task] = outcome.value
                elif outcome.task is not None and failed is not None:
                    results[outcome.task] = failed(items[outcome.task], f"the worker {outcome.value}")
                elif outcome.task is not None:
                    raise PeelError(f"{fn.__name__}({items[outcome.task]!r}) did not finish: the worker "
                                    f"{outcome.value}")
                if outcome.kind == "died" and queue:
                    pool.replace()
    except BaseException:
        pool.stop()
        raise
    pool.close()
    return [results[i] for i in range(len(items))]


def run_batch(plan: Plan) -> None:
    """Run ``plan.todo`` (locally or on the cluster) with a progress bar; records go to ``plan.results``."""
    from tqdm import tqdm

    if not plan.todo:
        return
    tqdm.monitor_interval = 0  # no monitor thread: the runner stays single-threaded and may fork new workers
    # off a terminal (make logs, CI) update every 10 s instead of redrawing one very long line
    bar = tqdm(total=len(plan.todo), unit="nb", disable=plan.quiet, dynamic_ncols=True, file=sys.stderr,
               mininterval=0.1 if sys.stderr.isatty() else 10)
    try:
        if plan.cluster is not None:
            _run_cluster(plan, bar)
        else:
            _run_local(plan, bar)
    finally:
        bar.close()


def worker_args(todo: list[Job], log_dir: Path | None, kernel_start: str) -> tuple:
    """What :func:`peel_helpers.batch.jobs.init_worker` gets: the log folder and, for forked kernels,
    the batch's context."""
    return (str(log_dir) if log_dir else None, todo[0].context if kernel_start == "fork" else "")


def _note(plan: Plan, bar, record: dict) -> bool:
    """Count one finished job; True if the batch should stop handing out jobs (``--fail-fast``)."""
    plan.results.append(record)
    bar.update(1)
    if record["status"] != "failed":
        return False
    bar.write(f"failed: {record['period_end']} {record['slug']} {record['section']}: {record['reason']}")
    return plan.fail_fast


def _outcome_record(outcome) -> dict | None:
    """The status record for what a worker reported (None: an idle worker ended)."""
    job = outcome.task
    if job is None:
        return None
    if outcome.kind == "done":
        return outcome.value
    reason = f"WorkerDied: the worker running it {outcome.value}; run the same command again to retry" \
        if outcome.kind == "died" else f"WorkerError: {outcome.value}"
    return batch_jobs.worker_lost(job, outcome.worker.pid, reason)


def _run_local(plan: Plan, bar) -> None:
    """One job at a time per worker; a worker that dies fails only its own job, and is replaced while
    jobs remain. Workers that keep dying before they take a job stop the build (one line)."""
    workers = LocalPool(plan.workers, plan.method, batch_jobs.init_worker,
                        worker_args(plan.todo, plan.out / LOGS_DIR, plan.kernel_start), channels=plan.host)
    queue, idle_deaths = deque(plan.todo), 0
    try:
        while queue or workers.busy():
            for worker in workers.idle():
                if queue:
                    job = queue.popleft()
                    workers.submit(worker, job, run_job, job, plan.kernel_start)
            for outcome in workers.wait():
                record = _outcome_record(outcome)
                if record is not None and _note(plan, bar, record):
                    queue.clear()
                idle_deaths += outcome.kind == "died" and record is None
                if idle_deaths > 2 * plan.workers:
                    raise PeelError(f"workers keep ending before they run a notebook: see {plan.out / LOGS_DIR}")
                if outcome.kind == "died" and queue:
                    workers.replace()
    except BaseException:
        running = [(w.task, w.pid) for w in workers.busy()]
        workers.stop()
        for job, pid in running:
            batch_jobs.discard_partial(job, pid)
        raise
    else:
        workers.close()
    finally:
        if plan.host is not None:  # after the workers, so their templates have ended
            plan.host.close()
            plan.host = None


def _run_cluster(plan: Plan, bar) -> None:
    """The jobs on the Dask cluster. A worker lost mid-job has its jobs run again on another one
    (Dask reschedules them); a cluster left with no worker for ``--scheduler-wait`` seconds stops the
    build (:class:`peel_helpers.batch.cluster.NoWorkers`), never waiting for ever."""
    env = {k: os.environ[k] for k in DATA_ENV if k in os.environ}
    cluster = plan.cluster
    pending = {cluster.submit(run_job, job, plan.kernel_start, env, True): job for job in plan.todo}
    try:
        while pending:
            done, _ = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            if not done:
                waiting = cluster.check_workers(len(pending))
                bar.set_description("" if waiting else "waiting for Dask workers (0 connected)", refresh=False)
                continue
            stop = False
            for future in done:
                job = pending.pop(future)
                try:
                    record = future.result()
                except Exception as err:  # noqa: BLE001 - a lost or failed task is a failure of that job
                    record = batch_jobs.status_record(job, "failed", f"{type(err).__name__}: "
                                                      f"{batch_jobs.one_line(str(err))}")
                stop = _note(plan, bar, record) or stop
            if stop:
                for future in pending:
                    future.cancel()
                return
    except BaseException:
        cluster.terminate()
        raise


def summarise(plan: Plan) -> int:
    """The batch's table of counts (and each failure); 1 if any notebook failed or did not run."""
    done = [r for r in plan.results if r["status"] == "done"]
    failed = [r for r in plan.results if r["status"] == "failed"]
    not_run = len(plan.jobs) - len(plan.skipped) - len(plan.results)
    print("")
    print(f"{'notebooks':<22}{'count':>6}")
    print(f"{'done':<22}{len(done):>6}")
    print(f"{'skipped (up to date)':<22}{len(plan.skipped):>6}")
    print(f"{'failed':<22}{len(failed):>6}")
    if not_run:
        print(f"{'not run (stopped)':<22}{not_run:>6}")
    for r in failed:
        print(f"  FAILED {r['period_end']} {r['slug']} {r['section']}: {r['reason']}")
    return 1 if failed or not_run else 0
