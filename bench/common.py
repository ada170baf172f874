"""Shared helpers for benchmarks: data paths, a cached SciFact index, a SciFact sub-corpus, machine details."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("RAG_SHARED", ROOT.parent / "shared"))
WORK = ROOT / ".rag" / "bench"  # cached indexes; never committed
SCIFACT = SHARED / "data" / "scifact"
# Side-by-side builds (torch, ONNX, LlamaIndex) run on a sub-corpus: torch and LlamaIndex embed about
# 25-35 chunks/s here, so all 11,206 chunks would take 6-8 minutes a build each.
SUBSET_DOCS = int(os.environ.get("RAG_BENCH_SCIFACT_DOCS", "600"))
SUBSET_QUERIES = 200


@dataclass(frozen=True)
class SciFactSubset:
    corpus: Path  # BEIR corpus.jsonl of the chosen abstracts
    queries_file: Path  # the chosen train queries, BEIR queries.jsonl
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    documents: int


def scifact_index(embedder: str | None = None) -> Path:
    """The SciFact corpus indexed once with the default settings (and embedder), reused across runs."""
    from index.build import build_index
    from index.embedding import DEFAULT_EMBEDDER

    embedder = embedder or DEFAULT_EMBEDDER
    out = WORK / f"scifact-{embedder}"
    build_index(SHARED / "data" / "scifact" / "corpus.jsonl", out, embedder=embedder)
    return out


def scifact_subset(docs: int = SUBSET_DOCS, n_queries: int = SUBSET_QUERIES) -> SciFactSubset:
    """A seeded sub-corpus: every abstract relevant to `n_queries` train queries, then random others
    up to `docs`. Retrieval in it is easier than in the whole corpus, but the same for every system."""
    from eval.beir import load_qrels, load_queries

    lines = [line for line in (SCIFACT / "corpus.jsonl").read_text("utf-8").splitlines() if line.strip()]
    ids = [str(json.loads(line)["_id"]) for line in lines]
    queries, qrels = load_queries(SCIFACT / "queries_train.jsonl"), load_qrels(SCIFACT / "qrels" / "train.tsv")
    judged = sorted(q for q in queries if any(g > 0 for g in qrels.get(q, {}).values()))
    rng = random.Random(0)
    chosen = judged if docs >= len(ids) else rng.sample(judged, min(n_queries, len(judged)))
    keep = {d for q in chosen for d, g in qrels[q].items() if g > 0} & set(ids)
    others = [i for i in ids if i not in keep]
    keep |= set(rng.sample(others, max(0, min(len(others), docs - len(keep)))))
    folder = WORK / f"scifact-subset-{len(keep)}"
    folder.mkdir(parents=True, exist_ok=True)
    corpus, queries_file = folder / "corpus.jsonl", folder / "queries.jsonl"
    _write_if_changed(corpus, "".join(f"{line}\n" for line, i in zip(lines, ids) if i in keep))
    _write_if_changed(queries_file, "".join(json.dumps({"_id": q, "text": queries[q]}) + "\n" for q in chosen))
    return SciFactSubset(
        corpus, queries_file, {q: queries[q] for q in chosen}, {q: qrels[q] for q in chosen}, len(keep)
    )


def _write_if_changed(path: Path, text: str) -> None:
    # An unchanged file keeps its timestamp, so indexes built from it stay current.
    if not path.exists() or path.read_text("utf-8") != text:
        path.write_text(text, "utf-8")


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
