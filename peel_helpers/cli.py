"""``peel-reports`` (also ``python -m peel_helpers``): build the reports, and the commands around it.

A build reads as its five steps::

    check    every option, force, section, period, the notebooks, --out, the kernel (one line each)
    data     fetch, verify and cache the data once; take --out's lock; list what is out of date
    batch    run the out-of-date notebooks, each in its own kernel   (peel_helpers.batch)
    publish  section pages, combined reports, PDFs, national pages   (peel_helpers.publish)
    index    <out>/index.html, listing only what the records vouch for

Before the batch, every page made from a notebook it will replace is withdrawn, and the index is
rewritten, so a build stopped at any point (Ctrl-C, SIGTERM, a full disk) leaves no page made from
other data. Exit status: 0 done; 1 a notebook or report failed or did not run; 2 a wrong option or
input (nothing written); 3 could not write (a full disk, a folder that became read-only); 130 or
143 after SIGINT or SIGTERM.

Sub-commands::

    peel-reports [build] [--force NAME ...] [--section S ...] [--period YYYY-MM-DD ...]
                 [--out DIR] [--jobs N] [--pdf] [--rerun] [--continue-on-error | --fail-fast]
                 [--notebooks DIR] [--kernel-start auto|fork|fresh]
                 [--scheduler tcp://HOST:PORT [--scheduler-wait SECONDS]]
    peel-reports data      build (or check) the tidy data cache
    peel-reports ledger    published-vs-reproduced ledger (see peel_helpers.reports.ledger)
    peel-reports validate  agreement with ONS's own tables (see peel_helpers.measures.compare)
    peel-reports index     rebuild DIR/index.html from what has run
    peel-reports clean     delete what a build wrote into DIR (by its records), nothing else
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from .core.errors import EXIT_CANNOT_WRITE, PeelError
from .core.paths import NOTEBOOKS_DIR, OUTPUTS_DIR

SUBCOMMANDS = ("build", "data", "ledger", "validate", "index", "clean")
EXIT_FAILED, EXIT_INPUT = 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="peel-reports", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    build_ = sub.add_parser("build", help="run the notebooks and publish the reports (the default)")
    build_.add_argument("--force", action="append", default=[], metavar="NAME",
                        help="a force (any spelling); repeat for several; default all 43")
    build_.add_argument("--forces", default="", metavar="A,B",
                        help="comma-separated forces (what make reports FORCES= passes)")
    build_.add_argument("--periods", default="", metavar="P1,P2", help="comma-separated period ends")
    build_.add_argument("--section", action="append", default=[], metavar="S",
                        help="a section: 01, force_in_numbers or 01_force_in_numbers; repeatable; default all")
    build_.add_argument("--period", action="append", default=[], metavar="YYYY-MM-DD",
                        help="a period end; repeatable; default 2017-06-30 and 2018-03-31")
    build_.add_argument("--out", type=str, default=str(OUTPUTS_DIR), metavar="DIR",
                        help="output folder (default outputs/)")
    build_.add_argument("--jobs", type=int, default=None,
                        help="parallel kernels (default: all cores; one more with forked kernels on a large batch)")
    build_.add_argument("--notebooks", type=Path, default=NOTEBOOKS_DIR, metavar="DIR",
                        help="folder of NN_*.ipynb report notebooks (default notebooks/)")
    build_.add_argument("--kernel-start", default="auto", metavar="fork|fresh",
                        help="fork kernels from a pre-imported template (Linux) or start fresh ones; "
                             "default auto: fork where it is safe")
    build_.add_argument("--scheduler", default="", metavar="tcp://HOST:PORT",
                        help="run the notebooks on this Dask scheduler instead of local processes "
                             "(pip install -e '.[cluster]')")
    build_.add_argument("--scheduler-wait", type=float, default=60.0, metavar="SECONDS",
                        help="with --scheduler: stop, saying so, once the cluster has had no worker for this long "
                             "(default 60)")
    mode = build_.add_mutually_exclusive_group()
    mode.add_argument("--continue-on-error", dest="fail_fast", action="store_false", default=False,
                      help="run everything, report failures at the end (default)")
    mode.add_argument("--fail-fast", dest="fail_fast", action="store_true", help="stop at the first failure")
    build_.add_argument("--rerun", action="store_true", help="run even up-to-date notebooks")
    build_.add_argument("--pdf", action="store_true",
                        help="also print each force's combined report to report.pdf (headless Chromium)")
    build_.add_argument("--quiet", action="store_true", help="no progress bar")
    for name, text in (("data", "fetch, verify and build the tidy data cache (arguments go to peel_helpers.data)"),
                       ("ledger", "published-vs-reproduced ledger (arguments go to peel_helpers.reports.ledger)"),
                       ("validate", "agreement with ONS's own tables; exit 1 on an unexplained difference")):
        sub.add_parser(name, help=text, add_help=False)
    index = sub.add_parser("index", help="rebuild DIR/index.html")
    index.add_argument("--out", type=str, default=str(OUTPUTS_DIR), metavar="DIR")
    index.add_argument("--notebooks", type=Path, default=NOTEBOOKS_DIR, metavar="DIR")
    clean = sub.add_parser("clean", help="delete what a build wrote into DIR (nothing else)")
    clean.add_argument("--out", type=str, default=str(OUTPUTS_DIR), metavar="DIR")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help")):
        argv = ["build", *argv]
    if argv[0] == "data":
        from . import data

        return int(data.main(argv[1:]) or 0)
    if argv[0] == "ledger":
        from .reports import ledger

        return int(ledger.main(argv[1:]) or 0)
    if argv[0] == "validate":
        from .measures import compare

        return int(compare.main(argv[1:]) or 0)
    args = _parser().parse_args(argv)
    try:
        if args.command == "index":
            return _index(args)
        if args.command == "clean":
            return _clean(args.out)
        return build(args)
    except PeelError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return EXIT_INPUT


def _sections(notebooks: Path, available: list[str]):
    from .core.sections import sections

    return tuple(s for s in sections(notebooks) if s.notebook in available)


def _index(args) -> int:
    from .batch.checks import check_out, sections
    from .publish.index import write_index

    notebooks = Path(args.notebooks).resolve()
    path = write_index(check_out(args.out), _sections(notebooks, sections(notebooks)))
    print(f"wrote {path}")
    return 0


def _clean(out) -> int:
    from .batch.checks import check_out
    from .batch.runner import take_lock
    from .core.contract import LOCK_FILE
    from .publish.build import clean

    folder = check_out(out)
    if not folder.is_dir():
        raise PeelError(f"--out {folder} does not exist: nothing to clean.")
    lock = take_lock(folder, "clean")
    try:
        return clean(folder)
    finally:
        lock.release()
        (folder / LOCK_FILE).unlink(missing_ok=True)


def build(args) -> int:
    """check → data → batch → publish → index, with the exit statuses of the module docstring."""
    from .batch import runner
    from .batch.cluster import NoWorkers
    from .publish import build as publisher

    plan, failed_reports = None, 0
    with runner.stop_on_signals():
        try:
            plan = runner.plan(args, prepare=publisher.prepare)                         # check, data
            sections = _sections(plan.notebooks, plan.available)
            publisher.withdraw_for(plan.out, plan.todo)
            _write_index(plan, sections)
            runner.run_batch(plan)                                                        # batch
            failed_reports = publisher.publish(                                           # publish, index
                plan.out, _forces(plan), _periods(plan), sections, plan.notebooks, pdf=args.pdf,
                pool_map=lambda fn, items, n, failed: runner.pool_map(fn, items, n, plan.method,
                                                                      plan.out / ".logs", failed))
        except runner.Stop as stop:
            return _stopped(plan, stop)
        except PeelError:
            raise
        except NoWorkers as err:
            _write_index(plan, _sections(plan.notebooks, plan.available))
            print(f"ERROR: {err}", file=sys.stderr)
            return EXIT_FAILED
        except OSError as err:           # a full disk, a folder that became read-only: one line, and what finished
            return _could_not_write(plan, err)
        finally:
            if plan is not None:
                plan.close()
    print(f"index: {plan.out / 'index.html'}")
    return runner.summarise(plan) or (EXIT_FAILED if failed_reports else 0)


def _forces(plan):
    from .core.forces import resolve

    return [resolve(f) for f in dict.fromkeys(j.force for j in plan.jobs)]


def _periods(plan):
    from .core.periods import Period

    return [Period.parse(p) for p in dict.fromkeys(j.period_end for j in plan.jobs)]


def _write_index(plan, sections) -> bool:
    """Rewrite the index with what the records vouch for (False if even that cannot be written)."""
    from .publish.index import write_index

    if plan is None or not plan.out.is_dir():
        return False
    try:
        write_index(plan.out, sections)
    except OSError:
        return False
    return True


def _could_not_write(plan, err: OSError) -> int:
    where = getattr(err, "filename", None) or (plan.out if plan is not None else "the output folder")
    written = plan is not None and _write_index(plan, _sections(plan.notebooks, plan.available))
    print(f"ERROR: could not write {where} ({err.strerror or err}): free some space or make the folder writable, "
          f"then run the same command again{'; the index lists what finished' if written else ''}.",
          file=sys.stderr, flush=True)
    return EXIT_CANNOT_WRITE


def _stopped(plan, stop) -> int:
    """After SIGINT or SIGTERM: the index rewritten with what the records vouch for, and one line."""
    name = signal.Signals(stop.signum).name
    what = f"interrupted ({name}, Ctrl-C)" if stop.signum == signal.SIGINT else f"stopped by {name}"
    if plan is None or not plan.out.is_dir():
        print(f"{what} before any notebook ran", file=sys.stderr, flush=True)
        return 128 + stop.signum
    _write_index(plan, _sections(plan.notebooks, plan.available))
    done = sum(r["status"] == "done" for r in plan.results)
    print(f"{what}: {done} finished notebook(s) of this run kept, {len(plan.skipped)} already up to date; "
          f"{plan.out / 'index.html'} lists the pages that match them; run the same command again to do the rest",
          file=sys.stderr, flush=True)
    return 128 + stop.signum


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
