"""Everything a build checks before it writes anything or starts any worker: forces, sections,
periods (a period the data do not cover included), the notebooks folder, ``--out``, ``--jobs`` and
the kernel. Each wrong value stops the build with one line that says what is wrong and how to fix
it (:class:`peel_helpers.core.errors.PeelError`; the command exits 2)."""

from __future__ import annotations

import json
from pathlib import Path

from ..core.errors import ParameterError
from ..core.paths import NOTEBOOKS_DIR
from ..core.sections import PATTERN, sections as declared_sections
from .jobs import KERNEL_NAME


def sections(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[str]:
    """The section notebooks a build runs: the declared ones that exist (``NN_*.ipynb`` in the folder's
    ``sections.toml``, or every ``NN_*.ipynb`` when the folder declares none), in the report's order."""
    folder = Path(notebooks_dir)
    present = {p.stem for p in folder.glob(PATTERN)}
    return [s.notebook for s in declared_sections(folder) if s.notebook in present]


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


def check_notebooks(folder: Path, given: Path) -> list[str]:
    """The report notebooks of ``--notebooks``: each must be a notebook (JSON with cells) with a
    ``parameters`` cell, or the build stops with one line naming it."""
    found = sections(folder)
    if not found:
        raise ParameterError(f"--notebooks {given}: no NN_*.ipynb report notebooks there (or none its "
                             "sections.toml declares).")
    for stem in found:
        path = folder / f"{stem}.ipynb"
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
            cells = nb["cells"]
            tagged = any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells)
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
            raise ParameterError(f"--notebooks {given}: {path.name} is not a Jupyter notebook (not notebook "
                                 "JSON); fix or remove it.") from None
        if not tagged:
            raise ParameterError(f"--notebooks {given}: {path.name} has no cell tagged 'parameters'; tag the cell "
                                 "that sets force and period_end.")
    return found


def scope(args):
    """Forces, periods and sections a build asks for; one-line errors for any that do not exist."""
    from ..core.forces import FORCES, resolve
    from ..core.periods import DEFAULT_PERIODS

    wanted = list(args.force) + [f for f in args.forces.split(",") if f.strip()]
    forces = list(dict.fromkeys(resolve(f.strip()) for f in wanted)) if wanted else list(FORCES)
    wanted_periods = list(args.period) + [p for p in args.periods.split(",") if p.strip()]
    periods = [period(p) for p in wanted_periods] if wanted_periods else list(DEFAULT_PERIODS)
    periods = list(dict.fromkeys(periods))
    notebooks = Path(args.notebooks).resolve()
    available = check_notebooks(notebooks, args.notebooks)
    return forces, periods, notebooks, available, pick_sections(args.section, available)


def check_out(out) -> Path:
    """``--out`` as an absolute folder that can be written, or a one-line error. Nothing is created yet
    (a build stopped by a later check leaves no folder behind)."""
    if out is None or not str(out).strip():
        raise ParameterError("--out is empty: name a folder for the reports (default outputs/).")
    from ..core.files import check_writable

    return check_writable(Path(out).expanduser().resolve(), "--out", folder=True, what="the reports")


def make_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ParameterError(f"--out {out}: cannot create it ({err.strerror}): name a folder you can write to.") from None


def period(text: str):
    from ..core.errors import PeriodError
    from ..core.periods import Period

    try:
        return Period.parse(text.strip())
    except PeriodError as err:
        raise PeriodError(f"--period {text.strip()!r}: {err}") from None


def check_periods(periods) -> None:
    """Every period must be one the data cover: checked here once (from the sources' coverage, without
    computing results), not in every notebook that would then fail."""
    from ..core.errors import PeriodError
    from ..measures import check_periods as covered

    for p in periods:
        try:
            covered([p])
        except PeriodError as err:
            raise PeriodError(f"--period {p.iso}: {err}") from None


def kernel_available(name: str | None = None) -> bool:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(name or KERNEL_NAME)
    except NoSuchKernel:
        return False
    return True


def check_options(args) -> None:
    """``--jobs``, ``--scheduler-wait`` and the kernelspec (the data-return file is checked with the data)."""
    if args.jobs is not None and args.jobs < 1:
        raise ParameterError(f"--jobs must be at least 1, not {args.jobs}.")
    if not args.scheduler_wait > 0:
        raise ParameterError(f"--scheduler-wait must be a number of seconds above 0, not {args.scheduler_wait:g}.")
    if not kernel_available():
        raise ParameterError(f"Jupyter kernel {KERNEL_NAME!r} is not installed: run make setup "
                             f"(or python -m ipykernel install --sys-prefix --name {KERNEL_NAME}).")
