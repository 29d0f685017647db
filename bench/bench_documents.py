"""What publishing costs, and what an edit reruns, measured inside ordinary builds in one run.

Every build here runs ``peel-reports build`` on a copy of the project in a temporary folder (so that
the script can edit the copy's code as a developer would, and never touches the checkout), reading the
checkout's data cache (``PEEL_DATA_DIR``). In order:

1. ``--rerun``: every notebook runs, then every page is published. The publish step prints its own
   time, set against the rest of the same build (the notebooks alone).
2. the same command with nothing changed: the resume cost (every notebook and page skipped).
3. one line added to a publisher file every page depends on (``publish/static/peel.css``): the build
   reruns no notebook and re-publishes every page. Its time against step 1 is the ratio this script
   is for (issue: at most 0.1).
4. one line added to a runner file (``batch/pool.py``): nothing reruns and nothing is re-published.
5. ``--pdf`` (optional): the PDFs, printed once.

    python bench/bench_documents.py                  # 3 forces, both periods
    python bench/bench_documents.py --full           # 43 forces × both periods
    python bench/bench_documents.py --pdf 0          # skip the PDFs

Results are printed and written to bench/results/documents-*.json and .md. A measurement, not a test;
on a shared machine the numbers are noisy, so the ratios (same run, same machine) are what to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PUBLISH_LINE = re.compile(r"pages: (\d+) section pages written; reports: (\d+) written, (\d+) up to date.*?; ([\d.]+) s")
PDF_PART = re.compile(r"PDFs: (\d+) printed, (\d+) failed")
NOTEBOOKS_DONE = re.compile(r"^done\s+(\d+)$", re.M)


def _copy_project(target: Path) -> Path:
    """The checkout's tracked files (as they are in the working tree) copied into ``target``."""
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        src, dst = ROOT / name, target / name
        if src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    return target


def _build(project: Path, out: Path, scope: list[str], *extra: str) -> dict:
    """One build of the copy; its wall time and what it printed about notebooks, pages and PDFs."""
    env = os.environ | {"PYTHONPATH": str(project), "PEEL_DATA_DIR": os.environ.get("PEEL_DATA_DIR",
                                                                                    str(ROOT / "data"))}
    cmd = [sys.executable, "-m", "peel_helpers", "build", "--out", str(out), "--quiet", *scope, *extra]
    start = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=project, env=env)
    wall = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"build failed ({run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    pub = PUBLISH_LINE.search(run.stdout)
    pdf = PDF_PART.search(run.stdout)
    done = NOTEBOOKS_DONE.search(run.stdout)
    return {"wall_s": round(wall, 1), "notebooks_run": int(done[1]) if done else 0, "pages_written": int(pub[1]),
            "reports_written": int(pub[2]), "reports_skipped": int(pub[3]), "publish_s": float(pub[4]),
            "pdf_printed": int(pdf[1]) if pdf else 0}


def _touch(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)


def _weights(out: Path) -> dict:
    sizes = sorted(p.stat().st_size for p in out.glob("*/*/report.html"))
    return {"reports": len(sizes), "median_kb": round(statistics.median(sizes) / 1024),
            "max_kb": round(sizes[-1] / 1024)} if sizes else {"reports": 0}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="every force (default: 3 forces)")
    parser.add_argument("--forces", default="Cambridgeshire,City of London,Kent", help="comma-separated forces")
    parser.add_argument("--pdf", type=int, default=1, help="1: also time the PDFs (default), 0: skip them")
    args = parser.parse_args(argv)
    scope = [] if args.full else ["--forces", args.forces]
    with tempfile.TemporaryDirectory(prefix="bench-documents-") as tmp:
        project, out = _copy_project(Path(tmp) / "project"), Path(tmp) / "out"
        full = _build(project, out, scope, "--rerun")
        resume = _build(project, out, scope)
        _touch(project / "peel_helpers" / "publish" / "static" / "peel.css", "\n/* an edit */\n")
        publisher_edit = _build(project, out, scope)
        _touch(project / "peel_helpers" / "batch" / "pool.py", "\n# an edit\n")
        runner_edit = _build(project, out, scope)
        pdf = _build(project, out, scope, "--pdf") if args.pdf else {}
        notebooks_s = full["wall_s"] - full["publish_s"]
        result = {
            "scope": "43 forces" if args.full else args.forces, "full_build_s": full["wall_s"],
            "notebooks": full["notebooks_run"], "notebooks_part_s": round(notebooks_s, 1),
            "publish_part_s": full["publish_s"], "publish_share_of_notebooks": round(full["publish_s"] / notebooks_s, 3),
            "resume_s": resume["wall_s"], "resume_notebooks_run": resume["notebooks_run"],
            "resume_pages_written": resume["pages_written"],
            "after_publisher_edit_s": publisher_edit["wall_s"],
            "after_publisher_edit_notebooks_run": publisher_edit["notebooks_run"],
            "after_publisher_edit_pages_written": publisher_edit["pages_written"],
            "after_publisher_edit_reports_written": publisher_edit["reports_written"],
            "publisher_edit_vs_full_rerun": round(publisher_edit["wall_s"] / full["wall_s"], 3),
            "after_runner_edit_s": runner_edit["wall_s"], "after_runner_edit_notebooks_run": runner_edit["notebooks_run"],
            "after_runner_edit_pages_written": runner_edit["pages_written"],
            "pdf_printed": pdf.get("pdf_printed", 0), "pdf_build_s": pdf.get("wall_s", 0.0),
            "page_weight": _weights(out)}
    print(json.dumps(result, indent=1))
    folder = ROOT / "bench" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (folder / f"documents-{stamp}.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    md = "\n".join(f"| {k} | {v} |" for k, v in result.items())
    (folder / f"documents-{stamp}.md").write_text("| measure | value |\n|---|---|\n" + md + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
