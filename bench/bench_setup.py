"""Benchmark of the first set-up (a script, not a test): ``make setup`` on a brand-new clone, with uv,
against the pip commands it replaced, in one run.

Each round, in order, each in a new ``git clone`` of this checkout's HEAD in a temporary folder
(uncommitted changes are not measured):

1. ``uv, cache as it is``: ``make setup`` (pip installs the lock's hashed uv entry, uv installs the
   lock hash-checked, then the project with ``--no-deps``, then the kernelspec);
2. ``uv, empty caches``: the same with ``UV_CACHE_DIR`` and ``PIP_CACHE_DIR`` pointing at new empty
   folders, so every wheel is downloaded;
3. ``pip, empty cache``: the commands ``make setup`` ran before it used uv (``python -m venv``, ``pip
   install --require-hashes -r requirements.lock``, the project with ``--no-deps
   --no-build-isolation``, the kernelspec), with an empty ``PIP_CACHE_DIR``;
4. ``pip, cache filled``: the same again, with the pip cache step 3 filled.

Every run installs the same pins from the same ``requirements.lock``. The load average of the
machine is recorded before and after each run: on a shared machine the times move with it, so the
figures to quote are the ratios within one round (uv ÷ pip, empty caches and filled caches).

    python bench/bench_setup.py              # one round (about 5-10 minutes, mostly pip)
    python bench/bench_setup.py --rounds 3   # medians of three

Results are printed and written to bench/results/setup.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
KERNEL = "peel-effectiveness"


def python311() -> str:
    found = shutil.which("python3.11") or shutil.which("python3")
    if not found:
        sys.exit("ERROR: python3.11 (or python3) not found")
    return found


def pip_setup() -> list[list[str]]:
    """The commands `make setup` ran before it installed with uv."""
    py = ".venv/bin/python"
    return [[python311(), "-m", "venv", ".venv"],
            [py, "-m", "pip", "install", "--quiet", "--require-hashes", "-r", "requirements.lock"],
            [py, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", "."],
            [py, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL, "--display-name", f"Python ({KERNEL})"]]


def load() -> float:
    return os.getloadavg()[0]


def timed(name: str, commands: list[list[str]], env: dict[str, str], log: Path) -> dict:
    """Clone HEAD into a new folder, run ``commands`` there, return the wall time and load averages."""
    work = Path(tempfile.mkdtemp(prefix="peel-setup-"))
    clone = work / "clone"
    try:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        before = load()
        start = time.perf_counter()
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"== {name}\n")
            out.flush()
            for command in commands:
                done = subprocess.run(command, cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT)
                if done.returncode:
                    sys.exit(f"ERROR: {name}: {' '.join(command)} exited {done.returncode}; see {log}")
        seconds = time.perf_counter() - start
        return {"run": name, "seconds": seconds, "load_before": before, "load_after": load()}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def one_round(log: Path) -> list[dict]:
    base = dict(os.environ)
    base.pop("VIRTUAL_ENV", None)
    caches = [Path(tempfile.mkdtemp(prefix="peel-cache-")) for _ in range(3)]
    uv_cache, pip_cache_for_uv, pip_cache = caches
    make = [["make", "setup"]]
    try:
        return [
            timed("uv, cache as it is", make, base, log),
            timed("uv, empty caches", make, base | {"UV_CACHE_DIR": str(uv_cache), "PIP_CACHE_DIR": str(pip_cache_for_uv)},
                  log),
            timed("pip, empty cache", pip_setup(), base | {"PIP_CACHE_DIR": str(pip_cache)}, log),
            timed("pip, cache filled", pip_setup(), base | {"PIP_CACHE_DIR": str(pip_cache)}, log),
        ]
    finally:
        for cache in caches:
            shutil.rmtree(cache, ignore_errors=True)


def report(rounds: list[list[dict]]) -> str:
    names = [r["run"] for r in rounds[0]]
    median = {n: statistics.median(r["seconds"] for rnd in rounds for r in rnd if r["run"] == n) for n in names}
    lines = [f"First set-up on a brand-new clone, {len(rounds)} round(s), {os.cpu_count()} cores, "
             f"{time.strftime('%Y-%m-%d')}", "",
             "| Run | Median wall time | Each round (load average before → after) |", "|---|---|---|"]
    for n in names:
        each = "; ".join(f"{r['seconds']:.1f} s ({r['load_before']:.1f} → {r['load_after']:.1f})"
                         for rnd in rounds for r in rnd if r["run"] == n)
        lines.append(f"| {n} | {median[n]:.1f} s | {each} |")
    lines += ["", "| Ratio (median of each round's ratio) | |", "|---|---|"]
    for uv, pip in (("uv, empty caches", "pip, empty cache"), ("uv, cache as it is", "pip, cache filled")):
        ratios = [next(r["seconds"] for r in rnd if r["run"] == uv) / next(r["seconds"] for r in rnd if r["run"] == pip)
                  for rnd in rounds]
        lines.append(f"| {uv} ÷ {pip} | {statistics.median(ratios):.2f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = RESULTS / "setup.log"
    log.write_text("", encoding="utf-8")
    rounds = [one_round(log) for _ in range(args.rounds)]
    text = report(rounds)
    (RESULTS / "setup.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
