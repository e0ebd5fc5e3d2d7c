"""The layer order of `bench`, written once: a module imports only from its own layer or
the layers below it. Every import counts: at module level, inside functions (lazy), under
`TYPE_CHECKING`, and lazy "bench.x.y:attr" / "bench.x.y" string tables.

A module belongs to the longest prefix listed in `LAYERS` (the package `bench` itself only
by its exact name); whatever its package, a module named `cli`, `cli_*` or `__main__` is in
the `cli` layer (each package's command line sits
on top of everything, the way `bench.cli` does).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "bench"

# lowest first
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # what every layer shares: result records, errors, units, optional-package checks
    (
        "records",
        (
            "bench",
            "bench.errors",
            "bench.units",
            "bench.records",
            "bench.extras",
            "bench.signals",
            "bench.energy.records",
        ),
    ),
    # what a person writes (validated once at load) and the catalogs it names
    (
        "config",
        (
            "bench.config",
            "bench.catalog",
            "bench.hardware",
            "bench.energy.config",
            "bench.workloads.spec",
            "bench.workloads.suite",
            "bench.workloads.records",
            "bench.cost.assumptions",
            "bench.models",
        ),
    ),
    # the Report (typed end to end), run directories and a sweep's manifest written and
    # read back, the store that indexes them, and the text every output shares
    (
        "report",
        (
            "bench.report",
            "bench.sweep.manifest",
            "bench.store",
            "bench.energy.text",
            "bench.render.terminal",
        ),
    ),
    # the parts a run is made of, each testable alone
    (
        "parts",
        (
            "bench.engines",
            "bench.loadgen",
            "bench.metrics",
            "bench.workloads",
            "bench.energy",
            "bench.synth",
            "bench.nvml",
            "bench.cluster",
            "bench.cost.formulas",
            "bench.cost.breakdown",
        ),
    ),
    # one run, start to finish
    ("runner", ("bench.runner", "bench.run_load", "bench.run_dir")),
    # many runs, or runs judged: sweeps, acceptance, fleets, client calibration
    ("drivers", ("bench.sweep", "bench.accept", "bench.fleet", "bench.calibrate")),
    # stored results read back: prices, comparisons, reports, data frames
    ("results", ("bench.cost", "bench.analysis", "bench.render")),
    ("cli", ("bench.cli", "bench.__main__")),
)
CLI_NAME = re.compile(r"^(cli|cli_\w+|__main__)$")

_MODULE_PATH = re.compile(r"^bench(\.\w+)+(:\w+)?$")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    """Index in LAYERS of the module's layer (cli names first, then the longest prefix)."""
    if CLI_NAME.match(module.rsplit(".", 1)[-1]):
        return len(LAYERS) - 1
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            inside = module.startswith(prefix + ".") and prefix != "bench"
            if (module == prefix or inside) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    if best is None:
        raise LookupError(module)
    return best


def resolve(target: str) -> str | None:
    """The bench module an import names: `bench.a.b` when it is a module, else its package
    (`from bench.a import name`)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def imported(path: Path) -> Iterator[tuple[str, int]]:
    """(bench module, line) for every import and lazy module-path string in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and _MODULE_PATH.match(node.value)
        ):
            names = [node.value.split(":")[0]]
        for name in names:
            if name == "bench" or name.startswith("bench."):
                found = resolve(name)
                if found is not None:
                    yield found, node.lineno


def upward_imports() -> dict[tuple[str, str], list[str]]:
    """Every import of a higher layer, keyed by (importer, imported), with file:line."""
    found: dict[tuple[str, str], list[str]] = {}
    for module, path in MODULES.items():
        mine = layer_of(module)
        for target, line in imported(path):
            if layer_of(target) > mine:
                where = f"{path.relative_to(ROOT)}:{line}"
                found.setdefault((module, target), [])
                if where not in found[module, target]:
                    found[module, target].append(where)
    return found


def test_every_module_has_a_layer() -> None:
    unplaced = []
    for module in MODULES:
        try:
            layer_of(module)
        except LookupError:
            unplaced.append(module)
    assert unplaced == [], "place these modules in LAYERS (tests/unit/test_layers.py)"


def test_no_module_imports_a_higher_layer() -> None:
    names = [name for name, _ in LAYERS]
    violations = upward_imports()
    lines = []
    for (src, dst), where in sorted(violations.items()):
        layers = f"({names[layer_of(src)]} imports {names[layer_of(dst)]})"
        lines.append(f"{', '.join(where)}: {src} imports {dst} {layers}")
    assert lines == [], "layer order " + " -> ".join(names) + ":\n" + "\n".join(lines)


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("bench.records", "records"),
        ("bench.workloads.spec", "config"),
        ("bench.workloads.text", "parts"),
        ("bench.runner", "runner"),
        ("bench.sweep.run", "drivers"),
        ("bench.sweep.cli", "cli"),
        ("bench.cli_run", "cli"),
    ],
)
def test_layer_of_takes_cli_names_then_the_longest_prefix(module: str, layer: str) -> None:
    assert LAYERS[layer_of(module)][0] == layer


def test_a_higher_import_in_a_lower_module_is_found(tmp_path: Path) -> None:
    """The walk sees lazy, TYPE_CHECKING and string-table imports, not docstrings."""
    source = tmp_path / "m.py"
    source.write_text(
        '"""Mentions bench.runner in prose."""\n'
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from bench.runner import RunPlan\n"
        "def f():\n"
        "    from bench.sweep import run\n"
        'TABLE = {"x": "bench.cluster.multinode:RayLaunch"}\n'
    )
    assert sorted(imported(source)) == [
        ("bench.cluster.multinode", 7),
        ("bench.runner", 4),
        ("bench.sweep.run", 6),
    ]
