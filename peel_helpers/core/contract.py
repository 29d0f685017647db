"""The on-disk contract between the notebooks, the batch runner and the publisher.

Three programs meet on disk: the report notebooks (run in kernels), the batch runner (which runs
them) and the publisher (which turns executed notebooks into pages, after the batch). This module
is the one place that says what each leaves for the next.

Output folder (``--out``, default ``outputs/``)::

    <out>/index.html                          every report, by window and force (publisher)
    <out>/assumptions.html                    the assumptions log as a page (publisher)
    <out>/<period>/national.html              every force side by side, with its CSVs (publisher)
    <out>/<period>/results.csv
    <out>/<period>/<force-slug>/<NN_section>.ipynb          executed notebook (batch)
    <out>/<period>/<force-slug>/<NN_section>.status.json    the job's outcome (batch)
    <out>/<period>/<force-slug>/failed/<NN_section>.ipynb   a failed run, as far as it ran (batch)
    <out>/<period>/<force-slug>/<NN_section>.html           the section's page (publisher)
    <out>/<period>/<force-slug>/report.html, report.pdf, report-*.csv   the combined report (publisher)
    <out>/.records/, <out>/**/.records/       one record per file written (core.records)
    <out>/.logs/                              worker logs
    <out>/.peel-build.lock                    held while a build or clean writes into <out> (records.BuildLock)

Every generated file is written through :mod:`peel_helpers.core.records` and trusted only through
it. A status file (:data:`STATUS_SUFFIX`) says how a job ended: ``status`` ("done" or "failed"),
``reason`` (one line), ``no_data`` (the section has nothing to show for this force and window),
``force``, ``slug``, ``section``, ``period_end``, ``fingerprint`` (the job's), ``seconds``,
``parameters``, ``notebook`` (the executed or failed notebook, relative to the folder) and
``finished``. It is not a test of freshness: the notebook's record is.

Executed notebook metadata, ``metadata.peel`` (:data:`NOTEBOOK_KEYS`): ``parameters``, ``force``,
``section``, ``period_end``, ``fingerprint``, ``notebook_sha256``, ``code_sha256`` (the kernel
code, :func:`kernel_code_sha256`), ``inputs`` (data files and their sha256), ``sources`` (their
titles and releases) and ``kernel``.

Output metadata, ``outputs[i].metadata.peel`` (:data:`OUTPUT_KEYS`), set by the display objects of
:mod:`peel_helpers.reports`: ``kind`` ("figure" or "table": numbered in the combined report; "panel":
the headline figures, which like a chart let a section start a new printed page),
``title``/``caption``, ``alt`` (a chart's description), ``rows`` (the rows drawn, which become the
"Download the data" CSV), ``role`` ("heading", "assumptions", "sources" or "figure" for a chart
that could not be drawn) and ``no_data``.

Fingerprints hold only the code that runs inside kernels (:data:`KERNEL_LAYERS`): editing the
runner or the publisher reruns no notebook; editing the publisher re-publishes pages.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from .paths import PACKAGE_DIR

STATUS_SUFFIX = ".status.json"
FAILED_DIR = "failed"
LOGS_DIR = ".logs"
LOCK_FILE = ".peel-build.lock"
INDEX_HTML = "index.html"
ASSUMPTIONS_HTML = "assumptions.html"
REPORT_HTML, REPORT_PDF, REPORT_RESULTS_CSV = "report.html", "report.pdf", "report-results.csv"
NATIONAL_HTML, NATIONAL_CSV = "national.html", "results.csv"

NOTEBOOK_KEYS = ("parameters", "force", "section", "period_end", "fingerprint", "notebook_sha256", "code_sha256",
                 "inputs", "sources", "kernel")
OUTPUT_KEYS = ("kind", "title", "caption", "alt", "rows", "role", "no_data")
STATUS_KEYS = ("status", "reason", "no_data", "force", "slug", "section", "period_end", "fingerprint", "seconds",
               "parameters", "notebook", "finished")

CODE_SUFFIXES = (".py", ".csv", ".j2", ".json", ".css", ".toml")   # code, bundled tables, templates, style
KERNEL_LAYERS = ("core", "data", "measures", "reports")   # what notebooks import; batch/ and publish/ are not
RESULTS_LAYERS = ("core", "data", "measures")               # what the results table is computed by


@lru_cache(maxsize=4)
def layers_sha256(layers: tuple[str, ...] = KERNEL_LAYERS, package_dir: Path = PACKAGE_DIR) -> str:
    """One hash over the code and bundled tables of some layers of the package (and the package's
    ``__init__``, which every import of it runs)."""
    h = hashlib.sha256()
    files = [package_dir / "__init__.py"]
    for layer in layers:
        files += [p for p in (package_dir / layer).rglob("*") if p.suffix in CODE_SUFFIXES and p.is_file()]
    for path in sorted(files):
        h.update(path.relative_to(package_dir).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def kernel_code_sha256() -> str:
    """The hash of the code that runs inside notebook kernels: part of every job's fingerprint."""
    return layers_sha256(KERNEL_LAYERS)


def publisher_sha256() -> str:
    """The hash of the publisher's code, templates and style sheet: part of every page's fingerprint."""
    return layers_sha256(("publish",))
