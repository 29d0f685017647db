"""``peel-reports`` (also ``python -m peel_helpers``): run every report notebook for many forces.

Sub-commands::

    peel-reports [build] [--force NAME ...] [--section S ...] [--period YYYY-MM-DD ...]
                 [--out DIR] [--jobs N] [--continue-on-error | --fail-fast]
                 [--notebooks DIR] [--kernel-start auto|fork|fresh] [--scheduler tcp://HOST:PORT]
    peel-reports data      build (or check) the tidy data cache
    peel-reports ledger    published-vs-reproduced ledger (see peel_helpers.reports.ledger)
    peel-reports validate  agreement with ONS's own tables (see peel_helpers.measures.compare)
    peel-reports index     rebuild DIR/index.html from what has run
    peel-reports clean     delete the built reports under DIR

How a build runs:

* Forces, sections and periods are checked first; a bad one stops the build with one line
  and a non-zero exit status before anything is written.
* The data cache is built once, before any kernel starts, so kernels only read parquet.
* Each force × section × period is one job, run in a pool of worker processes (all cores by
  default), or on a Dask cluster with ``--scheduler`` (:mod:`peel_helpers.batch.cluster`).
  Each job runs in its own kernel (``peel-effectiveness``) through papermill, then exports
  HTML in the same worker.
* Kernels are forked from a per-worker template that has already imported the notebook stack
  (``--kernel-start fork``, the default on Linux; :mod:`peel_helpers.batch.kernels`), or started
  as new interpreters (``fresh``, the default elsewhere). Either way each notebook gets a new
  process, and the executed notebooks are the same.
* A job is up to date, and skipped, when its notebook, parameters, input data hashes and the
  ``peel_helpers`` code are unchanged since it last succeeded (the fingerprint is kept in the
  executed notebook's metadata and in a ``.status.json`` sidecar written last).
* Results land in ``DIR/<period>/<force-slug>/<NN>_<section>.ipynb`` and ``.html``. A failed run
  is never a result: its notebook goes to ``.../failed/`` (no HTML) and the index marks it.
* Every file is written atomically, so an interrupted batch keeps what finished; run the same
  command again to do the rest.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import os
import shutil
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from ..core.errors import ParameterError, PeelError
from ..core.paths import NOTEBOOKS_DIR, OUTPUTS_DIR, PACKAGE_DIR, PROJECT_ROOT, PUBLISHED_DIR, REPO_DATA_DIR
from ..core.files import atomic_write, code_sha256, sha256_file, sha256_text
from ..reports.html import STATUS_SUFFIX

KERNEL_NAME = "peel-effectiveness"
SUBCOMMANDS = ("build", "data", "ledger", "validate", "index", "clean")


# --------------------------------------------------------------------------- sections and parameters

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


def notebook_parameters(path: Path) -> dict[str, str]:
    """Names and defaults (as source text) in the cell tagged ``parameters``."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            out = {}
            for node in ast.parse(source).body:
                if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    out[node.target.id] = ast.unparse(node.value) if node.value is not None else ""
                elif isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            out[target.id] = ast.unparse(node.value)
            return out
    return {}


def input_hashes() -> dict[str, str]:
    """Hashes of everything the notebooks read: the cache's source files, the published and
    data-return tables, the exclusion and caveat rules, the assumptions log and any user data return."""
    from .. import data
    from ..measures import datareturn

    out = dict(sorted(data.input_hashes().items()))
    extra = []
    for folder in (PUBLISHED_DIR, REPO_DATA_DIR):
        if folder.is_dir():
            extra += [p for p in sorted(folder.glob("*.csv")) + sorted(folder.glob("*.md")) if p.is_file()]
    user = datareturn.user_file()  # PEEL_DATA_RETURN or data/input/data_return.csv (one-line error if named but missing)
    if user is not None:
        extra.append(user)
    for path in extra:
        try:
            label = path.relative_to(PROJECT_ROOT).as_posix()
        except ValueError:
            label = f"PEEL_DATA_RETURN:{path.name}"
        out[label] = sha256_file(path)
    return out


def provenance() -> list[dict]:
    from .. import data

    try:
        return list(data.provenance())
    except TypeError:  # pragma: no cover - older signature
        return list(data.provenance(None))


# --------------------------------------------------------------------------- jobs

@dataclass(frozen=True)
class Job:
    force: str
    slug: str
    section: str
    period_end: str
    notebook: str            # path of the source notebook
    out_dir: str             # the batch's output root
    parameters: tuple        # sorted (name, value) pairs
    fingerprint: str
    context: str             # JSON: inputs, sources, code hash (recorded in metadata)

    @property
    def folder(self) -> Path:
        return Path(self.out_dir) / self.period_end / self.slug

    @property
    def ipynb(self) -> Path:
        return self.folder / f"{self.section}.ipynb"

    @property
    def html(self) -> Path:
        return self.folder / f"{self.section}.html"

    @property
    def status_path(self) -> Path:
        return self.folder / f"{self.section}{STATUS_SUFFIX}"

    @property
    def failed_ipynb(self) -> Path:
        return self.folder / "failed" / f"{self.section}.ipynb"

    @property
    def label(self) -> str:
        return f"{self.period_end} {self.slug} {self.section}"


def make_jobs(forces, chosen_sections, periods, out_dir: Path, inputs: dict, sources: list[dict],
              notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Job]:
    code = code_sha256(PACKAGE_DIR)
    context = json.dumps({"inputs": inputs, "sources": sources, "code_sha256": code}, sort_keys=True)
    jobs = []
    for period in periods:
        for force in forces:
            for section in chosen_sections:
                path = Path(notebooks_dir) / f"{section}.ipynb"
                accepted = notebook_parameters(path)
                params = {"force": force.name, "period_end": period.iso}
                params = {k: v for k, v in params.items() if k in accepted}
                fingerprint = sha256_text(sha256_file(path), json.dumps(params, sort_keys=True), context)
                jobs.append(Job(force.name, force.slug, section, period.iso, str(path), str(out_dir),
                                tuple(sorted(params.items())), fingerprint, context))
    return jobs


def up_to_date(job: Job) -> bool:
    try:
        record = json.loads(job.status_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (record.get("status") == "done" and record.get("fingerprint") == job.fingerprint
            and job.ipynb.is_file() and job.html.is_file())


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return " ".join(lines[:1])[:400] if lines else ""


def _title(job: Job) -> str:
    from ..core.periods import Period

    nb = json.loads(Path(job.notebook).read_text(encoding="utf-8"))
    section = nb.get("metadata", {}).get("title") or job.section
    return f"{job.force}: {section}, {Period.parse(job.period_end).label.lower()}"


def _status(job: Job, status: str, reason: str = "", seconds: float = 0.0, no_data: bool = False) -> dict:
    return {"status": status, "reason": reason, "no_data": no_data, "force": job.force, "slug": job.slug, "section": job.section,
            "period_end": job.period_end, "fingerprint": job.fingerprint, "seconds": round(seconds, 2),
            "parameters": dict(job.parameters), "html": job.html.name if status == "done" else "",
            "notebook": job.ipynb.name if status == "done" else f"failed/{job.failed_ipynb.name}",
            "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def _worker_env() -> None:
    """What every kernel of a worker inherits: Agg plotting, no debugger file-validation warning.

    Also: nbformat imports jsonschema, whose optional ``iri`` format checker (``rfc3987_syntax``)
    compiles dozens of parsers at import, about 1 CPU-second per worker (jsonschema issue 1428).
    No notebook schema uses that format, so a worker does without it."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # an ImportError, which jsonschema allows for


def _init_worker(log_dir: str | None = None, context: str = "") -> None:
    """Local worker set-up: quiet kernels (their stderr goes to a log file), no SIGINT, and, for
    forked kernels (``context`` given), the template started now so its imports overlap with the
    first job's set-up. Its key is computed here, after :func:`_worker_env`, exactly as each job
    computes it: a key made in the parent (without ``MPLBACKEND``) would not match, and the first
    job would close this template and start another.

    When the worker ends, however it ends, its template reads end-of-file on its input and takes
    its kernels with it (:mod:`peel_helpers.batch.template`)."""
    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        log = os.open(Path(log_dir) / f"worker-{os.getpid()}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 2)
        os.close(log)
    _worker_env()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interrupt means
    if context:
        from . import kernels

        try:
            kernels.prestart(KERNEL_NAME, kernels.template_key(context))
        except Exception as err:  # noqa: BLE001 - each job then tries again, or starts a fresh kernel
            print(f"kernel template not started: {type(err).__name__}: {err}", file=sys.stderr, flush=True)


def _execute(job: Job, tmp: Path, kernel_start: str, shared_process: bool):
    """papermill, with a forked kernel if asked. ``shared_process`` (a Dask worker running jobs in
    threads): no process-wide ``chdir``; the kernel's folder goes through nbclient instead."""
    import papermill as pm

    folder = str(Path(job.notebook).parent)
    extra = {"resources": {"metadata": {"path": folder}}}
    if kernel_start == "fork":
        from . import kernels, provisioner

        extra["kernel_manager_class"] = provisioner.manager_class(kernels.template_key(job.context))
    return pm.execute_notebook(
        job.notebook, str(tmp), parameters=dict(job.parameters), kernel_name=KERNEL_NAME,
        progress_bar=False, log_output=False, request_save_on_cell_execute=False,
        cwd=None if shared_process else folder, start_timeout=120, execution_timeout=900, **extra,
    )


def kernel_start_failed(err: Exception) -> bool:
    """True for a kernel that died or never answered before the first cell ran (for example two kernels
    that picked the same free port at once): the notebook itself never started, so it may be retried."""
    text = str(err)
    return isinstance(err, (RuntimeError, TimeoutError)) and (
        "before replying to kernel_info" in text or "didn't respond in" in text)


def _execute_retrying_start(job: Job, tmp: Path, kernel_start: str, shared_process: bool):
    """Run the notebook; if its kernel fails to start, start one more kernel, once. A notebook that
    fails in a cell is never retried."""
    try:
        return _execute(job, tmp, kernel_start, shared_process)
    except Exception as err:  # noqa: BLE001
        if not kernel_start_failed(err):
            raise
        print(f"{job.label}: kernel did not start ({_one_line(str(err))}); starting another", file=sys.stderr,
              flush=True)
        tmp.unlink(missing_ok=True)
        return _execute(job, tmp, kernel_start, shared_process)


def _failed(job: Job, err: Exception, tmp: Path, start: float) -> dict:
    """Keep a failed run apart (``failed/``, no HTML, no stale result) and record why, in one line."""
    ename = getattr(err, "ename", type(err).__name__)
    evalue = getattr(err, "evalue", str(err))
    reason = f"{ename}: {_one_line(evalue)}"
    job.failed_ipynb.parent.mkdir(parents=True, exist_ok=True)
    if tmp.is_file():
        os.replace(tmp, job.failed_ipynb)
    for stale in (job.ipynb, job.html):
        stale.unlink(missing_ok=True)
    record = _status(job, "failed", reason, time.perf_counter() - start)
    atomic_write(job.status_path, json.dumps(record, indent=1))
    return record


def _succeeded(job: Job, nb, start: float) -> dict:
    """Record provenance in the notebook, write it and its HTML, then the status sidecar (last)."""
    import nbformat

    from ..reports.html import export

    context = json.loads(job.context)
    nb.metadata["peel"] = {
        "parameters": dict(job.parameters), "force": job.force, "section": job.section,
        "period_end": job.period_end, "fingerprint": job.fingerprint,
        "notebook_sha256": sha256_file(Path(job.notebook)), "code_sha256": context["code_sha256"],
        "inputs": context["inputs"], "sources": context["sources"], "kernel": KERNEL_NAME,
    }
    atomic_write(job.ipynb, nbformat.writes(nb))
    export(nb, job.html, _title(job), index_path=Path(job.out_dir) / "index.html")
    failed = job.failed_ipynb
    failed.unlink(missing_ok=True)
    if failed.parent.is_dir() and not any(failed.parent.iterdir()):
        failed.parent.rmdir()
    record = _status(job, "done", "", time.perf_counter() - start, no_data=has_no_data(nb))
    atomic_write(job.status_path, json.dumps(record, indent=1))
    return record


def has_no_data(nb) -> bool:
    """True when the notebook shows a "no data" note (output metadata ``peel.no_data``) and no figure:
    the index then says "no data" rather than "report"."""
    outputs = [o for cell in nb.cells for o in cell.get("outputs", [])]
    marked = any(o.get("metadata", {}).get("peel", {}).get("no_data") for o in outputs)
    return marked and not any("image/png" in o.get("data", {}) for o in outputs)


def run_job(job: Job, kernel_start: str = "fresh", env: dict | None = None, shared_process: bool = False) -> dict:
    """Execute one notebook and export it; never raises for a notebook failure.

    ``env`` (the data variables of the runner, for a cluster worker) is applied first, so the
    kernels read the same data the fingerprints were computed from.
    """
    if env:
        os.environ.update(env)
    _worker_env()
    start = time.perf_counter()
    job.folder.mkdir(parents=True, exist_ok=True)
    tmp = job.folder / f".{job.section}.{os.getpid()}.{threading.get_ident()}.running.ipynb"
    try:
        nb = _execute_retrying_start(job, tmp, kernel_start, shared_process)
    except Exception as err:  # noqa: BLE001 - any failure becomes a failed record, never a result
        return _failed(job, err, tmp, start)
    finally:
        tmp.unlink(missing_ok=True)
    return _succeeded(job, nb, start)


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
    mode = build.add_mutually_exclusive_group()
    mode.add_argument("--continue-on-error", dest="fail_fast", action="store_false", default=False,
                      help="run everything, report failures at the end (default)")
    mode.add_argument("--fail-fast", dest="fail_fast", action="store_true", help="stop at the first failure")
    build.add_argument("--rerun", action="store_true", help="run even up-to-date outputs")
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


def build(args) -> int:
    """``peel-reports build``: check the scope, build the data cache and results table, run what is
    out of date (locally or on a cluster), write the index, print the summary. Exit status 1 if any
    notebook failed or did not run."""
    from . import kernels
    from ..measures import datareturn
    from ..reports.html import write_index

    forces, periods, notebooks, available, chosen = _scope(args)
    datareturn.check()  # a bad data-return file stops here, once, not in every notebook that reads it
    kernel_start = kernels.choose_kernel_start(args.kernel_start)
    if args.jobs is not None and args.jobs < 1:
        raise ParameterError(f"--jobs must be at least 1, not {args.jobs}.")
    if not kernel_available():
        raise ParameterError(f"Jupyter kernel {KERNEL_NAME!r} is not installed: run make setup "
                             f"(or python -m ipykernel install --sys-prefix --name {KERNEL_NAME}).")
    pool = None
    if args.scheduler:
        from .cluster import connect

        pool = connect(args.scheduler)  # before anything is written: an unreachable scheduler is one line
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)

    from .. import data

    try:
        data.build_cache()  # once, here: kernels then only read the parquet cache
        _warm_results()
        jobs = make_jobs(forces, chosen, periods, out, input_hashes(), provenance(), notebooks)
        todo = [j for j in jobs if args.rerun or not up_to_date(j)]
        skipped = [j for j in jobs if j not in set(todo)]
        n_jobs = args.jobs or default_jobs(kernel_start, len(todo))
        results = run_jobs(todo, n_jobs, fail_fast=args.fail_fast, quiet=args.quiet, log_dir=out / ".logs",
                           kernel_start=kernel_start, pool=pool)
    finally:
        if pool is not None:
            pool.shutdown(wait=False)
    write_index(out, available)
    return summarise(jobs, skipped, results, out)


def _warm_results() -> None:
    """Build the results table once, here, if its inputs changed: otherwise every template (or the
    first fresh kernels) would build the same table at the same time."""
    from ..measures import results

    results(forces=[], measures=[], periods=[])


def default_jobs(kernel_start: str, n_todo: int) -> int:
    """All cores. With forked kernels and a batch of at least 12 notebooks per core, one worker more,
    to fill the time a worker only waits (its kernel starting and exiting, the kernel's replies:
    latency, not CPU); on a smaller batch that worker's own start-up (imports, its template) costs
    more than it saves."""
    cores = os.cpu_count() or 1
    return cores + 1 if kernel_start == "fork" and n_todo >= 12 * cores else cores


def _terminate(signum, frame):
    raise KeyboardInterrupt


def _period(text: str):
    from ..core.errors import PeriodError
    from ..core.periods import Period

    try:
        return Period.parse(text.strip())
    except PeriodError as err:
        raise PeriodError(f"--period {text.strip()!r}: {err}") from None


DATA_ENV = ("PEEL_DATA_DIR", "PEEL_DATA_RETURN", "PEEL_DATA_MIRROR")


def _local_pool(todo: list[Job], n_jobs: int, log_dir: Path | None, kernel_start: str) -> ProcessPoolExecutor:
    """Spawned worker processes, each with its kernel template started at once (forked kernels)."""
    workers = max(1, min(n_jobs, len(todo)))
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_init_worker,
                               initargs=worker_args(todo, log_dir, kernel_start))


def worker_args(todo: list[Job], log_dir: Path | None, kernel_start: str) -> tuple:
    """What :func:`_init_worker` gets: the log folder and, for forked kernels, the batch's context."""
    return (str(log_dir) if log_dir else None, todo[0].context if kernel_start == "fork" else "")


def _stop_pool(pool) -> None:
    """After an interrupt: stop the workers now (their templates and kernels follow them)."""
    if hasattr(pool, "terminate"):
        pool.terminate()
        return
    for proc in list(getattr(pool, "_processes", {}).values()):
        proc.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def run_jobs(todo: list[Job], n_jobs: int, *, fail_fast: bool = False, quiet: bool = False,
             log_dir: Path | None = None, kernel_start: str = "fresh", pool=None) -> list[dict]:
    """Run ``todo`` in a process pool (or ``pool``, e.g. a Dask cluster), one kernel per job, with a
    progress bar. Returns the status records of the jobs that ran."""
    from tqdm import tqdm

    results: list[dict] = []
    if not todo:
        return results
    shared = pool is not None  # a cluster worker runs jobs in threads and needs the data variables
    env = {k: os.environ[k] for k in DATA_ENV if k in os.environ} if shared else None
    pool = pool or _local_pool(todo, n_jobs, log_dir, kernel_start)
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _terminate)
    # off a terminal (make logs, CI) update every 10 s instead of redrawing one very long line
    bar = tqdm(total=len(todo), unit="nb", disable=quiet, dynamic_ncols=True, file=sys.stderr,
               mininterval=0.1 if sys.stderr.isatty() else 10)
    try:
        pending = {pool.submit(run_job, job, kernel_start, env, shared): job for job in todo}
        _collect(pending, results, bar, fail_fast)
    except KeyboardInterrupt:
        bar.write("interrupted: finished outputs are kept; run the same command again to do the rest")
        _stop_pool(pool)
        raise
    finally:
        bar.close()
        signal.signal(signal.SIGTERM, previous)
    pool.shutdown(wait=True, cancel_futures=True)
    return results


def _collect(pending: dict, results: list[dict], bar, fail_fast: bool) -> None:
    """Gather finished jobs into ``results``; with ``fail_fast`` cancel the rest at the first failure."""
    while pending:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        stop = False
        for future in done:
            job = pending.pop(future)
            try:
                record = future.result()
            except Exception as err:  # noqa: BLE001 - a crashed worker is a failure of that job
                record = _status(job, "failed", f"{type(err).__name__}: {_one_line(str(err))}")
            results.append(record)
            bar.update(1)
            if record["status"] == "failed":
                bar.write(f"failed: {job.label}: {record['reason']}")
                stop = stop or fail_fast
        if stop:
            for future in pending:
                future.cancel()
            return


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
