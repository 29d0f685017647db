"""A Jupyter kernel manager whose kernels are forked from the worker's template.

papermill passes ``kernel_manager_class`` down to nbclient's ``NotebookClient``, so the runner
executes a notebook exactly as before with ``kernel_manager_class=manager_class(key)``. The
manager writes the connection file and builds the kernel command and environment as usual; only
the launch differs: :class:`ForkProvisioner` asks the template (:mod:`peel_helpers.batch.kernels`)
to fork a kernel on that connection file instead of starting a new interpreter. Everything after
the launch (``wait_for_ready``, execution, shutdown, kill on timeout) is jupyter_client's own code,
working on a ``Popen``-like handle.

If the template cannot fork (it failed to start, or the kernelspec does not run
``ipykernel_launcher``), the kernel starts plainly, so a batch never fails because of the fast path.
"""

from __future__ import annotations

import os
import sys
import uuid
from functools import lru_cache
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner

from . import kernels


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


class ForkKernelManager(AsyncKernelManager):
    """``AsyncKernelManager`` that always uses :class:`ForkProvisioner`."""

    template_key = ""

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
