"""``peel-reports`` (also ``python -m peel_helpers``): run every report notebook for many forces.

Sub-commands::

    peel-reports [build] [--force NAME ...] [--section S ...] [--period YYYY-MM-DD ...]
                 [--out DIR] [--jobs N] [--continue-on-error | --fail-fast]
                 [--notebooks DIR] [--kernel-start auto|fork|fresh]
                 [--scheduler tcp://HOST:PORT [--scheduler-wait SECONDS]]
    peel-reports data      build (or check) the tidy data cache
    peel-reports ledger    published-vs-reproduced ledger (see peel_helpers.reports.ledger)
    peel-reports validate  agreement with ONS's own tables (see peel_helpers.measures.compare)
    peel-reports index     rebuild DIR/index.html from what has run
    peel-reports clean     delete the built reports under DIR

How a build runs:

* Everything is checked first, before anything is written and before any worker starts: forces,
  sections and periods (a period the data do not cover included), ``--out`` (a file, or a folder
  that cannot be written), ``--jobs``, the data-return file, the kernel. A bad one stops the build
  with one line and exit status 2.
* The data cache is built once, before any kernel starts, so kernels only read parquet.
* Each force × section × period is one job (:mod:`peel_helpers.batch.jobs`), run by a pool of
  worker processes (:mod:`peel_helpers.batch.pool`; all cores by default, never more workers than
  jobs), or on a Dask cluster with ``--scheduler`` (:mod:`peel_helpers.batch.cluster`). Each job runs
  in its own kernel (``peel-effectiveness``) through papermill, then exports HTML in the same worker.
* Kernels are forked from a template that has already imported the notebook stack and read the
  data (``--kernel-start fork``, the default on Linux; :mod:`peel_helpers.batch.kernels`), or started
  as new interpreters (``fresh``, the default elsewhere). With forked kernels the runner does those
  imports and reads once itself, then forks its workers, and each worker forks its template from
  that same image: no process imports the stack twice. Either way each notebook gets a new process,
  and the executed notebooks are the same.
* A job is up to date, and skipped, when its notebook, parameters, input data hashes and the
  ``peel_helpers`` code are unchanged since it last succeeded and its files are intact.
* Results land in ``DIR/<period>/<force-slug>/<NN>_<section>.ipynb`` and ``.html``. A failed run
  is never a result: the notebook as far as it ran goes to ``.../failed/`` (no HTML) and the index
  marks it. A worker that dies costs only the job it was running.
* Every file is written atomically, so an interrupted batch keeps what finished. Ctrl-C (SIGINT) or
  SIGTERM stops the workers, rewrites the index with what finished and prints one line; run the same
  command again to do the rest. Every process the runner starts dies with it, even if it is killed
  (:mod:`peel_helpers.batch.lifetime`).
* After the batch (and after an interruption) the index is written (:func:`after_batch`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from collections import deque
from concurrent.futures import FIRST_COMPLETED, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import ParameterError, PeelError
from ..core.paths import NOTEBOOKS_DIR, OUTPUTS_DIR
from . import jobs as batch_jobs
from . import lifetime
from .jobs import (KERNEL_NAME, Job, input_hashes, kernel_start_failed, make_jobs, notebook_parameters,  # noqa: F401
                   provenance, run_job, up_to_date)
from .pool import LocalPool, worker_count

SUBCOMMANDS = ("build", "data", "ledger", "validate", "index", "clean")
DATA_ENV = ("PEEL_DATA_DIR", "PEEL_DATA_RETURN", "PEEL_DATA_MIRROR")
# sys.path[0] as the command line set it (the script's or the working folder), read when the
# command starts: a template forked from the runner drops it, as a kernel started afresh lacks it.
_ENTRY_PATH = sys.path[0] if sys.path else ""


# --------------------------------------------------------------------------- sections

def sections(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[str]:
    """Report notebooks in order: ``NN_name`` stems."""
    return sorted(p.stem for p in Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb"))


def pick_sections(wanted: list[str] | None, available: list[str]) -> list[str]:
    """Resolve ``--section`` values: ``02``, ``figure1_action_taken`` or ``02_figure1_action_taken``."""
    if not wanted:
        return list(available)
    chosen = []
    for item in wanted:
        key = item.strip().removesuffix(".ipynb")
        hits = [s for s in available if s == key or s.split("_", 1)[0] == key or s.split("_", 1)[1] == key]
        if not hits:
            hits = [s for s in available if key and key.lower() in s.lower()]
        if len(hits) != 1:
            what = "matches several sections" if hits else "is not a section"
            raise ParameterError(f"--section {item!r} {what}: choose from {', '.join(available)}.")
        if hits[0] not in chosen:
            chosen.append(hits[0])
    return chosen



# --------------------------------------------------------------------------- command line

def kernel_available(name: str | None = None) -> bool:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    name = name or KERNEL_NAME
    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        return False
    return True


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="peel-reports", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    build = sub.add_parser("build", help="execute notebooks and export HTML (the default)")
    build.add_argument("--force", action="append", default=[], metavar="NAME",
                       help="a force (any spelling); repeat for several; default all 43")
    build.add_argument("--forces", default="", metavar="A,B",
                       help="comma-separated forces (what make reports FORCES= passes)")
    build.add_argument("--periods", default="", metavar="P1,P2", help="comma-separated period ends")
    build.add_argument("--section", action="append", default=[], metavar="S",
                       help="a section: 01, force_in_numbers or 01_force_in_numbers; repeatable; default all")
    build.add_argument("--period", action="append", default=[], metavar="YYYY-MM-DD",
                       help="a period end; repeatable; default 2017-06-30 and 2018-03-31")
    build.add_argument("--out", type=Path, default=OUTPUTS_DIR, metavar="DIR", help="output folder (default outputs/)")
    build.add_argument("--jobs", type=int, default=None,
                       help="parallel kernels (default: all cores; one more with forked kernels on a large batch)")
    build.add_argument("--notebooks", type=Path, default=NOTEBOOKS_DIR, metavar="DIR",
                       help="folder of NN_*.ipynb report notebooks (default notebooks/)")
    build.add_argument("--kernel-start", default="auto", metavar="fork|fresh",
                       help="fork kernels from a pre-imported template (Linux) or start fresh ones; "
                            "default auto: fork where it is safe")
    build.add_argument("--scheduler", default="", metavar="tcp://HOST:PORT",
                       help="run the jobs on this Dask scheduler instead of local processes "
                            "(pip install -e '.[cluster]')")
    build.add_argument("--scheduler-wait", type=float, default=60.0, metavar="SECONDS",
                       help="with --scheduler: stop, saying so, once the cluster has had no worker for this long "
                            "(default 60)")
    mode = build.add_mutually_exclusive_group()
    mode.add_argument("--continue-on-error", dest="fail_fast", action="store_false", default=False,
                      help="run everything, report failures at the end (default)")
    mode.add_argument("--fail-fast", dest="fail_fast", action="store_true", help="stop at the first failure")
    build.add_argument("--rerun", action="store_true", help="run even up-to-date outputs")
    build.add_argument("--pdf", action="store_true",
                       help="also print each force's combined report to report.pdf (headless Chromium)")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("data", help="fetch, verify and build the tidy data cache (arguments go to peel_helpers.data)",
                   add_help=False)
    sub.add_parser("ledger", help="published-vs-reproduced ledger (arguments go to peel_helpers.reports.ledger)",
                   add_help=False)
    sub.add_parser("validate", help="agreement with ONS's own tables; exit 1 on an unexplained difference",
                   add_help=False)
    index = sub.add_parser("index", help="rebuild DIR/index.html")
    index.add_argument("--out", type=Path, default=OUTPUTS_DIR, metavar="DIR")
    index.add_argument("--notebooks", type=Path, default=NOTEBOOKS_DIR, metavar="DIR")
    clean = sub.add_parser("clean", help="delete built reports under DIR")
    clean.add_argument("--out", type=Path, default=OUTPUTS_DIR, metavar="DIR")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help")):
        argv = ["build", *argv]
    if argv[0] == "data":
        from .. import data

        return int(data.main(argv[1:]) or 0)
    if argv[0] == "ledger":
        from ..reports import ledger

        return int(ledger.main(argv[1:]) or 0)
    if argv[0] == "validate":
        from ..measures import compare

        return int(compare.main(argv[1:]) or 0)
    args = _parser().parse_args(argv)
    try:
        if args.command == "index":
            from ..reports.html import write_index

            path = write_index(args.out, sections(args.notebooks))
            print(f"wrote {path}")
            return 0
        if args.command == "clean":
            return _clean(args.out)
        return build(args)
    except PeelError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 2


def _clean(out: Path) -> int:
    out = Path(out)
    removed = 0
    for child in out.glob("*"):
        if child.is_dir() and len(child.name) == 10 and child.name[4] == "-" and child.name[7] == "-":
            shutil.rmtree(child)
            removed += 1
    (out / "index.html").unlink(missing_ok=True)
    print(f"removed {removed} period folder(s) and the index from {out}")
    return 0


def _scope(args):
    """Forces, periods and sections a build asks for; one-line errors for any that do not exist."""
    from ..core.forces import FORCES, resolve
    from ..core.periods import DEFAULT_PERIODS

    wanted = list(args.force) + [f for f in args.forces.split(",") if f.strip()]
    forces = list(dict.fromkeys(resolve(f.strip()) for f in wanted)) if wanted else list(FORCES)
    wanted_periods = list(args.period) + [p for p in args.periods.split(",") if p.strip()]
    periods = [_period(p) for p in wanted_periods] if wanted_periods else list(DEFAULT_PERIODS)
    periods = list(dict.fromkeys(periods))
    notebooks = Path(args.notebooks).resolve()
    available = sections(notebooks)
    if not available:
        raise ParameterError(f"--notebooks {args.notebooks}: no NN_*.ipynb report notebooks there.")
    return forces, periods, notebooks, available, pick_sections(args.section, available)


def check_out(out: Path) -> Path:
    """``--out`` as an absolute folder that can be written, or a one-line error. Nothing is created yet
    (a build stopped by a later check leaves no folder behind)."""
    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise ParameterError(f"--out {out} is a file, not a folder: name a folder for the reports.")
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ParameterError(f"--out {out}: {existing} is a file, not a folder: name a folder for the reports.")
    if not os.access(existing, os.W_OK | os.X_OK):
        why = "read-only file system" if _read_only_fs(existing) else "permission denied"
        raise ParameterError(f"--out {out}: cannot write in {existing} ({why}): name a folder you can write to.")
    return out


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _make_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ParameterError(f"--out {out}: cannot create it ({err.strerror}): name a folder you can write to.") from None


def _period(text: str):
    from ..core.errors import PeriodError
    from ..core.periods import Period

    try:
        return Period.parse(text.strip())
    except PeriodError as err:
        raise PeriodError(f"--period {text.strip()!r}: {err}") from None


def _check_periods(periods) -> None:
    """Every period must be one the data cover: checked here once (from the sources' coverage, without
    computing results), not in every notebook that would then fail."""
    from ..core.errors import PeriodError
    from ..measures import check_periods

    for period in periods:
        try:
            check_periods([period])
        except PeriodError as err:
            raise PeriodError(f"--period {period.iso}: {err}") from None


def _check_options(args) -> None:
    """``--jobs``, ``--scheduler-wait`` and the kernelspec (the data-return file is checked with the data)."""
    if args.jobs is not None and args.jobs < 1:
        raise ParameterError(f"--jobs must be at least 1, not {args.jobs}.")
    if not args.scheduler_wait > 0:
        raise ParameterError(f"--scheduler-wait must be a number of seconds above 0, not {args.scheduler_wait:g}.")
    if not kernel_available():
        raise ParameterError(f"Jupyter kernel {KERNEL_NAME!r} is not installed: run make setup "
                             f"(or python -m ipykernel install --sys-prefix --name {KERNEL_NAME}).")


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
                                quarters=n_jobs > 8 * workers, log_path=str(out / ".logs" / "template-host.log"))


def _prepare_workers() -> str:
    """Make this process the image every worker is forked from: papermill and the HTML exporter (its
    templates compiled) imported once here, while the template host warms what kernels need, and
    everything allocated so far frozen out of the garbage collector (so no process forked from here
    copies those pages by scanning them). Returns ``fork`` if workers may then be forked from here,
    else ``spawn`` (new interpreters, with templates of their own)."""
    import gc

    from . import template
    from ..reports.assemble import prepare_documents
    from ..reports.html import prepare_exporter

    import papermill  # noqa: F401 - what every worker runs
    import papermill.engines  # noqa: F401

    prepare_exporter()
    prepare_documents()   # what the combined reports run after the batch, loaded while the template host warms up
    gc.freeze()
    return "spawn" if template.fork_safety_problems(set()) else "fork"


def _plan(args) -> Plan:
    """Check everything, build the data cache, list the jobs and what is out of date, and (forked
    kernels) prepare this process and the template host. Raises a one-line :class:`PeelError` for
    anything wrong; nothing is written and no worker has started then."""
    from . import kernels

    forces, periods, notebooks, available, chosen = _scope(args)
    out = check_out(args.out)
    kernel_start = kernels.choose_kernel_start(args.kernel_start)
    # with forked kernels this process becomes the template image: no native thread may start in it,
    # from the first import of numpy or pyarrow on
    templating = kernel_start == "fork" and not args.scheduler and kernels.fork_supported()
    with _template_threads_off(templating), _no_gc():
        _check_options(args)
        host = _start_host(args, len(forces) * len(chosen) * len(periods), kernel_start, out) if templating else None
        cluster = None
        try:
            from ..measures import datareturn  # (pandas: only now, with native threads held off)

            datareturn.check()  # a bad data-return file stops here, once, not in every notebook that reads it
            if args.scheduler:
                from .cluster import connect

                cluster = connect(args.scheduler, args.scheduler_wait)  # unreachable: one line, nothing written
            jobs, todo = _jobs(args, forces, periods, notebooks, chosen, out)
            workers = worker_count(args.jobs, len(todo), kernel_start) if todo and cluster is None else 0
            method = _prepare_workers() if templating and todo else "spawn"
        except BaseException:
            if host is not None:
                host.stop()
            if cluster is not None:
                cluster.shutdown(wait=False)
            raise
    if host is not None and (method != "fork" or not todo):
        host.stop()
        host = None
    skipped = [j for j in jobs if j not in set(todo)]
    return Plan(out, available, jobs, todo, skipped, kernel_start, workers, method, args.fail_fast, args.quiet,
                cluster, host)


def _jobs(args, forces, periods, notebooks, chosen, out: Path) -> tuple[list[Job], list[Job]]:
    """Build the data cache, check the periods, create ``--out``; every job, and those to run."""
    from .. import data

    data.build_cache()  # once, here: kernels then only read the parquet cache
    _check_periods(periods)
    _make_out(out)
    jobs = make_jobs(forces, chosen, periods, out, input_hashes(), provenance(), notebooks)
    return jobs, batch_jobs.longest_first([j for j in jobs if args.rerun or not up_to_date(j)])


# --------------------------------------------------------------------------- the build

class Stop(BaseException):
    """SIGINT or SIGTERM arrived: stop the workers, keep what finished."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _stop_on_signals():
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


def build(args) -> int:
    """``peel-reports build``: check everything, run what is out of date (locally or on a cluster),
    then :func:`after_batch`, and print the summary. Exit status 1 if any notebook failed or did not
    run; 128 + the signal's number after SIGINT or SIGTERM (one line)."""
    from .cluster import NoWorkers

    plan = None
    reports_failed = 0
    with _stop_on_signals():
        try:
            plan = _plan(args)
            run_batch(plan)
            reports_failed = combined_reports(plan, getattr(args, "pdf", False))
            after_batch(plan)
        except Stop as stop:
            return _stopped(plan, stop)
        except NoWorkers as err:
            after_batch(plan)
            print(f"ERROR: {err}", file=sys.stderr)
            return 1
        finally:
            if plan is not None and plan.cluster is not None:
                plan.cluster.shutdown(wait=False)
            if plan is not None and plan.host is not None:  # a batch that never started its workers
                plan.host.close()
    return summarise(plan.jobs, plan.skipped, plan.results, plan.out) or (1 if reports_failed else 0)


def combined_reports(plan: Plan, pdf: bool) -> int:
    """After the notebooks: each force's combined report per window, the national pages and, with
    ``--pdf``, the PDFs (:mod:`peel_helpers.reports.assemble`; no kernel runs). Returns the failures."""
    from ..core.forces import resolve
    from ..core.periods import Period
    from ..reports.assemble import build_all

    forces = [resolve(f) for f in dict.fromkeys(j.force for j in plan.jobs)]
    periods = [Period.parse(p) for p in dict.fromkeys(j.period_end for j in plan.jobs)]
    return build_all(plan.out, forces, periods, plan.available, pdf=pdf,
                     pool_map=lambda fn, items, workers, failed: pool_map(fn, items, workers, plan.method,
                                                                          plan.out / ".logs", failed))


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


def after_batch(plan: Plan) -> None:
    """What follows the notebooks, also after an interruption: the index of what has run."""
    from ..reports.html import write_index

    write_index(plan.out, plan.available)


def _stopped(plan: Plan | None, stop: Stop) -> int:
    """After SIGINT or SIGTERM: the index rewritten with what finished, and one line saying so."""
    name = signal.Signals(stop.signum).name
    what = f"interrupted ({name}, Ctrl-C)" if stop.signum == signal.SIGINT else f"stopped by {name}"
    if plan is None or not plan.out.is_dir():
        print(f"{what} before any notebook ran", file=sys.stderr, flush=True)
        return 128 + stop.signum
    after_batch(plan)
    done = sum(r["status"] == "done" for r in plan.results)
    print(f"{what}: {done} finished report(s) of this run kept, {len(plan.skipped)} already up to date; "
          f"{plan.out / 'index.html'} lists them; run the same command again to do the rest",
          file=sys.stderr, flush=True)
    return 128 + stop.signum


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
                        worker_args(plan.todo, plan.out / ".logs", plan.kernel_start), channels=plan.host)
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
                    raise PeelError(f"workers keep ending before they run a notebook: see {plan.out / '.logs'}")
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


def summarise(jobs: list[Job], skipped: list[Job], results: list[dict], out: Path) -> int:
    done = [r for r in results if r["status"] == "done"]
    failed = [r for r in results if r["status"] == "failed"]
    not_run = len(jobs) - len(skipped) - len(results)
    print("")
    print(f"{'status':<22}{'count':>6}")
    print(f"{'done':<22}{len(done):>6}")
    print(f"{'skipped (up to date)':<22}{len(skipped):>6}")
    print(f"{'failed':<22}{len(failed):>6}")
    if not_run:
        print(f"{'not run (stopped)':<22}{not_run:>6}")
    for r in failed:
        print(f"  FAILED {r['period_end']} {r['slug']} {r['section']}: {r['reason']}")
    print(f"index: {out / 'index.html'}")
    return 1 if failed or not_run else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
