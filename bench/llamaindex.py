"""Side by side with LlamaIndex on SciFact: same model, corpus, chunk size and FAISS flat index.

LlamaIndex lives in its own venv (.rag/bench/llamaindex-venv, made on first use; torch is
installed into it first, pinned, or pip pulls CUDA). Its run writes document rankings to a
JSON file, and both sides are scored here by eval.metrics, one implementation. Both sides index
the SciFact sub-corpus of the indexing section in the same `make bench` run, so the ratios come
from one run; RAG_BENCH_LLAMAINDEX=cached reuses the last LlamaIndex result instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import ROOT, WORK, SciFactSubset, scifact_subset
from bench.indexing import subset_index
from eval.metrics import mean_scores, percentile, score_ranking
from eval.retrieval import evaluate_retrieval
from index.embedding import DEFAULT_EMBEDDER, minilm_path
from index.store import IndexStore
from rag.retrieval import get_retriever

VENV = WORK / "llamaindex-venv"
RESULT = WORK / "llamaindex-scifact.json"
PACKAGES = ["llama-index-core", "llama-index-embeddings-huggingface", "llama-index-vector-stores-faiss", "faiss-cpu"]


def _venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    check = subprocess.run([str(python), "-c", "import llama_index.vector_stores.faiss"], capture_output=True)
    if check.returncode:
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "torch==2.13.0"], check=True)
        subprocess.run([*pip, *PACKAGES], check=True)
    return python


def _llamaindex_run(subset: SciFactSubset) -> dict[str, Any]:
    if RESULT.exists() and os.environ.get("RAG_BENCH_LLAMAINDEX") == "cached":
        cached: dict[str, Any] = json.loads(RESULT.read_text("utf-8"))
        cached["cached"] = True
        return cached
    python = _venv()
    tmp = RESULT.with_suffix(".tmp")
    worker = ROOT / "bench" / "llamaindex_worker.py"
    args = [str(subset.corpus), str(subset.queries_file), str(minilm_path()), str(tmp)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    subprocess.run([str(python), str(worker), *args], check=True, env=env, cwd=WORK)
    os.replace(tmp, RESULT)
    result: dict[str, Any] = json.loads(RESULT.read_text("utf-8"))
    result["cached"] = False
    return result


def _ours(name: str) -> dict[str, Any] | None:
    """The indexing section's fresh sub-corpus build with embedder `name` in this run, if it ran."""
    record = WORK / f"indexing-{name}.json"
    if not record.exists() or not subset_index(name).exists():
        return None
    built: dict[str, Any] = json.loads(record.read_text("utf-8"))
    return built


def _row(label: str, seconds: float, documents: int, chunks: int, p50: float, p95: float, scores: Any) -> str:
    return (
        f"| {label} | {seconds:.1f} | {chunks} | {documents / seconds:.1f} | {chunks / seconds:.1f} | "
        f"{p50:.1f} | {p95:.1f} | {scores['nDCG@10']:.3f} | {scores['Recall@10']:.3f} |"
    )


def run() -> str:
    subset = scifact_subset()
    builds = {name: _ours(name) for name in (DEFAULT_EMBEDDER, "minilm")}
    if builds[DEFAULT_EMBEDDER] is None:
        first = "Run the indexing section first (`python -m bench indexing llamaindex`)."
        return f"## Side by side with LlamaIndex (SciFact)\n\n{first}\n"
    theirs = _llamaindex_run(subset)
    queries, qrels, hits = subset.queries, subset.qrels, int(theirs["hits"])
    their_scores = mean_scores(score_ranking(theirs["rankings"].get(q, []), qrels[q]) for q in queries)
    lat = theirs["latencies_ms"]
    their_rate = theirs["chunks"] / theirs["index_seconds"]
    header = "| | index s | chunks | docs/s | chunks/s | query p50 ms | query p95 ms | nDCG@10 | Recall@10 |"
    rows = [
        header,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        _row(
            f"LlamaIndex {theirs['versions']['llama-index-core']} (dense, torch)",
            theirs["index_seconds"],
            theirs["documents"],
            theirs["chunks"],
            percentile(lat, 0.5),
            percentile(lat, 0.95),
            their_scores,
        ),
    ]
    ratios = []
    for name, built in builds.items():
        if built is None:
            continue
        store = IndexStore.open(subset_index(name))
        runtime = "ONNX int8, default" if name == DEFAULT_EMBEDDER else "torch"
        for kind in ("dense", "hybrid") if name == DEFAULT_EMBEDDER else ("dense",):
            r = evaluate_retrieval(get_retriever(kind, store), queries, qrels, hits=hits, depth=1)
            label = f"rag-chat, {kind} ({runtime})"
            rows.append(_row(label, built["seconds"], built["documents"], built["chunks"], r.p50_ms, r.p95_ms, r.mean))
        per_chunk = (built["chunks"] / built["seconds"]) / their_rate
        per_doc = theirs["index_seconds"] / built["seconds"]
        ratios.append(f"{runtime}: **{per_chunk:.2f}x** per chunk, {per_doc:.2f}x per document")
    when = f"cached result of a run on {theirs['date']}" if theirs.get("cached") else f"run now ({theirs['date']})"
    versions = ", ".join(f"{k} {v}" for k, v in theirs["versions"].items())
    return "\n".join(
        [
            "## Side by side with LlamaIndex (SciFact)",
            "",
            "Same model (all-MiniLM-L6-v2 from the local package, normalized), same corpus (the indexing "
            f"section's SciFact sub-corpus of {subset.documents:,} abstracts, title in the metadata; "
            f"LlamaIndex read {theirs['documents']:,}), chunks of 200 tiktoken tokens with 40 overlapping "
            "(LlamaIndex's SentenceSplitter, which cuts more chunks than our chunker from the same text), "
            "FAISS IndexFlatIP, one thread per query on both sides, "
            f"{hits} chunk hits per query collapsed to documents, the sub-corpus's {len(queries)} train "
            "queries scored by our eval.metrics for both. Index time is load + chunk + embed + write from an "
            "empty cache, model load excluded; ours are the indexing section's fresh builds in this run. "
            "LlamaIndex's default HuggingFace embedding runs torch; ours by default runs the same weights "
            "exported to ONNX and quantized to int8.",
            "",
            *rows,
            "",
            "Indexing throughput, ours over LlamaIndex's (per chunk: chunks/s over chunks/s; per document: "
            "its seconds over ours on the same documents): " + "; ".join(ratios) + ".",
            "",
            f"LlamaIndex numbers: {when}; {versions}. `RAG_BENCH_LLAMAINDEX=cached` reuses the last "
            "LlamaIndex result (.rag/bench/llamaindex-scifact.json) instead of indexing again.",
        ]
    )
