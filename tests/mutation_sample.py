"""Helpers for ``make mutation`` (run from the project folder, after mutmut has generated ``mutants/``).

``python tests/mutation_sample.py sample FRACTION [SEED]``
    prints a seeded random sample of FRACTION of each mutated file's mutants (their mutmut names,
    one a line): ``make mutation MUTATION_SAMPLE=0.2`` runs only those.
``python tests/mutation_sample.py widen``
    makes every mutant run every selected test (fail-fast; a mutant of measures/compare.py runs
    tests/test_validate.py, any other mutant the other selected tests). mutmut runs, for each mutant, only the tests
    that called the mutated function while it collected its stats; but the results table is built once
    and shared by a module's tests (a module fixture, and an in-memory cache), so only the first test to
    build it would be linked to the measures code, and a mutant that test does not see would pass as a
    survivor. Run after mutmut has collected its stats (mutants/mutmut-stats.json).
``python tests/mutation_sample.py score [NAMES_FILE]``
    prints killed/total per file (over the mutants in NAMES_FILE when given) and lists every survivor.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 36, 24, -24, 152, 255}      # a failing test, or a timeout (counted apart below)
TIMEOUT = {36, 24, -24, 152, 255}
VALIDATE = "tests/test_validate.py"


def _metas() -> dict[str, dict]:
    out = {}
    for path in sorted(Path("mutants").rglob("*.py.meta")):
        codes = json.loads(path.read_text(encoding="utf-8"))["exit_code_by_key"]
        if codes:
            out[str(path.relative_to("mutants"))[: -len(".meta")]] = codes
    return out


def sample(fraction: float, seed: int = 13) -> list[str]:
    rng = random.Random(seed)
    names = []
    for codes in _metas().values():
        keys = sorted(codes)
        names += rng.sample(keys, max(1, round(fraction * len(keys))))
    return sorted(names)


def widen() -> int:
    path = Path("mutants") / "mutmut-stats.json"
    stats = json.loads(path.read_text(encoding="utf-8"))
    tests = sorted(stats["duration_by_test"])
    keys = set(stats["function_hashes"]) | set(stats["tests_by_mangled_function_name"])
    keys |= {name.partition("__mutmut_")[0] for codes in _metas().values() for name in codes}
    # compare.py is exercised by the validate tests alone; the rest of the measures layer by the others
    # (the validate tests rebuild both ONS comparisons many times, which makes every survivor slow)
    own = {True: [t for t in tests if t.startswith(VALIDATE)], False: [t for t in tests if not t.startswith(VALIDATE)]}
    stats["tests_by_mangled_function_name"] = {k: own[".measures.compare." in k] or tests for k in sorted(keys)}
    path.write_text(json.dumps(stats), encoding="utf-8")
    return len(keys)


def score(names: set[str] | None = None) -> str:
    lines, survivors = [], []
    total = Counter()
    for path, codes in _metas().items():
        picked = {k: v for k, v in codes.items() if names is None or k in names}
        if not picked:
            continue
        c = Counter("killed" if v in KILLED else "survived" if v == 0 else "no tests" if v in (5, 33)
                    else "not run" if v is None else f"other ({v})" for v in picked.values())
        timeouts = sum(v in TIMEOUT for v in picked.values())
        total.update(c)
        lines.append(f"{path}: {c['killed']}/{len(picked)} killed ({timeouts} by timeout), {c['survived']} survived, "
                     f"{c['no tests']} with no test" + "".join(f", {c[k]} {k}" for k in c
                                                                 if k not in ("killed", "survived", "no tests")))
        survivors += sorted(k for k, v in picked.items() if v == 0)
    n = sum(total.values())
    lines.append(f"all: {total['killed']}/{n} killed, {total['survived']} survived, {total['no tests']} with no test")
    return "\n".join(lines + ["survivors:"] + [f"  {s}" for s in survivors])


if __name__ == "__main__":
    if sys.argv[1:2] == ["sample"]:
        print("\n".join(sample(float(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 13)))
    elif sys.argv[1:2] == ["widen"]:
        print(f"every one of {widen()} functions now runs every selected test")
    elif sys.argv[1:2] == ["score"]:
        wanted = set(Path(sys.argv[2]).read_text().split()) if len(sys.argv) > 2 else None
        print(score(wanted))
    else:
        sys.exit(__doc__)
