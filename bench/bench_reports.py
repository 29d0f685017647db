"""Benchmark the report batch, every approach in one run, on the same forces, sections and period(s):

1. naive: for each force × notebook, ``papermill`` CLI then ``jupyter nbconvert --to html`` CLI, serially;
2. runner, fresh kernels: ``python -m peel_helpers build --kernel-start fresh --rerun``;
3. runner, forked kernels: the same with ``--kernel-start fork``;
4. floor: the same number of fresh kernels, each started, made to import the notebook stack and
   shut down, on as many worker processes as cores: the least any one-new-interpreter-per-notebook
   batch can take here.

Each round runs every approach once, in turn; rounds repeat (``--repeat``) and medians are quoted,
because the machine may be shared. For each approach: wall time, CPU time of its whole process
tree (and so CPU use in % while it ran), CPU use of the whole machine, and peak memory of every
kernel (RSS, and PSS, which splits pages a forked kernel shares with its template). Also: one
force × every section through the runner with forked kernels, and whether both runner modes wrote
the same set of HTML files.

    python bench/bench_reports.py                    # 3 forces × every section, 12 months to 31 March 2018
    python bench/bench_reports.py --forces 2         # Cambridgeshire and Kent (the issue's small batch)
    python bench/bench_reports.py --full --repeat 1  # 43 forces × every section × both periods, no naive loop
    python bench/bench_reports.py --profile          # where one notebook's time goes (pyinstrument)
    python bench/bench_reports.py --one-force        # one force × every section × one period against its floor
    python bench/bench_reports.py --one-force --full # the same, then the full batch once, in the same run

Results are printed and written to bench/results/ as JSON and Markdown. This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from peel_helpers.batch import runner  # noqa: E402
from peel_helpers.core.forces import FORCES, resolve  # noqa: E402
from peel_helpers.core.paths import NOTEBOOKS_DIR  # noqa: E402
from peel_helpers.core.periods import DEFAULT_PERIODS  # noqa: E402

BIN = Path(sys.executable).parent
FLOOR_IMPORTS = ("import matplotlib; matplotlib.use('Agg'); import pandas, pyarrow.parquet, seaborn, "
                 "peel_helpers.reports.notebook, peel_helpers.measures, peel_helpers.reports.figures, peel_helpers.data")
MB = 2**20
SETTLE_S = 2.0


# --------------------------------------------------------------------------- measuring a process tree

def _is_kernel(proc: psutil.Process) -> bool:
    """A fresh kernel (ipykernel_launcher) or a forked one (named peel-kernel)."""
    return proc.name() == "peel-kernel" or "ipykernel_launcher" in " ".join(proc.cmdline())


class Sampler:
    """While a block runs: peak RSS and PSS of every kernel under ``root_pid`` (or of any kernel, when
    the kernels are started by this process), and machine-wide CPU use."""

    def __init__(self, root_pid: int | None = None, interval: float = 0.1, poll: bool = True):
        self.root_pid, self.interval, self.poll = root_pid, interval, poll
        self.rss: dict[int, int] = {}
        self.pss: dict[int, int] = {}
        self.templates: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _procs(self):
        try:
            return psutil.Process(self.root_pid or os.getpid()).children(recursive=True)
        except psutil.Error:
            return []

    def _poll(self):
        while not self._stop.is_set():
            for proc in self._procs():
                try:
                    if _is_kernel(proc):
                        mem = proc.memory_full_info()
                        self.rss[proc.pid] = max(self.rss.get(proc.pid, 0), mem.rss)
                        self.pss[proc.pid] = max(self.pss.get(proc.pid, 0), mem.pss)
                    elif proc.name() == "peel-template":
                        self.templates[proc.pid] = max(self.templates.get(proc.pid, 0), proc.memory_full_info().pss)
                except psutil.Error:
                    continue
            time.sleep(self.interval)

    def __enter__(self):
        psutil.cpu_percent(None)
        if self.poll:  # (polling costs CPU beside what is measured: only when memory is wanted)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self.machine_cpu = psutil.cpu_percent(None) * (psutil.cpu_count() or 1)
        self._stop.set()
        if self.poll:
            self._thread.join()

    def summary(self) -> dict:
        def mb(values):
            return round(max(values) / MB) if values else None

        return {"kernels_sampled": len(self.rss), "peak_kernel_rss_mb": mb(self.rss.values()),
                "peak_kernel_pss_mb": mb(self.pss.values()), "peak_template_pss_mb": mb(self.templates.values()),
                "machine_cpu_pct": round(self.machine_cpu)}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], sample_kernels: bool = True) -> dict:
    """Run ``command``; wall time, CPU time of its process tree (every descendant is reaped below it),
    CPU use in %, and kernel memory."""
    cpu0, start = _children_cpu(), time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with Sampler(proc.pid, poll=sample_kernels) as sampler:
        out, err = proc.communicate()
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"{command[:6]} failed:\n{out[-2000:]}\n{err[-3000:]}")
    result = {"wall_s": wall, "cpu_s": cpu, "cpu_pct": 100 * cpu / wall}
    result.update(sampler.summary() if sample_kernels else {"machine_cpu_pct": round(sampler.machine_cpu)})
    return result


# --------------------------------------------------------------------------- the approaches

def runner_cmd(forces, sections, periods, out: Path, kernel_start: str, jobs: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "peel_helpers", "build", "--out", str(out), "--rerun", "--quiet",
           "--kernel-start", kernel_start]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    for period in periods:
        cmd += ["--period", period]
    for force in forces:
        cmd += ["--force", force.name]
    for section in sections:
        cmd += ["--section", section]
    return cmd


def naive_cmd(forces, sections, periods, out: Path) -> list[str]:
    """One shell loop: papermill CLI then nbconvert CLI per notebook, serially."""
    steps = []
    for period in periods:
        for force in forces:
            for section in sections:
                nb_out = out / f"{period}-{force.slug}-{section}.ipynb"
                steps.append(f"'{BIN / 'papermill'}' '{NOTEBOOKS_DIR / section}.ipynb' '{nb_out}' -p force "
                             f"'{force.name}' -p period_end {period} -k {batch_jobs.KERNEL_NAME} --no-progress-bar "
                             f"&& '{BIN / 'jupyter'}' nbconvert --to html --no-input --no-prompt '{nb_out}'")
    return ["bash", "-c", "set -e\n" + "\n".join(steps)]


def floor_one(_=None) -> None:
    """Start a fresh kernel, import the notebook stack in it, shut it down. A kernel that dies before
    it answers (two kernels can pick the same free port at once) is started again, as the runner does."""
    from jupyter_client.manager import start_new_kernel

    try:
        km, kc = start_new_kernel(kernel_name=batch_jobs.KERNEL_NAME, startup_timeout=120)
    except Exception as err:  # noqa: BLE001
        if not batch_jobs.kernel_start_failed(err):
            raise
        km, kc = start_new_kernel(kernel_name=batch_jobs.KERNEL_NAME, startup_timeout=120)
    try:
        reply = kc.execute_interactive(FLOOR_IMPORTS, timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)


def floor_main(n: int, workers: int) -> None:
    """``n`` floor kernels on ``workers`` worker processes (run as its own process by ``floor_cmd``)."""
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        list(pool.map(floor_one, range(n)))


def floor_cmd(n: int, workers: int) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--floor-only", str(n), str(workers)]


# --------------------------------------------------------------------------- rounds and report

def html_set(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.glob("*/*/*.html"))


def one_round(scope: dict, tmp: Path, args, i: int) -> dict:
    """Every approach once, in turn, on the same scope."""
    forces, sections, periods, n = scope["forces"], scope["sections"], scope["periods"], scope["notebooks"]
    row = {"floor": timed(floor_cmd(n, args.floor_workers))}
    for start in ("fresh", "fork"):
        out = tmp / f"{start}-{i}"
        row[f"runner_{start}"] = timed(runner_cmd(forces, sections, periods, out, start, args.jobs))
        row[f"runner_{start}"]["html"] = html_set(out)
    row["one_force"] = timed(runner_cmd(forces[:1], sections, periods[:1], tmp / f"one-{i}", "fork", args.jobs))
    if not args.skip_naive:
        (tmp / f"naive-{i}").mkdir()
        row["naive"] = timed(naive_cmd(forces, sections, periods, tmp / f"naive-{i}"))
    for key, value in row.items():
        print(f"  round {i + 1}: {key:<14} {value['wall_s']:7.1f} s  cpu {value['cpu_s']:7.1f} s "
              f"({value['cpu_pct']:.0f}%)", flush=True)
    return row


def medians(rounds: list[dict]) -> dict:
    out = {}
    for key in rounds[0]:
        values = [r[key] for r in rounds]
        out[key] = {m: round(statistics.median(v[m] for v in values), 2)
                    for m in values[0] if isinstance(values[0][m], (int, float)) and values[0][m] is not None}
    return out


def ratios(med: dict, n: int) -> dict:
    fork, fresh, floor = med["runner_fork"]["wall_s"], med["runner_fresh"]["wall_s"], med["floor"]["wall_s"]
    out = {"fork_over_floor": round(fork / floor, 2), "fresh_over_floor": round(fresh / floor, 2),
           "fresh_over_fork": round(fresh / fork, 2), "fork_s_per_notebook": round(fork / n, 3),
           "fork_cpu_s_per_notebook": round(med["runner_fork"]["cpu_s"] / n, 3),
           "fresh_cpu_s_per_notebook": round(med["runner_fresh"]["cpu_s"] / n, 3)}
    if "naive" in med:
        out["naive_s_per_notebook"] = round(med["naive"]["wall_s"] / n, 2)
        out["naive_over_fork"] = round(med["naive"]["wall_s"] / fork, 1)
        out["naive_over_fresh"] = round(med["naive"]["wall_s"] / fresh, 1)
    return out


def markdown(results: dict) -> str:
    med, n = results["medians"], results["notebooks"]
    lines = [f"{results['label']}: {n} notebooks, {results['cores']} cores, median of {results['repeat']} "
             f"round(s)", "", "| Approach | Wall (s) | s per notebook | CPU (s) | CPU use | Peak kernel RSS / PSS (MB) |",
             "|---|---|---|---|---|---|"]
    names = {"naive": "Naive loop (papermill CLI, nbconvert CLI)", "runner_fresh": "Runner, fresh kernels",
             "runner_fork": "Runner, forked kernels", "floor": f"Fresh-kernel floor ({n} kernels)",
             "one_force": "Runner, forked: one force, every section, one period"}
    for key, name in names.items():
        if key in med:
            m = med[key]
            per = m["wall_s"] / (len(results["sections"]) if key == "one_force" else n)
            lines.append(f"| {name} | {m['wall_s']:.1f} | {per:.2f} | {m['cpu_s']:.1f} | {m['cpu_pct']:.0f}% | "
                         f"{m.get('peak_kernel_rss_mb', '–')} / {m.get('peak_kernel_pss_mb', '–')} |")
    lines += ["", "Ratios: " + ", ".join(f"{k} = {v}" for k, v in results["ratios"].items()),
              f"Same HTML files from both runner modes: {results['same_html_set']}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- profile of one notebook

def profile(section: str, period: str) -> None:
    """Where one notebook's time goes: the worker (kernel start, execution, export) with forked
    kernels after one warm-up run, then the notebook's own code in-process after ``preload()``."""
    import pyinstrument

    from peel_helpers import data
    from peel_helpers.batch import kernels
    from peel_helpers.core.periods import Period

    os.environ.setdefault("MPLBACKEND", "Agg")
    data.build_cache()
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        jobs = batch_jobs.make_jobs([resolve("Kent"), resolve("Essex")], [section], [Period.parse(period)], Path(tmp),
                                batch_jobs.input_hashes(), batch_jobs.provenance())
        kernels.prestart(batch_jobs.KERNEL_NAME, kernels.template_key(jobs[0].context))
        batch_jobs.run_job(jobs[0], "fork")  # warm: template ready, exporter loaded
        profiler = pyinstrument.Profiler(interval=0.001)
        with profiler:
            batch_jobs.run_job(jobs[1], "fork")
        print(f"--- worker side, {section}, forked kernel (wall; epoll.poll is waiting for the kernel)")
        print(profiler.output_text(color=False, unicode=False, show_all=False))
        kernels.close_all()
    _profile_kernel_side(section, period)


def _profile_kernel_side(section: str, period: str) -> None:
    import pyinstrument

    import peel_helpers

    peel_helpers.preload()
    nb = json.loads((NOTEBOOKS_DIR / f"{section}.ipynb").read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    namespace = {"force": "Essex", "period_end": period, "comparison_period_end": ""}
    profiler = pyinstrument.Profiler(interval=0.001)
    with profiler:
        for source in cells[1:]:
            exec(compile(source, f"{section}.ipynb", "exec"), namespace)  # noqa: S102 - our own notebook
    print(f"--- kernel side, {section}: its cells after preload()")
    print(profiler.output_text(color=False, unicode=False, show_all=False))


# --------------------------------------------------------------------------- one force against its floor

def _machine() -> dict:
    return {"load_1min": round(os.getloadavg()[0], 2), "cores": os.cpu_count()}


def one_force(args) -> dict:
    """The build command for one force × every section × one period (``--rerun``, forked kernels, the
    runner's own defaults, into one output folder, as ``make reports`` is run again), and its
    fresh-kernel floor (as many kernels as notebooks, each importing the notebook stack, on one worker
    per core), alternately, ``--repeat`` times after one untimed run of each (file caches warm, and the
    folder's record of how long each section took, which the runner uses to start the longest first);
    then, with ``--full``, the full batch once. Medians, the ratio to the floor, and how busy the
    machine was."""
    force, sections, period = resolve(args.force), checks.sections(), args.period
    n = len(sections)
    rounds, before = [], _machine()
    with tempfile.TemporaryDirectory(prefix="bench-one-") as tmp:
        one = runner_cmd([force], sections, [period], Path(tmp) / "one", "fork", args.jobs)
        timed(floor_cmd(n, args.floor_workers), sample_kernels=False)
        timed(one, sample_kernels=False)
        for i in range(args.repeat):
            row = {}
            for key, command in (("floor", floor_cmd(n, args.floor_workers)), ("one_force", one)):
                time.sleep(SETTLE_S)  # the previous run's processes finish exiting and freeing memory first
                row[key] = timed(command, sample_kernels=False)
            for key, value in row.items():
                print(f"  round {i + 1}: {key:<10} {value['wall_s']:6.2f} s  cpu {value['cpu_s']:6.2f} s  "
                      f"machine {value['machine_cpu_pct']:.0f}% of {100 * (os.cpu_count() or 1)}%", flush=True)
            rounds.append(row)
        full = None
        if args.full:
            full = timed(runner_cmd(list(FORCES), sections, [p.iso for p in DEFAULT_PERIODS], Path(tmp) / "full",
                                    "fork", args.jobs), sample_kernels=False)
            print(f"  full batch: {full['wall_s']:.1f} s  cpu {full['cpu_s']:.1f} s", flush=True)
    med = medians(rounds)
    return {"force": force.name, "period": period, "sections": sections, "notebooks": n, "repeat": args.repeat,
            "medians": med, "ratio": round(med["one_force"]["wall_s"] / med["floor"]["wall_s"], 2),
            "full": full, "full_notebooks": len(FORCES) * n * len(DEFAULT_PERIODS),
            "machine_before": before, "machine_after": _machine(), "rounds": rounds}


def one_force_table(res: dict) -> str:
    med = res["medians"]
    other = statistics.median(max(0.0, r[k]["machine_cpu_pct"] - r[k]["cpu_pct"]) for r in res["rounds"] for k in r)
    lines = [f"{res['force']} × {res['notebooks']} sections × {res['period']}, median of {res['repeat']} rounds "
             f"after an untimed one (build command with --rerun, forked kernels; floor: {res['notebooks']} fresh "
             f"kernels that import the notebook stack, one worker per core)", "",
             "| | Wall (s) | CPU (s) |", "|---|---|---|",
             f"| One force, every section, one period | {med['one_force']['wall_s']:.2f} | {med['one_force']['cpu_s']:.2f} |",
             f"| Fresh-kernel floor, the same {res['notebooks']} notebooks | {med['floor']['wall_s']:.2f} | "
             f"{med['floor']['cpu_s']:.2f} |",
             f"| One force ÷ floor | {res['ratio']:.2f} | |"]
    if res["full"]:
        lines.append(f"| Full batch, {res['full_notebooks']} notebooks (once) | {res['full']['wall_s']:.1f} | "
                     f"{res['full']['cpu_s']:.1f} |")
    lines += ["", f"Machine: {res['machine_before']['cores']} cores, load average {res['machine_before']['load_1min']} "
              f"before and {res['machine_after']['load_1min']} after; other work used a median {other:.0f}% "
              "CPU (of 100% per core) while the rounds ran."]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main

def _scope(args) -> dict:
    first = [resolve("Cambridgeshire"), resolve("Kent")]
    rest = [f for f in FORCES if f not in first]
    forces = list(FORCES) if args.full else (first + rest)[: max(1, args.forces)]
    periods = [p.iso for p in DEFAULT_PERIODS] if args.full else [args.period]
    sections = checks.sections()
    return {"forces": forces, "sections": sections, "periods": periods,
            "notebooks": len(forces) * len(sections) * len(periods)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--forces", type=int, default=3, help="how many forces (Cambridgeshire and Kent first)")
    parser.add_argument("--period", default="2018-03-31")
    parser.add_argument("--full", action="store_true", help="43 forces × every section × both default periods; "
                        "skips the naive loop")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are quoted")
    parser.add_argument("--jobs", type=int, default=None, help="runner --jobs (default: the runner's own)")
    parser.add_argument("--floor-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-naive", action="store_true", help="skip the (slow) naive CLI loop")
    parser.add_argument("--profile", nargs="?", const="02_figure1_action_taken", metavar="SECTION",
                        help="profile one notebook instead of benchmarking")
    parser.add_argument("--one-force", action="store_true",
                        help="one force × every section × one period against its fresh-kernel floor "
                             "(with --full: then the full batch once)")
    parser.add_argument("--force", default="Cambridgeshire", help="the force for --one-force")
    parser.add_argument("--floor-only", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.floor_only:
        floor_main(*args.floor_only)
        return 0
    if args.profile:
        profile(args.profile, args.period)
        return 0
    args.skip_naive = args.skip_naive or args.full

    from peel_helpers import data

    data.build_cache()
    if args.one_force:
        res = one_force(args)
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench_one_force.json").write_text(json.dumps(res, indent=1))
        (out / "bench_one_force.md").write_text(one_force_table(res))
        print("\n" + one_force_table(res))
        return 0
    scope = _scope(args)
    label = "full batch" if args.full else f"{len(scope['forces'])} forces"
    print(f"{label}: {len(scope['forces'])} forces × {len(scope['sections'])} sections × {len(scope['periods'])} "
          f"period(s) = {scope['notebooks']} notebooks, {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        rounds = [one_round(scope, Path(tmp), args, i) for i in range(args.repeat)]
    med = medians(rounds)
    results = {"label": label, "forces": [f.name for f in scope["forces"]], "sections": scope["sections"],
               "periods": scope["periods"], "notebooks": scope["notebooks"], "cores": os.cpu_count(),
               "repeat": args.repeat, "jobs": args.jobs, "medians": med, "ratios": ratios(med, scope["notebooks"]),
               "same_html_set": all(r["runner_fork"]["html"] == r["runner_fresh"]["html"] for r in rounds),
               "rounds": [{k: {m: v for m, v in d.items() if m != "html"} for k, d in r.items()} for r in rounds]}
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stem = "bench_reports_full" if args.full else f"bench_reports_{len(scope['forces'])}forces"
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1))
    (out / f"{stem}.md").write_text(markdown(results))
    print("\n" + markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
