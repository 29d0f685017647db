"""The fork template: a process that has imported the notebook stack and forks kernels from itself.

A worker of the batch runner starts one template (:class:`peel_helpers.batch.kernels.ForkServer`)
with the interpreter and flags of the ``peel-effectiveness`` kernelspec::

    python -Xfrozen_modules=off -c "from peel_helpers.batch.template import main; main()"

The template imports pandas, matplotlib (Agg), seaborn, ``peel_helpers`` and ``ipykernel``
(:func:`peel_helpers.preload`), reads the parquet cache, and then serves requests, one JSON line
each, on its standard input; replies go to its standard output:

``{"op": "fork", "argv": [...], "env": {...}, "cwd": "..."}``
    fork a child that runs ``IPKernelApp`` with ``argv`` (``-f <connection file>``) in ``cwd``
    with exactly ``env`` as its environment; reply ``{"pid": N}``.
``{"op": "reap", "pid": N}``
    wait for child ``N`` (the worker has seen it exit) and reply ``{"pid": N, "status": code}``.

Why it is safe to fork: the template starts no thread, creates no zmq context and opens no
socket before it forks. Libraries that would start native threads at import are told not to
(``OPENBLAS_NUM_THREADS=1``; Arrow's jemalloc background thread off), the cache is read with
Arrow's thread pools off, and before every fork the template checks ``/proc/self/task`` (every
native thread, not only Python's), ``threading``, zmq and its open file descriptors, and refuses
to fork if anything is there.

Why no state leaks: every kernel is a new process; it inherits the template's memory, which no
kernel can write back to, and never sees another kernel's changes. The runner's template host (:func:`host`, forked from the runner) does all of that once and forks
one template per worker (:func:`start_forked`): the same serving loop, on a pair of pipes made for
that worker, with nothing to import.

When the worker goes away (normally, killed, or interrupted) the template reads end-of-file on
its standard input, kills its remaining children and exits. Kernels and templates also die with
their parents (:mod:`peel_helpers.batch.lifetime`; ``JPY_PARENT_PID`` is the template).
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import time
from contextlib import contextmanager

from . import lifetime

# Set by the worker in the template's environment only: each kernel gets exactly the environment
# its kernel manager asks for.
TEMPLATE_ENV = {"OPENBLAS_NUM_THREADS": "1", "JE_ARROW_MALLOC_CONF": "background_thread:false"}
_STD_FDS = {0, 1, 2}
# Set by warm() once it has run in this process: a template forked from here need not warm again.
WARMED: list[str] = []
# The first sys.path entry of the runner's command line (its script folder or working folder), which a
# kernel started as ``python -m ipykernel_launcher`` would not have: a template forked from the runner
# drops it.
RUNNER_ENTRY: list[str] = []


def _proc_threads() -> int:
    """Native threads of this process (every thread, not only Python's)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # pragma: no cover - not Linux
        import threading

        return threading.active_count()


def _open_fds() -> dict[int, str]:
    out = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            out[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # the descriptor listdir itself used
    return out


def fork_safety_problems(protocol_fds: set[int]) -> list[str]:
    """What would make a fork unsafe right now (empty when it is safe)."""
    import threading

    problems = []
    if threading.active_count() != 1:
        problems.append(f"{threading.active_count()} Python threads")
    if _proc_threads() != 1:
        problems.append(f"{_proc_threads()} native threads")
    zmq = sys.modules.get("zmq")
    if zmq is not None and getattr(zmq.Context, "_instance", None) is not None:
        problems.append("a zmq context exists")
    sockets = [fd for fd, target in _open_fds().items()
               if fd not in protocol_fds | _STD_FDS and target.startswith("socket:")]
    if sockets:
        problems.append(f"open sockets on fds {sockets}")
    return problems


@contextmanager
def single_threaded_parquet():
    """Within the block, ``pandas.read_parquet`` reads without starting Arrow's thread pools.

    pandas reads through ``pyarrow.parquet.read_table`` (the dataset reader), which starts Arrow's
    I/O threads even with ``use_threads=False``; ``ParquetFile.read`` without pre-buffering does
    not. Both give the same table, and pandas converts it as usual (its own types mapper), without
    threads. Only the template reads this way; kernels read normally.
    """
    import pandas as pd
    import pyarrow.parquet as pq

    original_read, original_table = pd.read_parquet, pq.read_table

    def read_table(source, *, columns=None, filesystem=None, filters=None, use_pandas_metadata=False,
                   use_threads=True, **kwargs):
        if filesystem is not None or filters is not None or kwargs:  # not a plain file: as usual
            return original_table(source, columns=columns, filesystem=filesystem, filters=filters,
                                  use_pandas_metadata=use_pandas_metadata, use_threads=use_threads, **kwargs)
        reader = pq.ParquetFile(source, pre_buffer=False)
        return reader.read(columns=columns, use_threads=False, use_pandas_metadata=use_pandas_metadata)

    def read_parquet(path, *args, **kwargs):
        kwargs.setdefault("to_pandas_kwargs", {"use_threads": False})
        return original_read(path, *args, **kwargs)

    pd.read_parquet, pq.read_table = read_parquet, read_table
    try:
        yield
    finally:
        pd.read_parquet, pq.read_table = original_read, original_table


def warm_figures() -> None:
    """Draw and render one small throw-away chart (seaborn bars, markers, a line, text, a legend,
    PNG through Agg) so that font loading, glyph and text-layout caches are filled once here
    instead of in every kernel. It uses a plain ``Figure`` (never pyplot) and changes no settings."""
    import io

    import pandas as pd
    import seaborn as sns
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 3), dpi=100)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    frame = pd.DataFrame({"force": ["A", "B"], "value": [1.0, 2.0]})
    sns.barplot(data=frame, x="value", y="force", ax=ax, saturation=1, color="#12436D")
    ax.scatter([1.0], [0], marker="D", facecolor="none")
    ax.axvline(1.5, linestyle="--")
    ax.set_title("Warm-up", loc="left", fontsize=12, fontweight="bold")
    ax.text(0, 1, "note", fontsize=8)
    ax.legend(["a"], loc="lower right")
    figure.savefig(io.BytesIO(), format="png", metadata={"Software": None})


def warm(quarters: bool = True) -> str:
    """Import the notebook stack, read the cache and warm the figure code (once per process; with
    ``quarters``, also the quarterly outcome counts only the trends section reads: worth it when many
    kernels will be forked from here). Returns a one-line note if reading or warming failed (the
    kernels then do it themselves and report any problem as the notebook would)."""
    if WARMED:
        return WARMED[0]
    WARMED.append(_warm(quarters))
    return WARMED[0]


# What a kernel imports while it starts (beyond ipykernel itself): the debugger (debugpy, about half of
# a forked kernel's start-up when left to each kernel), the history database, the magics it loads.
# Importing them starts no thread.
KERNEL_START_MODULES = ("ipykernel.debugger", "ipykernel.zmqshell", "IPython.core.history", "IPython.core.debugger",
                        "IPython.core.completerlib", "IPython.core.oinspect", "IPython.extensions.storemagic",
                        "IPython.utils.wildcard", "tornado.platform.asyncio", "sqlite3", "faulthandler")


def _warm(quarters: bool) -> str:
    import importlib

    os.environ.setdefault("MPLBACKEND", "Agg")
    import ipykernel.ipkernel  # noqa: F401 - the kernel itself
    import ipykernel.kernelapp  # noqa: F401
    import peel_helpers

    for name in KERNEL_START_MODULES:
        importlib.import_module(name)

    try:
        with single_threaded_parquet():
            peel_helpers.preload(quarters=quarters)
        warm_figures()
    except Exception as err:  # noqa: BLE001 - a missing cache is the notebook's error to report
        return f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"
    return ""


# --------------------------------------------------------------------------- the kernel child

def _run_kernel(request: dict, protocol_fds: set[int]) -> int:
    """In the forked child: become a fresh kernel process and run ``IPKernelApp`` until shutdown."""
    import atexit

    atexit._clear()  # the template's exit handlers are not the kernel's
    for fd in protocol_fds:
        os.close(fd)
    for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    if request.get("cwd"):
        os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ["JPY_PARENT_PID"] = str(os.getppid())  # the kernel exits if the template goes
    cwd = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", cwd)]  # as ipykernel_launcher does
    import ipykernel_launcher
    from ipykernel.kernelapp import IPKernelApp

    sys.argv = [ipykernel_launcher.__file__, *request["argv"]]
    # class-level defaults read JPY_PARENT_PID when the template imported ipykernel: set it here
    app = IPKernelApp.instance(parent_handle=os.getppid())
    app.initialize(request["argv"])
    app.start()
    atexit._run_exitfuncs()
    return 0


def _fork(request: dict, protocol_fds: set[int]) -> int:
    """Fork one kernel; return its pid once it leads its own session (so signals reach its group)."""
    problems = fork_safety_problems(protocol_fds)
    if problems:
        raise RuntimeError("the template is not safe to fork: " + "; ".join(problems))
    sync_r, sync_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    template = os.getpid()
    pid = os.fork()
    if pid == 0:  # the kernel
        code = 1
        try:
            os.close(sync_r)
            lifetime.die_with_parent(template)
            lifetime.name_process("peel-kernel")
            os.setsid()
            os.write(sync_w, b"1")
            os.close(sync_w)
            code = _run_kernel(request, protocol_fds)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 0
        except BaseException:  # noqa: BLE001 - report, then leave without running the template's code
            import traceback

            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(sync_w)
    os.read(sync_r, 1)  # the child has called setsid (or died: an empty read)
    os.close(sync_r)
    return pid


# --------------------------------------------------------------------------- serving

def _exit_code(status: int) -> int:
    return os.waitstatus_to_exitcode(status)


def _reap_finished(finished: dict[int, int]) -> None:
    """Collect every child that has exited (no zombies), keeping its exit code for ``reap``."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        finished[pid] = _exit_code(status)


def _reap(pid: int, finished: dict[int, int]) -> int:
    """Exit code of child ``pid``: already collected, or waited for now (-1 if it is not our child)."""
    if pid in finished:
        return finished.pop(pid)
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return -1
    return _exit_code(status)


def _kill_children(children: set[int]) -> None:
    """On the way out: SIGTERM every kernel still running, then SIGKILL what is left after 2 s."""
    live = set(children)
    for pid in live:
        try:
            os.killpg(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 2
    while live and time.monotonic() < deadline:
        for pid in list(live):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                live.discard(pid)
        time.sleep(0.02)
    for pid in live:
        try:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass


def _serve(reader, writer, protocol_fds: set[int]) -> None:
    """Answer requests until end-of-file (the worker has gone), then kill the kernels still running."""
    children: set[int] = set()
    finished: dict[int, int] = {}
    try:
        for line in reader:
            request = json.loads(line)
            _reap_finished(finished)
            try:
                if request["op"] == "fork":
                    pid = _fork(request, protocol_fds)
                    children.add(pid)
                    reply = {"pid": pid}
                elif request["op"] == "reap":
                    reply = {"pid": request["pid"], "status": _reap(request["pid"], finished)}
                    children.discard(request["pid"])
                else:
                    reply = {"error": f"unknown request {request['op']!r}"}
            except Exception as err:  # noqa: BLE001 - the worker gets the reason and starts a fresh kernel
                reply = {"error": f"{type(err).__name__}: {err}"}
            writer.write(json.dumps(reply) + "\n")
            writer.flush()
    finally:
        _kill_children(children - set(finished))


def serve(proto_in: int, proto_out: int) -> None:
    """Warm (unless this process already has), report ready (or why it is not safe to fork), then
    answer requests on ``proto_in`` / ``proto_out`` until end-of-file."""
    reader = os.fdopen(proto_in, "r", encoding="utf-8")
    writer = os.fdopen(proto_out, "w", encoding="utf-8")
    collecting = gc.isenabled()
    gc.disable()  # imports make many collections that find almost nothing
    note = warm()
    gc.freeze()  # kernels never scan (and so never copy) the template's objects in their collections
    if collecting:
        gc.enable()
    problems = fork_safety_problems({proto_in, proto_out})
    try:
        writer.write(json.dumps({"ready": not problems, "pid": os.getpid(), "note": note,
                                 "problems": problems}) + "\n")
        writer.flush()
    except BrokenPipeError:  # the worker went away while this template was starting: nothing to serve
        return
    if problems:
        return
    _serve(reader, writer, {proto_in, proto_out})


def _quiet_std_fds() -> None:
    """Standard input reads nothing and standard output goes where standard error goes, so a kernel's
    stray output can never corrupt the protocol."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)


def start_forked(proto_in: int, proto_out: int, parent: int) -> None:
    """In a child just forked from the template host (:func:`host`): become one worker's template.
    Keeps only the protocol pipes and the standard descriptors (so no pipe of another worker or of the
    runner stays open here), leads its own session (a Ctrl-C at the terminal is the runner's to
    handle), dies with the host, serves, and never returns."""
    code = 0
    try:
        os.setsid()
        lifetime.die_with_parent(parent)
        lifetime.name_process("peel-template")
        keep = {0, 1, 2, proto_in, proto_out}
        for fd in _open_fds():
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        _quiet_std_fds()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if RUNNER_ENTRY and sys.path and sys.path[0] == RUNNER_ENTRY[0]:
            del sys.path[0]
        serve(proto_in, proto_out)
    except BaseException:  # noqa: BLE001 - report, then leave without running the worker's code
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stderr.flush()
        os._exit(code)


def _quiet_host() -> None:
    """The host writes nothing to the runner's terminal (it starts before the output folder exists; a
    traceback, if any, goes to the log folder afterwards)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    _quiet_std_fds()


def _log_to(log_path: str) -> None:
    """From now on the host's (and its templates' and kernels') stray output goes to ``log_path``."""
    try:
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        return
    os.dup2(log, 2)
    os.dup2(log, 1)
    os.close(log)


def _log_failure(log_path: str) -> None:
    import traceback

    try:
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        with open(log_path, "a", encoding="utf-8") as log:
            traceback.print_exc(file=log)
    except OSError:
        pass


def _fork_template(fds: tuple[int, int]) -> int:
    host = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        start_forked(fds[0], fds[1], host)  # never returns
    for fd in fds:
        os.close(fd)
    return pid


def host(control: int, channels: dict[int, tuple[int, int]], parent: int, quarters: bool, log_path: str) -> None:
    """In a child just forked from the runner (:class:`peel_helpers.batch.kernels.TemplateHost`): finish
    warming (:func:`warm`) while the runner prepares its workers, then fork the template of each channel
    the runner names on ``control`` (one index a line). At end-of-file, wait for those templates (each
    ends when its worker does) and exit. Dies with the runner; never returns."""
    code = 0
    try:
        lifetime.die_with_parent(parent)
        lifetime.name_process("peel-host")
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _quiet_host()
        collecting = gc.isenabled()
        gc.disable()
        warm(quarters)
        gc.freeze()
        if collecting:
            gc.enable()
        templates = set()
        with os.fdopen(control, "r", encoding="utf-8") as requests:
            for line in requests:
                fds = channels.pop(int(line), None)
                if fds is not None:
                    if not templates:  # workers exist, so the output folder does: log there
                        _log_to(log_path)
                    templates.add(_fork_template(fds))
        for pid in templates:
            os.waitpid(pid, 0)
    except BaseException:  # noqa: BLE001 - report, then leave without running the runner's code
        _log_failure(log_path)
        code = 1
    finally:
        os._exit(code)


def main() -> None:
    """Entry point of a spawned template process (see the module docstring)."""
    proto_in, proto_out = os.dup(0), os.dup(1)
    _quiet_std_fds()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides; it closes our stdin to stop us
    parent = int(os.environ.get("PEEL_TEMPLATE_PARENT", "0") or 0)
    if parent:  # started from its worker's main thread: die with the worker even if it is killed
        lifetime.die_with_parent(parent)
    lifetime.name_process("peel-template")
    serve(proto_in, proto_out)


if __name__ == "__main__":  # pragma: no cover
    main()
