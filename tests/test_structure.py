"""The package's shape: layers that import only downwards, no import cycles, short functions, and no
public function that nothing uses."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from peel_helpers.core.paths import NOTEBOOKS_DIR, PACKAGE_DIR, PROJECT_ROOT

LAYERS = ["core", "data", "measures", "reports", "batch", "publish"]   # each may import only from the ones before it
APART = {("publish", "batch"), ("batch", "publish")}   # the publisher runs after the batch: neither imports the other
MAX_LINES = 60
MAX_MODULE_LINES = 500


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of the package that ``name`` imports (at any depth in the file)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                for candidate in (f"{base}.{alias.name}", base):
                    if candidate in modules and candidate != name:
                        found.add(candidate)
                        break
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules and a.name != name}
    return found


def test_no_import_cycles():
    modules = _modules()
    graph = {m: _imports(m, p, modules) for m, p in modules.items()}
    cycles = []

    def visit(node, stack, done):
        if node in stack:
            cycles.append(" -> ".join(stack[stack.index(node):] + [node]))
            return
        if node in done:
            return
        done.add(node)
        for nxt in sorted(graph[node]):
            visit(nxt, stack + [node], done)

    done: set[str] = set()
    for module in sorted(graph):
        visit(module, [], done)
    assert not cycles, cycles[:5]


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_layers_import_only_downwards():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        mine = _layer(name)
        for target in _imports(name, path, modules):
            theirs = _layer(target)
            if mine is not None and theirs is not None and theirs > mine:
                wrong.append(f"{name} imports {target}")
            if mine is not None and theirs is not None and (LAYERS[mine], LAYERS[theirs]) in APART:
                wrong.append(f"{name} imports {target}")
    assert not wrong, wrong


def test_no_module_is_longer_than_500_lines():
    long = [f"{p.relative_to(PROJECT_ROOT)} ({n} lines)" for p in PACKAGE_DIR.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    assert not long, long


def test_kernels_never_import_the_runner_or_the_publisher():
    """What notebooks import (core, data, measures, reports) never reaches batch/ or publish/: their code
    is not in any notebook's fingerprint, so it must not run in a kernel."""
    from peel_helpers.core.contract import KERNEL_LAYERS

    modules = _modules()
    wrong = [f"{name} imports {target}" for name, path in modules.items() if _layer(name) is not None
             and LAYERS[_layer(name)] in KERNEL_LAYERS for target in _imports(name, path, modules)
             if _layer(target) is not None and LAYERS[_layer(target)] not in KERNEL_LAYERS]
    assert not wrong, wrong


def test_no_function_is_longer_than_60_lines():
    long = []
    for path in PACKAGE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_LINES:
                    long.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, long


def _definitions() -> list[tuple[str, Path]]:
    out = []
    for path in PACKAGE_DIR.rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                out.append((node.name, path))
    return out


def test_every_public_function_is_used():
    """A public function or class that no module, notebook, benchmark or entry point uses is dead code
    (tests do not count: a function only tests call is not part of what the project does)."""
    texts = {p: p.read_text(encoding="utf-8") for p in PACKAGE_DIR.rglob("*.py")}
    texts |= {p: p.read_text(encoding="utf-8") for p in NOTEBOOKS_DIR.glob("*.ipynb")}
    texts |= {p: p.read_text(encoding="utf-8") for p in (PROJECT_ROOT / "bench").glob("*.py")}
    texts[PROJECT_ROOT / "pyproject.toml"] = (PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    unused = []
    for name, home in _definitions():
        pattern = re.compile(rf"\b{re.escape(name)}\b")
        uses = sum(len(pattern.findall(text)) for path, text in texts.items() if path != home)
        uses += len(pattern.findall(texts[home])) - 1     # uses in its own module beyond the definition
        if uses == 0:
            unused.append(f"{home.relative_to(PROJECT_ROOT)}: {name}")
    assert not unused, unused


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_is_a_subpackage_with_a_docstring(layer):
    init = PACKAGE_DIR / layer / "__init__.py"
    assert init.is_file() and ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
