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
from index.embedding import minilm_path
from index.store import IndexStore
from rag.retrieval import get_retriever

VENV = WORK / "llamaindex-venv"
RESULT = WORK / "llamaindex-scifact.json"
OURS = WORK / "indexing-minilm.json"  # written by the indexing section's fresh sub-corpus build
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


def run() -> str:
    subset = scifact_subset()
    if not OURS.exists() or not subset_index("minilm").exists():
        first = "Run the indexing section first (`python -m bench indexing llamaindex`)."
        return f"## Side by side with LlamaIndex (SciFact)\n\n{first}\n"
    theirs = _llamaindex_run(subset)
    queries, qrels = subset.queries, subset.qrels
    their_scores = mean_scores(score_ranking(theirs["rankings"].get(q, []), qrels[q]) for q in queries)
    store = IndexStore.open(subset_index("minilm"))
    hits = int(theirs["hits"])
    ours = {
        name: evaluate_retrieval(get_retriever(name, store), queries, qrels, hits=hits, depth=1)
        for name in ("dense", "hybrid")
    }
    built = json.loads(OURS.read_text("utf-8"))
    our_index = f"{built['seconds']:.0f}"
    ratio = f"{theirs['index_seconds'] / built['seconds']:.2f}x"
    lat = theirs["latencies_ms"]
    p50, p95 = percentile(lat, 0.5), percentile(lat, 0.95)
    rows = [
        "| | index SciFact (s) | chunks | query p50 ms | query p95 ms | nDCG@10 | Recall@10 |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| LlamaIndex {theirs['versions']['llama-index-core']} (dense) | {theirs['index_seconds']:.0f} | "
        f"{theirs['chunks']} | {p50:.1f} | {p95:.1f} | {their_scores['nDCG@10']:.3f} | "
        f"{their_scores['Recall@10']:.3f} |",
    ]
    for name, result in ours.items():
        rows.append(
            f"| rag-chat, {name} | {our_index} | {len(store)} | {result.p50_ms:.1f} | {result.p95_ms:.1f} | "
            f"{result.mean['nDCG@10']:.3f} | {result.mean['Recall@10']:.3f} |"
        )
    when = f"cached result of a run on {theirs['date']}" if theirs.get("cached") else f"run now ({theirs['date']})"
    versions = ", ".join(f"{k} {v}" for k, v in theirs["versions"].items())
    return "\n".join(
        [
            "## Side by side with LlamaIndex (SciFact)",
            "",
            "Same model (all-MiniLM-L6-v2 from the local package, normalized), same corpus (the indexing "
            f"section's SciFact sub-corpus of {subset.documents:,} abstracts, title in the metadata; "
            f"LlamaIndex read {theirs['documents']:,}), chunks of 200 tiktoken tokens with 40 overlapping "
            "(LlamaIndex's SentenceSplitter), FAISS IndexFlatIP, one thread per query on both sides, "
            f"{hits} chunk hits per query collapsed to documents, the sub-corpus's {len(queries)} train "
            "queries scored by our eval.metrics for both. Index time is load + chunk + embed + write from an "
            "empty cache, model load excluded; ours is the indexing section's fresh torch build of this run.",
            "",
            *rows,
            "",
            f"LlamaIndex indexing time / ours: {ratio}; dense query latency p50 ratio (LlamaIndex / ours): "
            f"{p50 / ours['dense'].p50_ms:.2f}x.",
            "",
            f"LlamaIndex numbers: {when}; {versions}. `RAG_BENCH_LLAMAINDEX=cached` reuses the last "
            "LlamaIndex result (.rag/bench/llamaindex-scifact.json) instead of indexing again.",
        ]
    )
