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
* :func:`prestart` connects a worker to its template: one the runner's :class:`TemplateHost` forks
  for it (the host has imported the notebook stack and read the data once, for every worker), or one
  started with the kernelspec's interpreter.

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
from dataclasses import dataclass

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


class RemoteTemplate:
    """A ``Popen``-like handle on a template this process did not start (a template host forked it for
    this worker): the two pipes of its channel, and its pid once it has said it is ready (watched
    through a pidfd; the host reaps it)."""

    def __init__(self, read_fd: int, write_fd: int):
        self.stdin = os.fdopen(write_fd, "w", encoding="utf-8")
        self.stdout = os.fdopen(read_fd, "r", encoding="utf-8")
        self.pid: int | None = None
        self.returncode: int | None = None
        self._pidfd = -1

    def started(self, pid: int) -> None:
        """The template's ready line named its pid."""
        self.pid = pid
        try:
            self._pidfd = os.pidfd_open(pid)
        except OSError:  # already gone
            self.returncode = -signal.SIGKILL

    def poll(self) -> int | None:
        if self.returncode is None and self._pidfd >= 0 and select.select([self._pidfd], [], [], 0)[0]:
            os.close(self._pidfd)
            self._pidfd, self.returncode = -1, 0  # exited (its host has the status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.poll() is None and self._pidfd >= 0:
            if not select.select([self._pidfd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(f"template {self.pid}", timeout)
            self.poll()
        return self.returncode if self.returncode is not None else 0

    def kill(self) -> None:
        if self.poll() is None and self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass


@dataclass
class Channel:
    """The two pipes between one worker and the template that will serve it, made before either
    process exists (so each inherits its ends by fork)."""

    worker_read: int
    worker_write: int
    template_read: int
    template_write: int

    @classmethod
    def new(cls) -> "Channel":
        to_template_r, to_template_w = os.pipe()
        to_worker_r, to_worker_w = os.pipe()
        return cls(to_worker_r, to_template_w, to_template_r, to_worker_w)

    @property
    def worker_fds(self) -> tuple[int, int]:
        return self.worker_read, self.worker_write

    @property
    def template_fds(self) -> tuple[int, int]:
        return self.template_read, self.template_write


class TemplateHost:
    """A process forked from the runner, before the runner imports what its workers need, that imports
    and reads what kernels need (the rest of :func:`peel_helpers.batch.template.warm`) meanwhile, then
    forks one template per worker channel, when the runner asks (``serve``). So the two halves of the
    start-up run side by side, and no process does either twice. Kernels are forked from those
    templates; the host dies with the runner and its templates with it."""

    def __init__(self, channels: list[Channel], quarters: bool, log_path: str):
        from . import template

        control_r, control_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            os.close(control_w)
            for channel in channels:
                os.close(channel.worker_read)
                os.close(channel.worker_write)
            template.host(control_r, {i: c.template_fds for i, c in enumerate(channels)}, parent, quarters,
                          log_path)  # never returns
        os.close(control_r)
        for channel in channels:
            os.close(channel.template_read)
            os.close(channel.template_write)
        self.pid, self._control = pid, control_w
        self.channels = list(channels)
        self._free = list(range(len(channels)))

    def take(self) -> tuple[int, Channel] | None:
        """A channel no worker has used yet (None when all are taken)."""
        return (self._free[0], self.channels[self._free.pop(0)]) if self._free else None

    def free_worker_fds(self) -> list[int]:
        """The worker ends of the channels not yet taken (a new worker closes them)."""
        return [fd for i in self._free for fd in self.channels[i].worker_fds]

    def serve(self, index: int) -> None:
        """Ask the host for the template of channel ``index`` (a worker now holds its other end); the
        runner's copies of the worker's ends are closed."""
        for fd in self.channels[index].worker_fds:
            os.close(fd)
        try:
            os.write(self._control, f"{index}\n".encode())
        except OSError:
            pass  # the host is gone: the worker reads end-of-file and starts a template of its own

    def stop(self) -> None:
        """The host is not needed (a check failed, or nothing is out of date): end it now."""
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass
        self.close()

    def close(self, timeout: float = 30.0) -> None:
        """No more templates: the host waits for those it forked (they end with their workers) and exits."""
        for i in self._free:
            for fd in self.channels[i].worker_fds:
                os.close(fd)
        self._free = []
        os.close(self._control)
        pidfd = os.pidfd_open(self.pid)
        try:
            if not select.select([pidfd], [], [], timeout)[0]:
                os.kill(self.pid, signal.SIGKILL)
        finally:
            os.close(pidfd)
        os.waitpid(self.pid, 0)


class ForkServer:
    """One template process: the template host's, on a ``channel`` made for this worker, or one started
    with the kernel's interpreter and flags (``python_cmd``)."""

    def __init__(self, python_cmd: list[str], key: str, channel: tuple | None = None):
        from . import lifetime
        from .template import TEMPLATE_ENV

        self.key = key
        self.python_cmd = list(python_cmd)
        self.note = ""
        self._lock = threading.Lock()
        self._ready: dict | None = None
        if channel is not None:  # served by the runner's template host, over a channel made before this worker
            self.proc = RemoteTemplate(*channel)
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
        if isinstance(self.proc, RemoteTemplate):
            self.proc.started(self._ready["pid"])
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


def server(python_cmd: list[str], key: str, channel: tuple | None = None) -> ForkServer:
    """This process's template for ``key`` (started on first use; ``channel``: the template host's, on
    these two pipes); templates for other keys are closed."""
    wanted = (tuple(python_cmd), key)
    with _SERVERS_LOCK:
        current = _SERVERS.get(wanted)
        if current is not None and current.alive():
            return current
        for other in list(_SERVERS):
            _SERVERS.pop(other).close()
        _SERVERS[wanted] = ForkServer(python_cmd, key, channel=channel)
        return _SERVERS[wanted]


def same_interpreter(python_cmd: list[str]) -> bool:
    """Is the kernelspec's interpreter this process's own (so a fork of this process may be its template)?"""
    import shutil

    found = shutil.which(python_cmd[0]) if python_cmd else None
    return bool(found) and os.path.realpath(found) == os.path.realpath(sys.executable)


def kernel_python(kernel_name: str) -> list[str] | None:
    """The kernelspec's interpreter and flags, if it starts ``ipykernel_launcher`` (else None)."""
    from jupyter_client.kernelspec import KernelSpecManager

    argv = list(KernelSpecManager().get_kernel_spec(kernel_name).argv)
    if argv and argv[0] in {"python", f"python{sys.version_info[0]}", "python%i.%i" % sys.version_info[:2]}:
        argv[0] = sys.executable  # as jupyter_client does when it formats the command
    split = split_kernel_command(argv)
    return split[0] if split is not None else None


def prestart(kernel_name: str, key: str, channel: tuple | None = None) -> str:
    """Start (or connect) this worker's template now, so its start overlaps with other work: on
    ``channel``, the runner's template host serves it; else it is started with the kernelspec's
    interpreter. Returns how."""
    python_cmd = kernel_python(kernel_name)
    if python_cmd is None:
        return "not used (the kernelspec does not run ipykernel_launcher)"
    server(python_cmd, key, channel=channel)
    return "served by the runner's template host" if channel is not None else f"started with {python_cmd[0]}"


def close_all() -> None:
    """Close every template of this process (and so every kernel forked from them)."""
    with _SERVERS_LOCK:
        for wanted in list(_SERVERS):
            _SERVERS.pop(wanted).close()


atexit.register(close_all)
