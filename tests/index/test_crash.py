"""A build killed with SIGKILL at any moment leaves the previous index loadable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.store import IndexStore

ROOT = Path(__file__).resolve().parents[2]


def make_docs(root: Path, start: int, n: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        body = " ".join(f"Doc {i} line {j} about subject{i % 13} and more words here." for j in range(60))
        (root / f"d{i:04d}.txt").write_text(f"Doc {i}\n\n{body}", encoding="utf-8")


def index_cmd(src: Path, idx: Path) -> list[str]:
    return [sys.executable, "-m", "index", str(src), "--index", str(idx), "--embedder", "hash", "--quiet"]


def run_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.mark.slow
def test_kill_9_mid_build_keeps_previous_version(tmp_path: Path) -> None:
    src, idx = tmp_path / "src", tmp_path / "idx"
    make_docs(src, 0, 3)
    subprocess.run(index_cmd(src, idx), check=True, env=run_env(), capture_output=True)
    old_version = IndexStore.open(idx).version
    make_docs(src, 3, 600)

    t0 = time.perf_counter()
    subprocess.run(index_cmd(src, tmp_path / "probe"), check=True, env=run_env(), capture_output=True)
    full = time.perf_counter() - t0

    # Killed while the new version's files are being written: the surest bad moment.
    proc = subprocess.Popen(index_cmd(src, idx), env=run_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".tmp-") for p in idx.iterdir()) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert any(p.name.startswith(".tmp-") for p in idx.iterdir()), "killed mid-write, a partial version remains"
    assert IndexStore.open(idx).version == old_version

    outcomes = []
    for fraction in (0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95):
        proc = subprocess.Popen(index_cmd(src, idx), env=run_env(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        time.sleep(full * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        store = IndexStore.open(idx)  # must load whatever the moment of the kill
        docs = len(store.manifest.documents)
        assert docs in (3, 603)
        assert len(store.chunks) == len(store.vectors())
        outcomes.append("old" if store.version == old_version else "new")
        if outcomes[-1] == "new":
            break
    assert outcomes[0] == "old", "the first kill must land before the switch for this test to mean anything"

    done = subprocess.run(index_cmd(src, idx), env=run_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    store = IndexStore.open(idx)
    assert len(store.manifest.documents) == 603
    leftovers = [p.name for p in idx.iterdir() if p.name.startswith((".tmp-", ".current-"))]
    assert leftovers == []
    assert [p.name for p in idx.iterdir() if p.name.startswith("v")] == [store.version]
