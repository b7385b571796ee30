"""Imports point one way: a module never imports from a higher layer (top-level or inside a function).

Layers, lowest first. The decision layer (store, recommend, diagnose, regress, report) and everything
below it import no torch, so saved results can be read, decided on and rendered anywhere.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dltune"

LAYERS: list[set[str]] = [
    {"errors", "units", "version"},
    {"model"},  # the typed data model
    {"interval", "stats", "sequential", "race", "search", "tune_model", "node"},  # pure algorithms
    {"store", "recommend", "diagnose", "regress", "report"},  # decisions and files: no torch
    {"hardware", "engine"},  # the machine and the loader engine
    {"bench"},  # measuring
    {"check", "pyproject"},  # library orchestration, and the project's check settings
    {"cli", "__main__"},  # commands
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}
NO_TORCH_BELOW = RANK["store"]


def top(module: str) -> str:
    """'dltune.bench.trial' -> 'bench'."""
    return module.split(".")[1]


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_layer(path: Path) -> None:
    rel = path.relative_to(PACKAGE)
    name = rel.parts[0].removesuffix(".py")
    assert name in RANK, f"{rel}: add its package to LAYERS in this test"
    mine = RANK[name]
    for line, module in imports(path):
        if module.startswith("dltune."):
            other = top(module)
            assert RANK[other] <= mine, f"{rel}:{line} imports {module} (layer {other} is above {name})"
        if mine <= NO_TORCH_BELOW:
            assert module.split(".")[0] != "torch", f"{rel}:{line} imports torch in the torch-free layers"


def test_commands_never_import_each_other() -> None:
    for path in (PACKAGE / "cli").glob("*_cmd.py"):
        for line, module in imports(path):
            assert not module.endswith("_cmd"), f"{path.name}:{line} imports the command module {module}"


def test_the_layer_rule_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from dltune.bench.trial import run_trial\n    import torch\n")
    assert (2, "dltune.bench.trial") in imports(bad) and (3, "torch") in imports(bad)


def test_the_measuring_interpreter_loads_no_scipy_or_pandas() -> None:
    """Every trial of a sweep boots a fresh interpreter that imports dltune.bench.child (and a tuning run
    boots two): scipy alone added about 0.6 s to each boot on the development VM, for a coefficient of
    variation. The analysis that needs them runs in the parent."""
    import subprocess
    import sys

    code = (
        "import sys, dltune.bench.child, dltune.bench.trial, dltune.bench.measure, dltune.bench.paired\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'pandas', 'matplotlib'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
