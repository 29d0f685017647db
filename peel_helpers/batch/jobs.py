"""One job of the batch: a notebook for one force and period. What it is, when it is up to date, how a
worker runs it, and the files it leaves (a result, or a failure kept apart).

A job only runs its notebook: the pages made from it are the publisher's (:mod:`peel_helpers.publish`).
A result is two files, each written through :mod:`peel_helpers.core.records` with the job's
fingerprint: the executed notebook, then the status (``.status.json``, last). The old status is
removed before the notebook is replaced, so an interruption or a full disk at any point leaves no
"done" status over a notebook that does not match it; a write that fails removes what it wrote. On
resume a job is skipped only if its status says done with the job's fingerprint and its notebook is
trusted: recorded with that fingerprint and still the bytes recorded.

The fingerprint holds the notebook, its parameters, the hashes of the data it reads and the code
that runs in kernels (:func:`peel_helpers.core.contract.kernel_code_sha256`), and nothing else:
editing the runner or the publisher reruns no notebook.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..core import records
from ..core.contract import FAILED_DIR, STATUS_SUFFIX, kernel_code_sha256
from ..core.files import sha256_file, sha256_text
from ..core.paths import NOTEBOOKS_DIR, PROJECT_ROOT, PUBLISHED_DIR, REPO_DATA_DIR
from ..core.sections import DECLARATION

KERNEL_NAME = "peel-effectiveness"
ENGINE = "peel"


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
    extra = [p for p in [NOTEBOOKS_DIR / DECLARATION] if p.is_file()]   # the assumption ids each section links
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
        return self.folder / FAILED_DIR / f"{self.section}.ipynb"

    @property
    def label(self) -> str:
        return f"{self.period_end} {self.slug} {self.section}"

    def scratch(self, pid: int | None = None, thread: int | None = None) -> Path:
        """The notebook papermill writes while the job runs (a dot-file: never taken for a result)."""
        return self.folder / f".{self.section}.{pid or os.getpid()}.{thread or threading.get_ident()}.running.ipynb"


def make_jobs(forces, chosen_sections, periods, out_dir: Path, inputs: dict, sources: list[dict],
              notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Job]:
    code = kernel_code_sha256()
    context = json.dumps({"inputs": inputs, "sources": sources, "code_sha256": code}, sort_keys=True)
    jobs = []
    accepted = {s: notebook_parameters(Path(notebooks_dir) / f"{s}.ipynb") for s in chosen_sections}
    notebook_hash = {s: sha256_file(Path(notebooks_dir) / f"{s}.ipynb") for s in chosen_sections}
    for period in periods:
        for force in forces:
            for section in chosen_sections:
                path = Path(notebooks_dir) / f"{section}.ipynb"
                params = {"force": force.name, "period_end": period.iso}
                params = {k: v for k, v in params.items() if k in accepted[section]}
                fingerprint = sha256_text(notebook_hash[section], json.dumps(params, sort_keys=True), context)
                jobs.append(Job(force.name, force.slug, section, period.iso, str(path), str(out_dir),
                                tuple(sorted(params.items())), fingerprint, context))
    return jobs


# --------------------------------------------------------------------------- up to date?

def _read_json(path: Path):
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def up_to_date(job: Job) -> bool:
    """Skip this job? Only when its last run succeeded with the same fingerprint and its notebook is the
    file recorded then, made with that fingerprint."""
    record = _read_json(job.status_path)
    if not isinstance(record, dict) or record.get("status") != "done" or record.get("fingerprint") != job.fingerprint:
        return False
    return records.trusted(job.status_path, job.fingerprint) and records.trusted(job.ipynb, job.fingerprint)


def longest_first(todo: list[Job]) -> list[Job]:
    """``todo`` with the jobs expected to take longest first, so that no long notebook starts last and
    keeps one worker busy after the others have finished. The expectation is what the job took last
    time (its status file), else the median of what that section took for any force or period in the
    same folder; a job with neither goes first. The order among equals is kept."""
    import statistics

    by_section: dict[str, list[float]] = {}
    own: dict[Job, float] = {}
    for job in todo:
        record = _read_json(job.status_path)
        if isinstance(record, dict) and isinstance(record.get("seconds"), (int, float)):
            own[job] = float(record["seconds"])
    for folder in {Path(job.out_dir) for job in todo}:
        for path in folder.glob(f"*/*/*{STATUS_SUFFIX}"):
            record = _read_json(path)
            if isinstance(record, dict) and isinstance(record.get("seconds"), (int, float)) and record.get("section"):
                by_section.setdefault(record["section"], []).append(float(record["seconds"]))
    median = {section: statistics.median(values) for section, values in by_section.items()}
    return sorted(todo, key=lambda job: -own.get(job, median.get(job.section, float("inf"))))


# --------------------------------------------------------------------------- status records

def one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return " ".join(lines[:1])[:400] if lines else ""


def status_record(job: Job, status: str, reason: str = "", seconds: float = 0.0, no_data: bool = False,
                  notebook: str = "", **extra) -> dict:
    return {"status": status, "reason": reason, "no_data": no_data, "force": job.force, "slug": job.slug,
            "section": job.section, "period_end": job.period_end, "fingerprint": job.fingerprint,
            "seconds": round(seconds, 2), "parameters": dict(job.parameters),
            "notebook": job.ipynb.name if status == "done" else notebook,
            "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **extra}


def discard_partial(job: Job, pid: int | None = None) -> None:
    """After a worker died or was stopped while running ``job``: remove its scratch notebook, and any
    notebook or HTML that no "done" status of this job vouches for (a write cut short)."""
    pattern = f".{job.section}.{pid}.*.running.ipynb" if pid else f".{job.section}.*.running.ipynb"
    for stray in job.folder.glob(pattern):
        stray.unlink(missing_ok=True)
    record = _read_json(job.status_path)
    if not (isinstance(record, dict) and record.get("status") == "done" and record.get("fingerprint") == job.fingerprint):
        records.withdraw(job.ipynb, job.html)


def worker_lost(job: Job, pid: int, reason: str) -> dict:
    """The runner's record of a job whose worker died under it, or failed outside the notebook
    (written by the runner): no partial file is kept, and the status says why."""
    discard_partial(job, pid)
    record = status_record(job, "failed", reason)
    write_status(job, record)
    return record


def write_status(job: Job, record: dict) -> None:
    """The job's status file, through its record; a write that fails (a full disk) leaves none."""
    try:
        records.write(job.status_path, json.dumps(record, indent=1), made_from=job.fingerprint, kind="job status")
    except OSError:
        records.withdraw(job.status_path)


# --------------------------------------------------------------------------- in the worker

def worker_env() -> None:
    """What every kernel of a worker inherits: Agg plotting, no debugger file-validation warning.

    Also: nbformat imports jsonschema, whose optional ``iri`` format checker (``rfc3987_syntax``)
    compiles dozens of parsers at import, about 1 CPU-second per worker (jsonschema issue 1428).
    No notebook schema uses that format, so a worker does without it."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # an ImportError, which jsonschema allows for


def init_worker(log_dir: str | None = None, context: str = "", channel: tuple | None = None) -> None:
    """Local worker set-up: quiet kernels (their stderr goes to a log file), no SIGINT (the runner
    decides what an interrupt means), SIGTERM ends it at once, and, for forked kernels (``context``
    given), its template started now. The template's key is computed here, after :func:`worker_env`,
    exactly as each job computes it: a key made in the runner (before ``MPLBACKEND`` is set) would
    not match, and the first job would close this template and start another.

    A worker given a ``channel`` (two pipe ends) is served by the runner's template host; one forked
    from a preloaded process forks its template from itself; any other starts one with the kernel's
    interpreter. Either way the template ends when the worker does (:mod:`peel_helpers.batch.lifetime`)."""
    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        log = os.open(Path(log_dir) / f"worker-{os.getpid()}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 2)
        os.close(log)
    worker_env()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if context:
        from multiprocessing import util

        from . import kernels

        # a worker leaves through multiprocessing, which runs no atexit handler: stop a kernel started
        # for a job that never came, then close the template (and wait for it, so its CPU time is
        # counted with the worker's) as the worker ends
        util.Finalize(None, stop_next_kernels, exitpriority=20)
        util.Finalize(None, kernels.close_all, exitpriority=10)
        try:
            how = kernels.prestart(KERNEL_NAME, kernels.template_key(context), channel)
            print(f"worker {os.getpid()}: kernel template {how}", file=sys.stderr, flush=True)
        except Exception as err:  # noqa: BLE001 - each job then tries again, or starts a fresh kernel
            print(f"kernel template not started: {type(err).__name__}: {err}", file=sys.stderr, flush=True)


def _register_engine() -> None:
    """papermill's nbclient engine, with two differences:

    * a notebook whose run ends in an exception other than a failing cell (the kernel died, a cell
      timed out) keeps the notebook as far as it ran on the exception (``partial_nb``), as papermill
      already does for a failing cell;
    * a kernel manager passed in (``km``, a kernel started beforehand) is shut down and cleaned up
      after the run, exactly as one nbclient starts itself."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    if ENGINE in papermill_engines._engines:
        return

    class PeelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            client = PapermillNotebookClient(nb_man, **merge_kwargs(
                kwargs, timeout=execution_timeout, startup_timeout=start_timeout, kernel_name=kernel_name,
                log=logger, log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file))
            client.owns_km = True  # shut down and clean up a kernel started beforehand too
            try:
                return client.execute()
            except Exception as err:
                err.partial_nb = nb_man.nb
                raise

    papermill_engines.register(ENGINE, PeelEngine)


# A kernel started for the next job of this worker while the current one runs, so that the next job
# does not wait for its kernel to start (forked kernels in a local worker only): (template key,
# folder) -> kernel manager. Every notebook still gets a kernel of its own.
_NEXT_KERNEL: dict[tuple, object] = {}
HISTORY_ARG = "--HistoryManager.hist_file=:memory:"  # as nbclient starts ipykernel kernels


def _kernel_for(manager_class, folder: str):
    """The kernel started for this job beforehand (None: nbclient starts one), and the next job's started now."""
    from jupyter_core.utils import run_sync

    km = _NEXT_KERNEL.pop((manager_class.template_key, folder), None)
    try:
        upcoming = manager_class(kernel_name=KERNEL_NAME)
        run_sync(upcoming.start_kernel)(extra_arguments=[HISTORY_ARG], cwd=folder)
        _NEXT_KERNEL[(manager_class.template_key, folder)] = upcoming
    except Exception as err:  # noqa: BLE001 - the next job then starts its kernel itself
        print(f"next kernel not started early: {type(err).__name__}: {one_line(str(err))}", file=sys.stderr,
              flush=True)
    return km


def stop_next_kernels() -> None:
    """Stop the kernels started for jobs that never came (the worker is ending)."""
    from jupyter_core.utils import run_sync

    while _NEXT_KERNEL:
        km = _NEXT_KERNEL.popitem()[1]
        try:
            run_sync(km.shutdown_kernel)(now=True)
        except Exception:  # noqa: BLE001 - its template kills it anyway when the worker goes
            pass


def _execute(job: Job, tmp: Path, kernel_start: str, shared_process: bool):
    """papermill, with a forked kernel if asked (started while this worker's previous job ran, when it
    runs in a local worker). ``shared_process`` (a Dask worker running jobs in threads): no
    process-wide ``chdir``; the kernel's folder goes through nbclient instead."""
    import papermill as pm

    _register_engine()
    folder = str(Path(job.notebook).parent)
    extra = {"resources": {"metadata": {"path": folder}}}
    if kernel_start == "fork":
        from . import kernels, provisioner

        extra["kernel_manager_class"] = provisioner.manager_class(kernels.template_key(job.context))
        if not shared_process:
            extra["km"] = _kernel_for(extra["kernel_manager_class"], folder)
    return pm.execute_notebook(
        job.notebook, str(tmp), parameters=dict(job.parameters), kernel_name=KERNEL_NAME, engine_name=ENGINE,
        progress_bar=False, log_output=False, request_save_on_cell_execute=False, shutdown_kernel="immediate",
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
        print(f"{job.label}: kernel did not start ({one_line(str(err))}); starting another", file=sys.stderr,
              flush=True)
        tmp.unlink(missing_ok=True)
        return _execute(job, tmp, kernel_start, shared_process)


def _keep_failed_notebook(job: Job, err: Exception, tmp: Path) -> str:
    """Put the notebook as far as it ran under ``failed/``: papermill's file for a failing cell, else the
    notebook the engine kept (the kernel died, a timeout). Returns its path relative to the job's
    folder, or "" if there is none (or it could not be written)."""
    import nbformat

    target = job.failed_ipynb
    records.withdraw(target)
    try:
        if _read_json(tmp) is not None:
            records.write(target, tmp.read_bytes(), made_from=job.fingerprint, kind="failed notebook")
        elif getattr(err, "partial_nb", None) is not None:
            records.write(target, nbformat.writes(err.partial_nb), made_from=job.fingerprint, kind="failed notebook")
        else:
            return ""
    except OSError:
        records.withdraw(target)
        return ""
    return target.relative_to(job.folder).as_posix()


def _failed(job: Job, err: Exception, tmp: Path, start: float) -> dict:
    """Keep a failed run apart (``failed/``, no HTML, no stale result) and record why, in one line."""
    ename = getattr(err, "ename", type(err).__name__)
    evalue = getattr(err, "evalue", str(err))
    records.withdraw(job.status_path, job.ipynb, job.html)
    kept = _keep_failed_notebook(job, err, tmp)
    _remove_empty(job.failed_ipynb.parent)
    record = status_record(job, "failed", f"{ename}: {one_line(evalue)}", time.perf_counter() - start, notebook=kept)
    write_status(job, record)   # a full disk: the runner still reports it; nothing here looks like a result
    return record


def _remove_empty(folder: Path) -> None:
    """Remove ``failed/`` once it holds no failed notebook (nor the records of any)."""
    for path in (folder / records.RECORDS_DIR, folder):
        try:
            path.rmdir()
        except OSError:
            pass


def _succeeded(job: Job, nb, tmp: Path, start: float) -> dict:
    """Record provenance in the notebook, write it, then the status (last). Any write that fails (a full
    disk) leaves neither: the job fails."""
    import nbformat

    context = json.loads(job.context)
    nb.metadata["peel"] = {
        "parameters": dict(job.parameters), "force": job.force, "section": job.section,
        "period_end": job.period_end, "fingerprint": job.fingerprint,
        "notebook_sha256": sha256_file(Path(job.notebook)), "code_sha256": context["code_sha256"],
        "inputs": context["inputs"], "sources": context["sources"], "kernel": KERNEL_NAME,
    }
    records.withdraw(job.status_path, job.html)  # no "done" status may stand over a notebook being replaced
    try:
        written = records.write(job.ipynb, nbformat.writes(nb), made_from=job.fingerprint, kind="executed notebook")
        record = status_record(job, "done", "", time.perf_counter() - start, no_data=has_no_data(nb),
                               ipynb_sha256=written["sha256"])
        records.write(job.status_path, json.dumps(record, indent=1), made_from=job.fingerprint, kind="job status")
    except OSError as err:
        records.withdraw(job.status_path, job.ipynb)
        return _failed(job, err, tmp, start)
    records.withdraw(job.failed_ipynb)
    _remove_empty(job.failed_ipynb.parent)
    return record


def has_no_data(nb) -> bool:
    """True when the notebook shows a "no data" note (output metadata ``peel.no_data``) and no figure:
    the index then says "no data" rather than "report"."""
    outputs = [o for cell in nb.cells for o in cell.get("outputs", [])]
    marked = any(o.get("metadata", {}).get("peel", {}).get("no_data") for o in outputs)
    figure = any(o.get("metadata", {}).get("peel", {}).get("kind") == "figure"
                 or any(k in o.get("data", {}) for k in ("image/png", "image/svg+xml")) for o in outputs)
    return marked and not figure


def run_job(job: Job, kernel_start: str = "fresh", env: dict | None = None, shared_process: bool = False) -> dict:
    """Execute one notebook and export it; never raises for a notebook failure.

    ``env`` (the data variables of the runner, for a cluster worker) is applied first, so the
    kernels read the same data the fingerprints were computed from.
    """
    if env:
        os.environ.update(env)
    worker_env()
    start = time.perf_counter()
    tmp = job.scratch()
    try:
        job.folder.mkdir(parents=True, exist_ok=True)
        nb = _execute_retrying_start(job, tmp, kernel_start, shared_process)
    except Exception as err:  # noqa: BLE001 - any failure becomes a failed record, never a result
        return _failed(job, err, tmp, start)
    finally:
        tmp.unlink(missing_ok=True)
    return _succeeded(job, nb, tmp, start)

