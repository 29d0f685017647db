"""What the combined reports cost, measured inside one ordinary build.

``peel-reports build --rerun`` runs every section notebook, then assembles each force's combined
report, the national pages and the index; it prints the time the assembly took. This script runs
that build once and sets the assembly's time against the rest of the same run (the section-only
batch), then:

* runs the build again with nothing changed (every notebook and report is skipped: the resume cost);
* prints the PDFs (``--pdf``), which are opt-in, and times them separately;
* reports page weight (the size of each ``report.html``, every chart inline SVG).

    python bench/bench_documents.py                  # 3 forces, both periods
    python bench/bench_documents.py --full           # 43 forces × both periods (688 notebooks, 86 reports)
    python bench/bench_documents.py --pdf 0          # skip the PDFs

Results are printed and written to bench/results/documents-*.json and .md. A measurement, not a test;
on a shared machine the numbers are noisy.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REPORTS_LINE = re.compile(r"reports: (\d+) written, (\d+) up to date.*?; ([\d.]+) s")
PDF_LINE = re.compile(r"PDF: (\d+) written, (\d+) up to date; ([\d.]+) s")


def _build(out: Path, scope: list[str], *extra: str) -> dict:
    """One build; its wall time and what it printed about the reports and PDFs."""
    cmd = [str(BIN / "peel-reports"), "build", "--out", str(out), "--quiet", *scope, *extra]
    start = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"build failed ({run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    found = REPORTS_LINE.search(run.stdout)
    pdf = PDF_LINE.search(run.stdout)
    return {"wall_s": round(wall, 1), "reports_written": int(found[1]), "reports_skipped": int(found[2]),
            "reports_s": float(found[3]), "pdf_written": int(pdf[1]) if pdf else 0,
            "pdf_s": float(pdf[3]) if pdf else 0.0}


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
        out = Path(tmp)
        full = _build(out, scope, "--rerun")
        sections_s = full["wall_s"] - full["reports_s"]
        resume = _build(out, scope)
        pdf = _build(out, scope, "--pdf") if args.pdf else {}
        result = {"scope": "43 forces" if args.full else args.forces, "full_build_s": full["wall_s"],
                  "sections_only_s": round(sections_s, 1), "reports_s": full["reports_s"],
                  "reports": full["reports_written"], "reports_share_of_sections": round(full["reports_s"] / sections_s, 3),
                  "resume_wall_s": resume["wall_s"], "resume_reports_skipped": resume["reports_skipped"],
                  "pdf_written": pdf.get("pdf_written", 0), "pdf_s": pdf.get("pdf_s", 0.0),
                  "pdf_per_report_s": round(pdf["pdf_s"] / pdf["pdf_written"], 2) if pdf.get("pdf_written") else None,
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
