"""Every process the batch runner starts dies with its parent, however the parent ends.

The mechanism is Linux's ``PR_SET_PDEATHSIG`` (set through ``ctypes``): each worker, template and
forked kernel asks the kernel to send it SIGKILL the moment its parent exits, even when the parent
was killed with SIGKILL (the out-of-memory killer) and could run no clean-up of its own. The chain
is runner → workers → templates → kernels, so killing the runner takes down the whole tree level by
level. A process checks its parent once more after the call, so a parent that died just before it
is noticed too.

``PR_SET_PDEATHSIG`` fires when the *thread* that started the process ends, so it is set only where
that thread lives as long as its process: the runner's main thread starts the workers, a worker's
main thread starts its template, and a template has one thread. Where a template is started from a
thread that may end (a Dask worker's task threads), the template relies on the pipe it serves: it
reads end-of-file when its worker goes, then kills its kernels and exits. Fresh (not forked)
kernels exit through ipykernel's own parent poller (``JPY_PARENT_PID``), within about a second.

Elsewhere than Linux the call does nothing; the pipes and ipykernel's poller remain.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15


def in_main_thread() -> bool:
    """True when called from the process's main thread (a child started here may use the death signal)."""
    return threading.current_thread() is threading.main_thread()


def die_with_parent(parent_pid: int | None = None, signum: int = signal.SIGKILL) -> bool:
    """Have ``signum`` sent to this process when its parent exits; exit at once if the parent (``parent_pid``)
    is already gone. True if the kernel accepted the request."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        accepted = libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):  # pragma: no cover - no prctl in this C library
        return False
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)  # the parent died before the request was in place
    return accepted


def name_process(name: str) -> None:
    """Show this process as ``name`` (at most 15 characters) in ``ps``, ``top`` and ``/proc/PID/comm``:
    ``peel-worker``, ``peel-host``, ``peel-template``, ``peel-kernel``. Its command line is unchanged."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None).prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover
        pass
