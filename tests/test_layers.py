"""Layers import only those below them: index <- rag <- (ui, serve, eval) <- cli; bench sits on top, beside cli.

`cli` is the composition root: it imports the subcommand modules of every layer with plain imports
(so this test sees those edges), and nothing imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "index": {"rag", "ui", "eval", "cli"},
    "rag": {"ui", "eval", "cli"},
    "eval": {"ui", "cli"},
    "ui": {"eval", "cli"},
    "serve": {"ui", "eval", "cli"},
    "bench": {"cli"},
    "cli": {"bench"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_nothing_above_it(layer: str) -> None:
    bad = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[layer])
        for path in (ROOT / layer).rglob("*.py")
    }
    assert {k: v for k, v in bad.items() if v} == {}


def test_nothing_imports_cli() -> None:
    importers = {
        str(path.relative_to(ROOT))
        for layer in ("index", "rag", "ui", "eval", "serve", "bench")
        for path in (ROOT / layer).rglob("*.py")
        if "cli" in imported_packages(path)
    }
    assert importers == set()


def test_cli_imports_every_layer_it_wires_in_plain_sight() -> None:
    """No importlib: the subcommands' modules are ordinary imports of the `cli` package."""
    found = set().union(*(imported_packages(path) for path in (ROOT / "cli").rglob("*.py")))
    assert {"index", "rag", "ui", "eval", "serve"} <= found and "importlib" not in found


def test_importing_rag_loads_no_model() -> None:
    import subprocess
    import sys

    heavy = "('torch', 'llama_cpp', 'faiss')"
    code = f"import rag, rag.answer, index, sys; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_importing_cli_loads_no_model() -> None:
    """Building the parser imports every subcommand's module; their heavy imports wait for run()."""
    import subprocess
    import sys

    heavy = "('torch', 'llama_cpp', 'faiss', 'gradio', 'matplotlib', 'sentence_transformers', 'onnxruntime')"
    code = f"import cli, sys; cli.build_parser(); print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
