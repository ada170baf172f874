from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_rag_index_prints_a_summary(tmp_path: Path, capsys: object) -> None:
    src = tmp_path / "docs"
    src.mkdir()
    (src / "a.md").write_text("# Alpha\n\nSome text about alpha particles.", encoding="utf-8")
    (src / "b.txt").write_text("", encoding="utf-8")
    code = main(["index", str(src), "--index", str(tmp_path / "idx"), "--embedder", "hash", "--quiet"])
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert code == 0
    assert "documents: 1   chunks: 1" in out
    assert "skipped b.txt: empty file" in out
    assert "chunks/s" in out


def test_python_m_index_reports_errors_cleanly(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "index", str(tmp_path / "nope"), "--index", str(tmp_path / "i"), "--embedder", "hash"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: Nothing to index at")
    assert "Traceback" not in proc.stderr
