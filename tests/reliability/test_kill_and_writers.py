"""`kill -9` at three moments of a real `rag index` run, and two writers at once (docs/reliability.md).

Each run is the real command line with the real MiniLM embedder, so embedding takes long enough to be
caught in the middle. The moment of each kill is read off the run itself (its progress bars on stderr
and its files), not guessed from timings.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from index.store import IndexStore

pytestmark = [pytest.mark.reliability, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 240


def make_docs(folder: Path, start: int, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        lines = [
            f"Station {i} logbook, entry {j}: the keeper saw {j + i} ships and {i * j % 17} gulls." for j in range(40)
        ]
        (folder / f"log{i:04d}.txt").write_text(f"Logbook {i}\n\n" + " ".join(lines), encoding="utf-8")


def index_cmd(src: Path, idx: Path) -> list[str]:
    return [sys.executable, "-m", "cli", "index", str(src), "--index", str(idx), "--embedder", "minilm"]


class Run:
    """A `rag index` process whose stderr (its progress bars) is read as it comes."""

    def __init__(self, src: Path, idx: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            index_cmd(src, idx), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.err = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        while chunk := self.proc.stderr.read1(4096):  # type: ignore[attr-defined]
            self.err += chunk.decode("utf-8", "replace")

    def kill_when(self, moment: Callable[[], bool]) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not moment():
            assert self.proc.poll() is None, f"the run ended before the moment came:\n{self.err[-2000:]}"
            assert time.monotonic() < deadline, "the moment never came"
            time.sleep(0.005)
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def embedded_so_far(self) -> int:
        done = re.findall(r"embed:\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)", self.err)
        return int(done[-1][0]) if done else 0


def finish(src: Path, idx: Path) -> str:
    done = subprocess.run(index_cmd(src, idx), cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE_S)
    assert done.returncode == 0, done.stderr
    return done.stdout


def cached(summary: str) -> tuple[int, int]:
    """(embedded, reused) chunk counts from the run's summary: reused ones came from the old version or the cache."""
    match = re.search(r"embedded ([\d,]+) chunks, reused ([\d,]+) unchanged or cached", summary)
    assert match, summary
    return int(match[1].replace(",", "")), int(match[2].replace(",", ""))


@pytest.fixture()
def grown(tmp_path: Path) -> tuple[Path, Path, str]:
    """An index of 2 documents, then 100 more added to the folder: the next run has real embedding to do."""
    src, idx = tmp_path / "src", tmp_path / "idx"
    make_docs(src, 0, 2)
    finish(src, idx)
    version = IndexStore.open(idx).version
    make_docs(src, 2, 100)
    return src, idx, version


def still_the_old_index(idx: Path, version: str) -> None:
    store = IndexStore.open(idx)
    assert store.version == version and len(store.manifest.documents) == 2
    assert len(store.chunks) == len(store.vectors())


def test_kill_while_loading_then_while_embedding_then_while_writing(grown: tuple[Path, Path, str]) -> None:
    src, idx, old = grown

    loading = Run(src, idx)
    loading.kill_when(lambda: " load:" in loading.err)
    still_the_old_index(idx, old)

    embedding = Run(src, idx)
    embedding.kill_when(lambda: embedding.embedded_so_far() >= 64)
    still_the_old_index(idx, old)
    killed_after = embedding.embedded_so_far()

    writing = Run(src, idx)
    writing.kill_when(lambda: any(p.name.startswith(".tmp-") for p in idx.iterdir()))
    still_the_old_index(idx, old)
    assert any(p.name.startswith(".tmp-") for p in idx.iterdir()), "killed while the new version was written"

    summary = finish(src, idx)
    embedded, from_cache = cached(summary)
    assert embedded == 0, "every vector was embedded (and cached) by the run killed while writing"
    assert from_cache >= killed_after
    store = IndexStore.open(idx)
    assert len(store.manifest.documents) == 102 and len(store.chunks) == len(store.vectors())
    assert not [p.name for p in idx.iterdir() if p.name.startswith((".tmp-", ".current-"))]


def test_a_run_killed_mid_embedding_leaves_its_vectors_for_the_next(grown: tuple[Path, Path, str]) -> None:
    src, idx, old = grown
    run = Run(src, idx)
    run.kill_when(lambda: run.embedded_so_far() >= 96)
    still_the_old_index(idx, old)
    embedded, from_cache = cached(finish(src, idx))
    assert from_cache >= 96 and embedded + from_cache == len(IndexStore.open(idx).chunks)


def test_two_writers_at_once_the_second_is_told_to_wait(grown: tuple[Path, Path, str]) -> None:
    src, idx, old = grown
    first = Run(src, idx)
    try:
        deadline = time.monotonic() + DEADLINE_S
        while " load:" not in first.err and " embed:" not in first.err:
            assert first.proc.poll() is None and time.monotonic() < deadline, first.err[-2000:]
            time.sleep(0.01)
        second = subprocess.run(index_cmd(src, idx), cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE_S)
        assert second.returncode == 2
        lines = [line for line in second.stderr.splitlines() if line.strip()]
        assert lines[-1].startswith("error: Another indexing run is writing to") and "wait for it" in lines[-1]
        assert "Traceback" not in second.stderr
        still_the_old_index(idx, old)
        assert first.proc.wait(timeout=DEADLINE_S) == 0, first.err[-2000:]
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
    assert len(IndexStore.open(idx).manifest.documents) == 102
