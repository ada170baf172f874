"""Process-wide switches: made by entry points through configure_process, never by a library call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from index.runtime import configure_process, openblas_hint, serving

ROOT = Path(__file__).resolve().parents[2]


def cpu_flags() -> set[str]:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return set()
    return set(next((line for line in lines if line.startswith("flags")), "").split())


def test_openblas_kernel_named_only_on_avx512_and_never_over_a_given_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    openblas_hint()
    assert os.environ.get("OPENBLAS_CORETYPE") == ("SkylakeX" if {"avx512f", "avx512bw"} <= cpu_flags() else None)
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    openblas_hint()
    assert os.environ["OPENBLAS_CORETYPE"] == "Haswell"


def test_loading_faiss_changes_no_process_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from index.store import _faiss

    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    _faiss()
    assert "OPENBLAS_CORETYPE" not in os.environ


def test_serving_before_faiss_and_torch_load_pins_every_thread() -> None:
    """Set before the libraries load, one thread holds for threads started later too (gradio's workers)."""
    code = (
        "import json, threading\n"
        "from index.runtime import configure_process\n"
        "configure_process(serving=True)\n"
        "import faiss\n"
        "seen = {}\n"
        "worker = threading.Thread(target=lambda: seen.update(worker=faiss.omp_get_max_threads()))\n"
        "worker.start(); worker.join()\n"
        "print(json.dumps({'main': faiss.omp_get_max_threads(), **seen}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    assert json.loads(done.stdout) == {"main": 1, "worker": 1}


def test_batch_after_serving_puts_back_what_serving_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    import faiss

    before = faiss.omp_get_max_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    try:
        configure_process(serving=True)
        assert serving() and os.environ["OMP_NUM_THREADS"] == "1" and faiss.omp_get_max_threads() == 1
    finally:
        configure_process(serving=False)
    assert not serving() and os.environ["OMP_NUM_THREADS"] == "3" and faiss.omp_get_max_threads() == before
