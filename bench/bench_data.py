"""Benchmark of the data layer (a script, not a test).

Reports, in one run and on the same files:

* cold: building the whole parquet cache from the verified raw files (no cache present);
* warm: loading all five tidy tables from an up-to-date cache (staleness check included);
* baseline: reading the same raw files with pandas' defaults (``read_csv``, and ``read_excel``
  with its default engine, openpyxl), without any tidying or validation;
* results, cold: computing ``peel_helpers.results()`` (every force and England and Wales × every
  measure × every period the data cover) from the cached tables;
* results, warm: the same call in a new process once the table is cached (what a notebook pays).

Each measurement runs in a fresh Python process (so import costs are paid as a notebook would pay
them) and is repeated; the median is shown. Targets on this project's 2-core machine: cold <= 5 s,
warm <= 0.5 s, results warm <= 2 s.

Usage: PEEL_DATA_MIRROR=<folder with the source files> python bench/bench_data.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

COLD = """
import time, json
t0 = time.perf_counter()
from peel_helpers import data
t1 = time.perf_counter()
summary = data.build_cache()
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "work": t2 - t1, "total": t2 - t0, "rebuilt": summary["rebuilt"]}))
"""

WARM = """
import time, json
t0 = time.perf_counter()
from peel_helpers import data
t1 = time.perf_counter()
rows = sum(len(data.load(t)) for t in data.cache.TABLES)
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "work": t2 - t1, "total": t2 - t0, "rows": rows}))
"""

RESULTS_COLD = """
import time, json
from peel_helpers.core.paths import processed_dir
for old in processed_dir().glob("results-*.parquet"):
    old.unlink()
t0 = time.perf_counter()
from peel_helpers import results
t1 = time.perf_counter()
rows = len(results())
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "work": t2 - t1, "total": t2 - t0, "rows": rows}))
"""

RESULTS_WARM = RESULTS_COLD.split("t0 = time.perf_counter()", 1)[0].split("for old")[0] + """
t0 = time.perf_counter()
from peel_helpers import results
t1 = time.perf_counter()
rows = len(results())
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "work": t2 - t1, "total": t2 - t0, "rows": rows}))
"""

BASELINE = """
import time, json
t0 = time.perf_counter()
import pandas as pd
t1 = time.perf_counter()
raw = {raw!r}
files = {files!r}
rows = len(pd.read_csv(raw + "/" + files["rec_crime_pfa"]))
rows += len(pd.read_csv(raw + "/" + files["outcomes_2017_18_csv"]))
rows += len(pd.read_csv(raw + "/" + files["pfa_lookup_2016"]))
sheets = pd.read_excel(raw + "/" + files["pfa_tables_mar2018"], sheet_name=["Table P7", "Table P9"])
rows += sum(len(s) for s in sheets.values())
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "work": t2 - t1, "total": t2 - t0, "rows": rows}}))
"""


def run(code: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"benchmark step failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from peel_helpers.data import fetch
    from peel_helpers.data import manifest

    work = Path(tempfile.mkdtemp(prefix="peel-bench-"))
    env = dict(os.environ, PEEL_DATA_DIR=str(work))
    os.environ["PEEL_DATA_DIR"] = str(work)
    try:
        fetch.fetch_all()                       # verified raw files in place (from mirror or network)
        raw = str(work / "raw")
        files = {k: sf.filename for k, sf in manifest.load_manifest().items() if sf.required}
        results = {"cold": [], "warm": [], "baseline": [], "results_cold": [], "results_warm": []}
        for _ in range(args.repeat):
            shutil.rmtree(work / "processed", ignore_errors=True)
            results["cold"].append(run(COLD, env))
            results["warm"].append(run(WARM, env))
            results["baseline"].append(run(BASELINE.format(raw=raw, files=files), env))
            results["results_cold"].append(run(RESULTS_COLD, env))
            results["results_warm"].append(run(RESULTS_WARM, env))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = {k: {m: statistics.median(r[m] for r in v) for m in ("import", "work", "total")}
           for k, v in results.items()}
    base = med["baseline"]["work"]
    print(f"Data layer benchmark: median of {args.repeat} runs, each in a fresh process "
          f"({os.cpu_count()} CPUs)\n")
    print(f"{'step':<44} {'work s':>8} {'+import s':>10} {'x baseline':>11} {'target':>8}")
    rows = [
        ("cold: build cache from raw files", "cold", "<= 5 s"),
        ("warm: load every tidy table from cache", "warm", "<= 0.5 s"),
        ("baseline: pandas defaults (openpyxl), raw", "baseline", ""),
        (f"results(): whole table, cold ({results['results_cold'][0]['rows']:,} rows)", "results_cold", ""),
        ("results(): whole table, warm (new process)", "results_warm", "<= 2 s"),
    ]
    for label, key, target in rows:
        m = med[key]
        print(f"{label:<44} {m['work']:>8.2f} {m['total']:>10.2f} {m['work'] / base:>11.2f} {target:>8}")
    print("\n'work s' excludes interpreter start and imports; '+import s' includes the imports "
          "(pandas, and for the cache steps peel_helpers).")
    print("The baseline only parses the files; the cold build also classifies every area row, "
          "validates the schemas and writes parquet.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
