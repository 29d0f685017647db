"""Benchmark the report batch: naive CLI loop vs the batch runner vs the fresh-kernel floor.

In one run, on the same forces and sections:

1. naive: for each force × notebook, ``papermill`` CLI then ``jupyter nbconvert --to html`` CLI, serially;
2. runner: ``python -m peel_helpers build`` (what ``make reports`` runs), all cores, ``--rerun``;
3. floor: start a kernel, import the libraries the notebooks import, shut it down; its median time
   × number of notebooks ÷ cores is the least a one-kernel-per-notebook batch can take here.

Also: one force × every section through the runner, and the peak RSS of each kernel process
(sampled every 50 ms) during the runner's batch.

    python bench/bench_reports.py                  # 3 forces × every section, 12 months to 30 June 2017
    python bench/bench_reports.py --forces 43 --skip-naive   # the full 43-force batch (runner and floor)

Results are printed and written to bench/results/bench_reports.json. This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from peel_helpers.batch import runner  # noqa: E402
from peel_helpers.core.forces import FORCES, resolve  # noqa: E402
from peel_helpers.core.paths import NOTEBOOKS_DIR  # noqa: E402

BIN = Path(sys.executable).parent
FLOOR_IMPORTS = ("import matplotlib; matplotlib.use('Agg'); import pandas, pyarrow.parquet, seaborn, "
                 "peel_helpers.reports.notebook, peel_helpers.measures, peel_helpers.reports.figures, peel_helpers.data")


class KernelMemory:
    """Peak RSS of every ipykernel process that appears while the block runs."""

    def __init__(self):
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self):
        while not self._stop.is_set():
            for proc in psutil.process_iter(["pid", "cmdline"]):
                cmd = proc.info.get("cmdline") or []
                if any("ipykernel_launcher" in part for part in cmd):
                    try:
                        rss = proc.memory_info().rss
                    except psutil.Error:
                        continue
                    self.peaks[proc.pid] = max(self.peaks.get(proc.pid, 0), rss)
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def naive(forces, sections, period, out: Path) -> float:
    start = time.perf_counter()
    for force in forces:
        for section in sections:
            nb_out = out / f"{force.slug}-{section}.ipynb"
            subprocess.run([str(BIN / "papermill"), str(NOTEBOOKS_DIR / f"{section}.ipynb"), str(nb_out),
                            "-p", "force", force.name, "-p", "period_end", period, "-k", runner.KERNEL_NAME,
                            "--no-progress-bar"], check=True, capture_output=True)
            subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", "--no-prompt",
                            str(nb_out)], check=True, capture_output=True)
    return time.perf_counter() - start


def run_runner(forces, sections, period, out: Path, jobs: int) -> float:
    cmd = [sys.executable, "-m", "peel_helpers", "build", "--period", period, "--out", str(out), "--rerun",
           "--quiet", "--jobs", str(jobs)]
    for force in forces:
        cmd += ["--force", force.name]
    for section in sections:
        cmd += ["--section", section]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"runner failed:\n{proc.stdout}\n{proc.stderr[-3000:]}")
    return seconds


def floor_one() -> float:
    from jupyter_client.manager import start_new_kernel

    start = time.perf_counter()
    km, kc = start_new_kernel(kernel_name=runner.KERNEL_NAME)
    try:
        reply = kc.execute_interactive(FLOOR_IMPORTS, timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--forces", type=int, default=3, help="how many forces (first N in canonical order, "
                        "Cambridgeshire always included)")
    parser.add_argument("--period", default="2017-06-30")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--floor-samples", type=int, default=5)
    parser.add_argument("--skip-naive", action="store_true", help="skip the (slow) naive CLI loop")
    args = parser.parse_args(argv)

    from peel_helpers import data

    data.build_cache()
    forces = [resolve("Cambridgeshire")] + [f for f in FORCES if f.name != "Cambridgeshire"]
    forces = forces[: max(1, args.forces)]
    sections = runner.sections()
    n = len(forces) * len(sections)
    cores = args.jobs
    results: dict = {"forces": len(forces), "sections": len(sections), "notebooks": n, "cores": cores,
                     "period": args.period}
    print(f"{len(forces)} forces × {len(sections)} sections = {n} notebooks, {cores} cores", flush=True)

    samples = [floor_one() for _ in range(args.floor_samples)]
    per_kernel = statistics.median(samples)
    results["floor_per_kernel_s"] = round(per_kernel, 2)
    results["floor_batch_s"] = round(per_kernel * n / cores, 1)
    print(f"floor: {per_kernel:.2f} s per kernel (start, imports, shutdown) -> {per_kernel * n / cores:.1f} s "
          f"for {n} notebooks on {cores} cores", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        tmp = Path(tmp)
        with KernelMemory() as mem:
            results["runner_s"] = round(run_runner(forces, sections, args.period, tmp / "runner", cores), 1)
        peaks = sorted(mem.peaks.values())
        results["kernels_sampled"] = len(peaks)
        results["peak_rss_mb_max"] = round(max(peaks) / 2**20) if peaks else None
        results["peak_rss_mb_median"] = round(statistics.median(peaks) / 2**20) if peaks else None
        print(f"runner: {results['runner_s']} s ({results['runner_s'] / n:.2f} s per notebook); peak kernel RSS "
              f"max {results['peak_rss_mb_max']} MB, median {results['peak_rss_mb_median']} MB", flush=True)

        results["one_force_all_sections_s"] = round(
            run_runner(forces[:1], sections, args.period, tmp / "one", cores), 1)
        print(f"one force ({forces[0].name}), all {len(sections)} sections: {results['one_force_all_sections_s']} s",
              flush=True)

        if not args.skip_naive:
            (tmp / "naive").mkdir()
            results["naive_s"] = round(naive(forces, sections, args.period, tmp / "naive"), 1)
            print(f"naive CLI loop: {results['naive_s']} s ({results['naive_s'] / n:.2f} s per notebook)", flush=True)

    results["runner_over_floor"] = round(results["runner_s"] / results["floor_batch_s"], 2)
    print(f"\nrunner / floor = {results['runner_over_floor']} (target <= 1.3)")
    if "naive_s" in results:
        results["naive_over_runner"] = round(results["naive_s"] / results["runner_s"], 2)
        print(f"naive / runner = {results['naive_over_runner']} (target >= 3.5)")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_reports.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
