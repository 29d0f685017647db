"""Forked kernels, worker side: the fork server handle, the kernel process handle, the choice of start.

A kernel start normally costs a new interpreter plus the imports of pandas, matplotlib, seaborn and
``peel_helpers`` (about 1 CPU-second). With ``--kernel-start fork`` each worker of the batch runner
keeps one *template* process (:mod:`peel_helpers.batch.template`) that has done those imports and
read the data cache once; every notebook's kernel is a ``fork()`` of it. The kernel is still a new
process for each notebook, so nothing one notebook does is seen by the next.

* :class:`ForkServer` starts and talks to a template (one JSON line per request, over pipes).
* :class:`ForkedProcess` is the ``subprocess.Popen``-like handle the kernel provisioner keeps
  (:mod:`peel_helpers.batch.provisioner`). The kernel is the template's child, not the worker's,
  so the handle watches it through a pidfd (Linux) and asks the template for its exit code.
* :func:`server` keeps one template per worker process and per *key*: a hash of the batch's input
  data hashes, code hash and data environment. A kernel forked from a template inherits what the
  template read, so when the inputs change the old template is closed and a new one reads them.
* :func:`prestart` starts a worker's template. A worker forked from a runner that has already
  imported the notebook stack and read the data (:func:`can_fork_template`) forks its template from
  itself, at no cost; any other worker starts one with the kernelspec's interpreter.

Fork mode needs Linux (``os.fork`` and ``os.pidfd_open``). ``auto`` picks it there and a plain
kernel start everywhere else (macOS, where forking a process that has imported system frameworks
is unsafe; Windows, which has no fork).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import select
import signal
import subprocess
import sys
import threading

from ..core.errors import ParameterError, PeelError
from ..core.files import sha256_text

KERNEL_STARTS = ("auto", "fork", "fresh")
TEMPLATE_CODE = "from peel_helpers.batch.template import main; main()"
# Environment that decides what a template reads; part of its key.
KEY_ENV = ("PEEL_DATA_DIR", "PEEL_DATA_RETURN", "MPLBACKEND")


class ForkServerError(PeelError):
    """The template could not start or fork; the caller starts a plain kernel instead."""


def fork_supported() -> bool:
    """True where kernels can be forked safely: Linux (``fork`` and ``pidfd_open``)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and hasattr(os, "pidfd_open")


def choose_kernel_start(value: str | None) -> str:
    """``auto``, ``fork`` or ``fresh`` (any case) -> ``fork`` or ``fresh``; one-line error otherwise."""
    text = (value or "auto").strip().lower()
    if text not in KERNEL_STARTS:
        raise ParameterError(f"--kernel-start {value!r} is not a kernel start: use fork, fresh or auto.")
    if text == "auto":
        return "fork" if fork_supported() else "fresh"
    if text == "fork" and not fork_supported():
        raise ParameterError("--kernel-start fork needs Linux (os.fork and os.pidfd_open): "
                             "use --kernel-start fresh here.")
    return text


def template_key(context: str) -> str:
    """Key of the template a job may use: its inputs and code (``context``) and the data environment."""
    return sha256_text(context, *(f"{name}={os.environ.get(name, '')}" for name in KEY_ENV))[:16]


def split_kernel_command(cmd: list[str]) -> tuple[list[str], list[str]] | None:
    """``[python, flags..., -m, ipykernel_launcher, args...]`` -> (interpreter and flags, args).

    None for a kernelspec that does not start ipykernel this way (then the kernel starts plainly).
    """
    for i in range(1, len(cmd) - 1):
        if cmd[i] == "-m" and cmd[i + 1] == "ipykernel_launcher":
            return list(cmd[:i]), list(cmd[i + 2:])
    return None


class ForkedProcess:
    """A ``Popen``-like handle on a kernel forked by a template (poll, wait, signals, returncode)."""

    def __init__(self, server: "ForkServer", pid: int):
        self.pid = pid
        self.returncode: int | None = None
        self.stdin = self.stdout = self.stderr = None
        self._server = server
        self._pidfd = os.pidfd_open(pid)

    def _collect(self) -> None:
        """The kernel has exited: get its exit code from the template (which reaps it)."""
        try:
            self.returncode = self._server.reap(self.pid)
        except ForkServerError:
            self.returncode = -signal.SIGKILL  # the template is gone, and its kernels with it
        os.close(self._pidfd)
        self._pidfd = -1

    def poll(self) -> int | None:
        """Exit code, or None while the kernel runs (its pidfd becomes readable when it exits)."""
        if self.returncode is None and select.select([self._pidfd], [], [], 0)[0]:
            self._collect()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the kernel to exit, as ``Popen.wait`` does (``TimeoutExpired`` after ``timeout``)."""
        if self.returncode is None:
            if not select.select([self._pidfd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            self._collect()
        return self.returncode

    async def exited(self) -> None:
        """Return when the kernel has exited (its pidfd is readable), without polling."""
        if self.returncode is not None or self._pidfd < 0:
            return
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        loop.add_reader(self._pidfd, lambda: done.done() or done.set_result(None))
        try:
            await done
        finally:
            loop.remove_reader(self._pidfd)

    def send_signal(self, signum: int) -> None:
        """Signal the kernel's process group (it leads its own session), as Jupyter does."""
        if self.poll() is None:
            try:
                os.killpg(self.pid, signum)
            except OSError:
                signal.pidfd_send_signal(self._pidfd, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def __del__(self):  # pragma: no cover - best effort if a caller drops the handle
        if getattr(self, "_pidfd", -1) >= 0:
            os.close(self._pidfd)


class ChildTemplate:
    """A ``Popen``-like handle on a template forked from this process (pid, pipes, poll, wait, kill)."""

    def __init__(self, pid: int, stdin, stdout):
        self.pid, self.stdin, self.stdout = pid, stdin, stdout
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = self.pid, 0
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.poll() is None:
            pidfd = os.pidfd_open(self.pid)
            try:
                if not select.select([pidfd], [], [], timeout)[0]:
                    raise subprocess.TimeoutExpired(f"template {self.pid}", timeout)
            finally:
                os.close(pidfd)
        while self.poll() is None:  # readable pidfd: exited, reaped at once
            pass
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)


def can_fork_template() -> bool:
    """True in a process that has warmed the notebook stack (:func:`peel_helpers.batch.template.warm`)
    and may fork now (Linux, one thread, no zmq context, no socket), with the interpreter the
    kernelspec names: its forks are then kernels' templates as good as a freshly started one."""
    from . import template

    return fork_supported() and bool(template.WARMED) and not template.fork_safety_problems(set())


def _forked_template() -> ChildTemplate:
    """Fork this (warmed) process into a template serving on two new pipes."""
    from . import template

    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.close(to_child_w)
        os.close(from_child_r)
        template.start_forked(to_child_r, from_child_w, parent)  # never returns
    os.close(to_child_r)
    os.close(from_child_w)
    return ChildTemplate(pid, os.fdopen(to_child_w, "w", encoding="utf-8"),
                         os.fdopen(from_child_r, "r", encoding="utf-8"))


class ForkServer:
    """One template process: forked from this process (``forked``), or started with the kernel's
    interpreter and flags (``python_cmd``)."""

    def __init__(self, python_cmd: list[str], key: str, forked: bool = False):
        from . import lifetime
        from .template import TEMPLATE_ENV

        self.key = key
        self.python_cmd = list(python_cmd)
        self.note = ""
        self._lock = threading.Lock()
        self._ready: dict | None = None
        if forked:
            self.proc = _forked_template()
            return
        env = {**os.environ, **TEMPLATE_ENV}
        if lifetime.in_main_thread():  # else the starting thread may end before the worker does
            env["PEEL_TEMPLATE_PARENT"] = str(os.getpid())
        try:  # its own session: a Ctrl-C at the terminal reaches the runner, which decides
            self.proc = subprocess.Popen([*self.python_cmd, "-c", TEMPLATE_CODE], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, env=env, text=True, start_new_session=True)
        except OSError as err:
            raise ForkServerError(f"cannot start the kernel template with {self.python_cmd[0]}: {err}") from None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _wait_ready(self) -> None:
        """Read the template's first line: ready (and fork-safe), or why not."""
        if self._ready is not None:
            return
        line = self.proc.stdout.readline()
        if not line:
            raise ForkServerError(f"the kernel template exited (status {self.proc.wait()}) before it was ready")
        self._ready = json.loads(line)
        self.note = self._ready.get("note", "")
        if not self._ready.get("ready"):
            raise ForkServerError("the kernel template is not safe to fork: " + "; ".join(self._ready["problems"]))

    def _ask(self, request: dict) -> dict:
        """Send one request and read its reply; call with the lock held."""
        self._wait_ready()
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (OSError, ValueError) as err:
            raise ForkServerError(f"the kernel template is gone: {err}") from None
        if not line:
            raise ForkServerError(f"the kernel template exited (status {self.proc.wait()})")
        reply = json.loads(line)
        if "error" in reply:
            raise ForkServerError(reply["error"])
        return reply

    def fork(self, argv: list[str], env: dict, cwd: str | None) -> ForkedProcess:
        """A kernel running ``IPKernelApp`` with ``argv`` in ``cwd`` with exactly ``env``."""
        with self._lock:
            reply = self._ask({"op": "fork", "argv": list(argv), "env": dict(env), "cwd": cwd})
            return ForkedProcess(self, reply["pid"])  # pidfd opened before the template can reap it

    def reap(self, pid: int) -> int:
        """Exit code of kernel ``pid``, which has exited; the template waits for it (no zombie)."""
        with self._lock:
            return int(self._ask({"op": "reap", "pid": pid})["status"])

    def close(self, timeout: float = 5.0) -> None:
        """Stop the template: end-of-file on its input makes it kill its kernels and exit."""
        with self._lock:
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------- one template per worker

_SERVERS: dict[tuple, ForkServer] = {}
_SERVERS_LOCK = threading.Lock()


def server(python_cmd: list[str], key: str, forked: bool = False) -> ForkServer:
    """This process's template for ``key`` (started on first use; ``forked``: forked from this process);
    templates for other keys are closed."""
    wanted = (tuple(python_cmd), key)
    with _SERVERS_LOCK:
        current = _SERVERS.get(wanted)
        if current is not None and current.alive():
            return current
        for other in list(_SERVERS):
            _SERVERS.pop(other).close()
        _SERVERS[wanted] = ForkServer(python_cmd, key, forked=forked)
        return _SERVERS[wanted]


def same_interpreter(python_cmd: list[str]) -> bool:
    """Is the kernelspec's interpreter this process's own (so a fork of this process may be its template)?"""
    import shutil

    found = shutil.which(python_cmd[0]) if python_cmd else None
    return bool(found) and os.path.realpath(found) == os.path.realpath(sys.executable)


def prestart(kernel_name: str, key: str) -> str:
    """Start this worker's template now, so its start overlaps with other work. Returns how it started."""
    from jupyter_client.kernelspec import KernelSpecManager

    argv = list(KernelSpecManager().get_kernel_spec(kernel_name).argv)
    if argv and argv[0] in {"python", f"python{sys.version_info[0]}", "python%i.%i" % sys.version_info[:2]}:
        argv[0] = sys.executable  # as jupyter_client does when it formats the command
    split = split_kernel_command(argv)
    if split is None:
        return "not used (the kernelspec does not run ipykernel_launcher)"
    forked = can_fork_template() and same_interpreter(split[0])
    server(split[0], key, forked=forked)
    return "forked from the preloaded worker" if forked else f"started with {split[0][0]}"


def close_all() -> None:
    """Close every template of this process (and so every kernel forked from them)."""
    with _SERVERS_LOCK:
        for wanted in list(_SERVERS):
            _SERVERS.pop(wanted).close()


atexit.register(close_all)
