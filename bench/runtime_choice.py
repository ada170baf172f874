"""How the default embedding runtime was chosen: SciFact retrieval quality of the default against torch,
each on its own index of the whole corpus, with paired intervals over all 809 train queries.

Not in the default `make bench` run (torch's full build alone takes ~9 minutes here): run it with
`python -m bench runtime_choice` when the default runtime or its quantization changes.
"""

from __future__ import annotations

import numpy as np

from bench.common import SCIFACT, WORK, scifact_index
from eval.beir import load_qrels, load_queries
from eval.retrieval import RetrievalEval, evaluate_retrieval
from eval.summary import bootstrap_indices, interval
from index.embedding import DEFAULT_EMBEDDER
from index.store import IndexStore
from rag.retrieval import get_retriever

TORCH = "minilm"


def _paired(a: RetrievalEval, b: RetrievalEval, metric: str = "nDCG@10") -> str:
    """Mean per-query difference a - b with a 95% bootstrap interval over queries."""
    diffs = np.array([x.metrics[metric] - y.metrics[metric] for x, y in zip(a.queries, b.queries, strict=True)])
    low, high = interval(diffs[bootstrap_indices(len(diffs))].mean(axis=1))
    return f"{diffs.mean():+.4f} [{low:+.4f}, {high:+.4f}]"


def _quality(queries: dict[str, str], qrels: dict[str, dict[str, int]]) -> tuple[list[str], list[str]]:
    """Every train query through each runtime's own index, each query embedded alone as served."""
    runs: dict[tuple[str, str], RetrievalEval] = {}
    rows = ["| runtime | retriever | nDCG@10 | Recall@10 | Recall@100 | p50 ms incl. query embedding |"]
    rows.append("|---|---|---:|---:|---:|---:|")
    for embedder in (TORCH, DEFAULT_EMBEDDER):
        store = IndexStore.open(scifact_index(embedder))
        for kind in ("dense", "hybrid"):
            r = runs[embedder, kind] = evaluate_retrieval(get_retriever(kind, store), queries, qrels)
            rows.append(
                f"| {store.embedder_name} | {kind} | {r.mean['nDCG@10']:.3f} | {r.mean['Recall@10']:.3f} | "
                f"{r.mean['Recall@100']:.3f} | {r.p50_ms:.1f} |"
            )
            print(f"   {embedder} {kind}: nDCG@10 {r.mean['nDCG@10']:.4f}", flush=True)
    paired = [
        f"- {kind}, {DEFAULT_EMBEDDER} minus torch, per query: nDCG@10 "
        f"{_paired(runs[DEFAULT_EMBEDDER, kind], runs[TORCH, kind])}, Recall@10 "
        f"{_paired(runs[DEFAULT_EMBEDDER, kind], runs[TORCH, kind], 'Recall@10')}"
        for kind in ("dense", "hybrid")
    ]
    return rows, paired


def run() -> str:
    WORK.mkdir(parents=True, exist_ok=True)
    if not (SCIFACT / "corpus.jsonl").exists():
        return f"## Choosing the default runtime\n\nSkipped: SciFact not found at {SCIFACT}.\n"
    queries = load_queries(SCIFACT / "queries_train.jsonl")
    qrels = load_qrels(SCIFACT / "qrels" / "train.tsv")
    rows, paired = _quality(queries, qrels)
    return "\n".join(
        [
            "## Choosing the default runtime (SciFact, run on demand)",
            "",
            f"`python -m bench runtime_choice`. All {len(queries)} train queries against each runtime's own "
            "index of the whole corpus, each query embedded alone as a chat turn does; 150 chunk hits "
            "collapsed to documents. The interval is a 95% bootstrap over queries of the paired per-query "
            "difference: where it reaches zero the runtimes are within noise.",
            "",
            *rows,
            "",
            *paired,
        ]
    )
