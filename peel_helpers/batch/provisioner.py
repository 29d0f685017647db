"""A Jupyter kernel manager whose kernels are forked from the worker's template.

papermill passes ``kernel_manager_class`` down to nbclient's ``NotebookClient``, so the runner
executes a notebook exactly as before with ``kernel_manager_class=manager_class(key)``. The
manager writes the connection file and builds the kernel command and environment as usual; only
the launch differs: :class:`ForkProvisioner` asks the template (:mod:`peel_helpers.batch.kernels`)
to fork a kernel on that connection file instead of starting a new interpreter. Execution,
shutdown and kill on timeout are jupyter_client's own code, working on a ``Popen``-like handle.

Two of jupyter_client's waits are fixed delays, small beside a fresh kernel's start but most of a
forked kernel's (it is ready in about 0.1 s): ``wait_for_ready`` ends by draining IOPub until
nothing arrives for 0.2 s, and shutdown checks every 0.1 s whether the kernel has exited.
:class:`ReadyClient` waits for the kernel's own "idle" after its ``kernel_info`` reply instead,
and :class:`ForkKernelManager` waits on the kernel's pidfd, which wakes as soon as it exits.

If the template cannot fork (it failed to start, or the kernelspec does not run
``ipykernel_launcher``), the kernel starts plainly, so a batch never fails because of the fast path.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from functools import lru_cache
from queue import Empty
from typing import Any

import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from traitlets import DottedObjectName, Type

from . import kernels

RECONNECT_MS = 10
IDLE_WAIT_S = 0.05


class ForkProvisioner(LocalProvisioner):
    """Launch the kernel as a fork of this worker's template; fall back to a plain start."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        """Fork the kernel with the command's arguments, environment and folder; the manager has
        already written the connection file those arguments name."""
        split = kernels.split_kernel_command(cmd)
        key = getattr(self.parent, "template_key", "")
        if split is None or not key:
            return await super().launch_kernel(cmd, **kwargs)
        python_cmd, args = split
        cwd = str(kwargs.get("cwd") or os.getcwd())
        env = dict(kwargs.get("env") or os.environ)
        try:
            self.process = kernels.server(python_cmd, key).fork(args, env, cwd)
        except kernels.ForkServerError as err:
            print(f"kernel template unavailable, starting a plain kernel: {err}", file=sys.stderr, flush=True)
            return await super().launch_kernel(cmd, **kwargs)
        self.pid = self.pgid = self.process.pid  # the kernel leads its own session and process group
        self.cwd = cwd
        return self.connection_info


class ReadyClient(AsyncKernelClient):
    """``AsyncKernelClient`` whose ``wait_for_ready`` returns once the kernel has answered
    ``kernel_info`` and IOPub has carried that request's "idle" (so IOPub is connected and holds
    nothing older), with no fixed wait. The errors are jupyter_client's, word for word.

    Its sockets retry a refused connection every 10 ms, not zmq's 100 ms: the client connects
    while the forked kernel is still binding its ports."""

    def _context_default(self) -> zmq.asyncio.Context:
        self._created_context = True
        context = zmq.asyncio.Context()
        context.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)  # default for every socket made from it
        return context

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply" and \
                    await self._idle_after(reply["parent_header"].get("msg_id"), IDLE_WAIT_S):
                self._handle_kernel_info_reply(reply)
                return
            if not await self.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError("Kernel didn't respond in %d seconds" % timeout)

    async def _idle_after(self, msg_id: str | None, within: float) -> bool:
        """Read IOPub until the kernel's "idle" for request ``msg_id``; False if none comes in time
        (IOPub was not yet connected when the kernel published it: the caller asks again, which
        costs a millisecond, so the wait is short)."""
        end = time.monotonic() + within
        while (left := end - time.monotonic()) > 0:
            try:
                msg = await self.iopub_channel.get_msg(timeout=left)
            except Empty:
                return False
            if msg["msg_type"] == "status" and msg["parent_header"].get("msg_id") == msg_id \
                    and msg["content"].get("execution_state") == "idle":
                return True
        return False


class ForkKernelManager(AsyncKernelManager):
    """``AsyncKernelManager`` that always uses :class:`ForkProvisioner` and :class:`ReadyClient`."""

    template_key = ""
    client_class = DottedObjectName("peel_helpers.batch.provisioner.ReadyClient")
    client_factory = Type(klass=ReadyClient)

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        """Until the kernel has exited: on its pidfd for a forked kernel, else by polling."""
        process = getattr(self.provisioner, "process", None)
        if not isinstance(process, kernels.ForkedProcess):
            return await super()._async_wait(pollinterval)
        while process.poll() is None:
            await process.exited()

    async def _async_pre_start_kernel(self, **kw: Any):
        """Install :class:`ForkProvisioner` (instead of the kernelspec's) before the usual preparation."""
        if self.provisioner is None:
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
            self.provisioner = ForkProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)


@lru_cache(maxsize=8)
def manager_class(key: str) -> type[ForkKernelManager]:
    """The manager class for template ``key`` (a class, because nbclient instantiates it itself)."""
    return type("ForkKernelManager", (ForkKernelManager,), {"template_key": key})
