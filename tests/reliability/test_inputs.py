"""`rag ask` checks what the user typed before it loads a model: one `error:` line, at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.reliability
ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import sys, cli\n"
    "code = cli.main(sys.argv[1:])\n"
    "print('loaded:', sorted(m for m in ('torch', 'llama_cpp', 'sentence_transformers') if m in sys.modules))\n"
    "sys.exit(code)\n"
)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "The question is empty"),
        (["ask", "Where?", "--top-k", "0"], "top_k=0 is invalid"),
        (["ask", "Where?", "--top-k", "-1"], "top_k=-1 is invalid"),
        (["ask", "Where?", "--index", "/nonexistent/index"], "No index at /nonexistent/index"),
        (["ask", "Where?", "--backend", "nope"], "backend='nope' is invalid"),
    ],
)
def test_bad_input_fails_before_any_model_loads(args: list[str], message: str, tmp_path: Path) -> None:
    if "--index" not in args:
        args = [*args, "--index", str(tmp_path / "no-index")]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(errors) == 1 and message in errors[0], done.stderr
    assert "loaded: []" in done.stdout
