"""Huge inputs: a warning with the embedding time before any embedding starts, and a per-file cap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from index.build import build_index
from index.chunking import ChunkerSettings
from index.embedding import HashEmbedder

pytestmark = pytest.mark.reliability
ROOT = Path(__file__).resolve().parents[2]


def test_a_file_with_many_chunks_is_announced_before_embedding(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "long.txt").write_text(" ".join(f"word{i}" for i in range(6000)), "utf-8")  # one line, no sentence ends
    (src / "short.txt").write_text("A short note.\n", "utf-8")
    events: list[str] = []

    def progress(stage: str, done: int, total: int) -> None:
        events.append(stage)

    report = build_index(
        src,
        tmp_path / "idx",
        embedder=HashEmbedder(64),
        settings=ChunkerSettings(64, 8),
        large_file_chunks=50,
        on_warning=lambda message: events.append(f"warning: {message}"),
        progress=progress,
    )
    warnings = [e for e in events if e.startswith("warning:")]
    assert len(warnings) == 1 and "long.txt yields" in warnings[0] and "minutes" in warnings[0]
    assert events.index(warnings[0]) < events.index("embed"), "said before the wait, not after"
    assert report.warnings == (warnings[0].removeprefix("warning: "),)


def test_the_size_cap_skips_a_file_with_its_reason_and_max_file_mb_raises_it(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.txt").write_text("x " * 600_000, "utf-8")  # 1.2 MB
    (src / "small.txt").write_text("A short note.\n", "utf-8")
    base = [sys.executable, "-m", "cli", "index", str(src), "--embedder", "hash-64", "--quiet"]

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *extra], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)

    capped = run("--index", str(tmp_path / "a"), "--max-file-mb", "1")
    assert capped.returncode == 0 and "skipped big.txt: file is 1,200,000 bytes, over the 1,000,000-byte limit" in (
        capped.stdout
    ), capped.stdout
    raised = run("--index", str(tmp_path / "b"), "--max-file-mb", "2", "--warn-chunks", "10")
    assert raised.returncode == 0 and "skipped big.txt" not in raised.stdout
    assert "warning: big.txt yields" in raised.stderr and "warning: big.txt yields" in raised.stdout


def test_chunking_one_huge_one_line_file_shows_its_own_progress(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "one-line.txt").write_text(" ".join(f"w{i}" for i in range(400_000)), "utf-8")  # 2.7 MB, no line break
    events: list[tuple[str, int, int]] = []

    def progress(stage: str, done: int, total: int) -> None:
        events.append((stage, done, total))

    build_index(src, tmp_path / "idx", embedder=HashEmbedder(64), progress=progress, large_file_chunks=0)
    chunk = [(done, total) for stage, done, total in events if stage == "chunk"]
    assert len(chunk) >= 5, "the bar moves while the one line is cut, not only at its end"
    assert [d for d, _ in chunk] == sorted(d for d, _ in chunk) and chunk[-1][0] == chunk[-1][1]
    stages = [stage for stage, _, _ in events]
    assert stages.index("chunk") < stages.index("load") < stages.index("embed")

    shown = subprocess.run(
        [sys.executable, "-m", "cli", "index", str(src), "--index", str(tmp_path / "cli"), "--embedder", "hash-64"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert shown.returncode == 0 and "chunk: 100%" in shown.stderr and "M chars" in shown.stderr, shown.stderr
