"""The pinned environment: requirements.lock covers pyproject.toml, the tests run on its pins, and the
private jupyter_client (and ipykernel, stdlib) hooks that the forked-kernel manager replaces still exist.

pyproject.toml keeps ranges; requirements.lock (``make lock``) pins one version of every package with
its sha256 hashes, and ``make setup`` installs exactly that. The fork manager
(``peel_helpers/batch/provisioner.py``, ``template.py``) overrides private methods of jupyter_client:
a release that renamed one would not break a batch, only make it silently slower (or, for the
template's hooks, leak state), so these tests name the hook that went missing.
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
FIX = ("pin jupyter_client below the release that changed it in pyproject.toml and run `make lock`, "
       "or adapt peel_helpers/batch/provisioner.py to the new jupyter_client")


def lock_entries() -> list[tuple[Requirement, list[str]]]:
    """(requirement ``name==version ; marker``, its hashes) for each entry of requirements.lock."""
    text = re.sub(r"\\\n", " ", LOCK.read_text())
    entries = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", line)
        entries.append((Requirement(re.sub(r"\s*--hash=\S+", "", line)), hashes))
    return entries


def locked_here() -> dict[str, str]:
    """Package -> pinned version, for the entries whose markers hold on this interpreter and platform."""
    pins = {}
    for req, _ in lock_entries():
        if req.marker is None or req.marker.evaluate():
            pins[canonicalize_name(req.name)] = next(iter(req.specifier)).version
    return pins


def declared() -> list[Requirement]:
    """Every requirement pyproject.toml declares: dependencies, the dev and cluster extras, the build."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = project["project"]["optional-dependencies"]
    names = [*project["project"]["dependencies"], *extras["dev"], *extras["cluster"],
             *project["build-system"]["requires"]]
    return [Requirement(name) for name in names]


def test_lock_pins_every_entry_exactly_with_hashes():
    entries = lock_entries()
    assert len(entries) > 50, "requirements.lock looks empty: run `make lock`"
    for req, hashes in entries:
        assert len(req.specifier) == 1 and next(iter(req.specifier)).operator == "==", \
            f"requirements.lock: {req} is not pinned to one version"
        assert hashes, f"requirements.lock: {req.name} has no sha256 hash"


def test_lock_covers_every_declared_range():
    pins = locked_here()
    for req in declared():
        if req.marker is not None and not req.marker.evaluate():
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not in requirements.lock: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {req.name}=={pins[name]}, outside pyproject.toml's {req}: run `make lock`")


def test_installed_versions_are_the_locked_ones():
    wrong = []
    for name, version in sorted(locked_here().items()):
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = "missing"
        if have != version:
            wrong.append(f"{name} {have} (locked {version})")
    assert not wrong, "this environment is not the locked one, run `make setup`: " + ", ".join(wrong)


# --------------------------------------------------------------------------- private hooks the fork manager uses

def names_used(function) -> set[str]:
    """Attribute and global names a function's code refers to (so: the methods it calls)."""
    return set(inspect.unwrap(function).__code__.co_names)


def test_kernel_manager_still_waits_through_async_wait():
    """ForkKernelManager._async_wait replaces the 0.1 s exit poll by a wait on the kernel's pidfd."""
    from jupyter_client.manager import AsyncKernelManager

    base = getattr(AsyncKernelManager, "_async_wait", None)
    assert base is not None and inspect.iscoroutinefunction(base), (
        "jupyter_client's KernelManager._async_wait is gone: the fork manager's wait on the kernel's "
        "pidfd is never called and every kernel shutdown polls again; " + FIX)
    assert "pollinterval" in inspect.signature(base).parameters, (
        "KernelManager._async_wait no longer takes pollinterval: " + FIX)
    for caller in ("_async_finish_shutdown", "_async_kill_kernel"):
        assert "_async_wait" in names_used(getattr(AsyncKernelManager, caller)), (
            f"jupyter_client's KernelManager.{caller} no longer calls _async_wait, so the fork "
            "manager's override is skipped at shutdown; " + FIX)


def test_kernel_manager_still_prepares_through_pre_start_kernel():
    """ForkKernelManager._async_pre_start_kernel installs the fork provisioner before the usual start."""
    from jupyter_client.manager import AsyncKernelManager

    hook = getattr(AsyncKernelManager, "_async_pre_start_kernel", None)
    assert hook is not None and inspect.iscoroutinefunction(hook), (
        "jupyter_client's KernelManager._async_pre_start_kernel is gone: kernels are no longer forked; " + FIX)
    assert "_async_pre_start_kernel" in names_used(AsyncKernelManager._async_start_kernel), (
        "KernelManager._async_start_kernel no longer calls _async_pre_start_kernel: kernels are no longer "
        "forked; " + FIX)
    assert "provisioner" in names_used(hook), (
        "KernelManager._async_pre_start_kernel no longer reads self.provisioner, which the fork manager "
        "sets beforehand; " + FIX)


def test_local_provisioner_still_drives_its_process_handle():
    """ForkProvisioner sets LocalProvisioner.process (a ForkedProcess), pid and pgid; poll, wait and
    signals must still go through them."""
    from jupyter_client.provisioning import LocalProvisioner

    for method in ("poll", "wait", "send_signal", "kill", "terminate"):
        assert "process" in names_used(getattr(LocalProvisioner, method)), (
            f"jupyter_client's LocalProvisioner.{method} no longer uses self.process, the handle the "
            "fork provisioner sets; " + FIX)
    assert "pgid" in names_used(LocalProvisioner.send_signal), (
        "LocalProvisioner.send_signal no longer signals self.pgid; " + FIX)


def test_ready_client_hooks_are_still_used():
    """ReadyClient makes its zmq context with a 10 ms reconnect (jupyter_client's ``_context_default``
    and ``_created_context``) and records the kernel's info (``_handle_kernel_info_reply``)."""
    import zmq
    from jupyter_client.asynchronous import AsyncKernelClient

    from peel_helpers.batch.provisioner import RECONNECT_MS, ReadyClient

    assert callable(getattr(AsyncKernelClient, "_handle_kernel_info_reply", None)), (
        "jupyter_client's KernelClient._handle_kernel_info_reply is gone: the ready client cannot record "
        "the kernel's info; " + FIX)
    assert "context" in AsyncKernelClient.class_trait_names() and \
        "_created_context" in AsyncKernelClient.class_trait_names(), (
        "jupyter_client's KernelClient no longer has the context and _created_context traits; " + FIX)
    client = ReadyClient()
    try:
        assert client.context.getsockopt(zmq.RECONNECT_IVL) == RECONNECT_MS, (
            "ReadyClient._context_default is no longer jupyter_client's default for the client's context "
            "(the 10 ms reconnect is lost); " + FIX)
        assert client._created_context, "the ready client's context would never be closed; " + FIX
    finally:
        client.context.term()


def test_fork_manager_overrides_what_it_means_to():
    """The fork manager's methods still override methods of the same name and signature."""
    from jupyter_client.manager import AsyncKernelManager

    from peel_helpers.batch.provisioner import ForkKernelManager

    for name in ("_async_wait", "_async_pre_start_kernel"):
        ours = inspect.signature(getattr(ForkKernelManager, name)).parameters
        theirs = inspect.signature(getattr(AsyncKernelManager, name)).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in ours.values())
        missing = [p for p in theirs if p != "self" and p not in ours and not takes_any
                   and theirs[p].kind is not inspect.Parameter.VAR_KEYWORD]
        assert not missing, (f"jupyter_client's KernelManager.{name} takes {missing}, which the fork "
                             f"manager's {name} does not accept; " + FIX)
    assert asyncio.iscoroutinefunction(ForkKernelManager._async_wait)


def test_template_hooks_exist():
    """The template forks kernels: each child clears the template's exit handlers and runs its own
    (``atexit._clear``, ``atexit._run_exitfuncs``), and tells IPKernelApp its parent (``parent_handle``)."""
    from ipykernel.kernelapp import IPKernelApp

    for name in ("_clear", "_run_exitfuncs"):
        assert callable(getattr(atexit, name, None)), (
            f"atexit.{name} is gone in this Python: a forked kernel would run its template's exit handlers; "
            "adapt peel_helpers/batch/template.py")
    assert "parent_handle" in IPKernelApp.class_trait_names(), (
        "ipykernel's IPKernelApp has no parent_handle: a forked kernel would not exit with its template; "
        "pin ipykernel in pyproject.toml and run `make lock`, or adapt peel_helpers/batch/template.py")


@pytest.mark.parametrize("hook", ["_async_wait", "_async_pre_start_kernel"])
def test_a_missing_hook_is_reported(monkeypatch, hook):
    """The check above fails, with its message, when jupyter_client lacks the hook."""
    from jupyter_client.manager import KernelManager

    monkeypatch.delattr(KernelManager, hook)
    check = (test_kernel_manager_still_waits_through_async_wait if hook == "_async_wait"
             else test_kernel_manager_still_prepares_through_pre_start_kernel)
    with pytest.raises(AssertionError, match=hook):
        check()


def test_conda_environment_installs_the_lock():
    """environment.yml provides Python and pip only; the packages come from the lock, not a second list."""
    text = (ROOT / "environment.yml").read_text()
    pip_lines = [line.strip()[2:] for line in text.split("- pip:", 1)[1].splitlines() if line.strip()]
    assert pip_lines == ["--require-hashes", "-r requirements.lock"], pip_lines
