"""Shared helpers for benchmarks: data paths, a cached SciFact index, machine details."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("RAG_SHARED", ROOT.parent / "shared"))
WORK = ROOT / ".rag" / "bench"  # cached indexes; never committed


def scifact_index(embedder: str = "minilm") -> Path:
    """The SciFact corpus indexed once with the default settings, reused across runs."""
    from index.build import build_index

    out = WORK / f"scifact-{embedder}"
    build_index(SHARED / "data" / "scifact" / "corpus.jsonl", out, embedder=embedder)
    return out


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for dist in ("torch", "sentence-transformers", "faiss-cpu", "bm25s", "numpy", "llama-cpp-python"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{dist} {metadata.version(dist)}")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout
    return (
        f"- Machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}\n"
        f"- Versions: {', '.join(versions)}\n- Commit: {commit.strip() or 'uncommitted'}"
    )
