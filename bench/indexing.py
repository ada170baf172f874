"""Indexing throughput (torch and ONNX Runtime embedders) next to the bare embedder, the int8
embedder's agreement with torch, and the time to re-index after one document changes."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import SCIFACT, SHARED, WORK, SciFactSubset, scifact_subset
from eval.retrieval import evaluate_retrieval
from index.build import build_index
from index.embedding import DEFAULT_EMBEDDER, Vectors, get_embedder
from index.store import IndexStore
from index.types import IndexReport
from rag.retrieval import get_retriever

# The default first: the LlamaIndex section compares with this run's builds of both.
EMBEDDERS = {DEFAULT_EMBEDDER: "ONNX int8 (default)", "minilm": "torch"}


def _bare(embedder: str, texts: list[str]) -> tuple[float, Vectors]:
    """Chunks/s of one `encode` call on every chunk text the pipeline embedded, and the vectors."""
    emb = get_embedder(embedder)
    emb.encode(texts[:32])  # warm-up outside the clock
    t0 = time.perf_counter()
    vectors = emb.encode(texts)
    return len(texts) / (time.perf_counter() - t0), vectors


def _row(name: str, runtime: str, report: IndexReport, bare: float) -> str:
    st = report.stage_seconds
    work = report.seconds - st.get("model", 0.0)
    rate = report.chunks / work
    return (
        f"| {name} | {runtime} | {report.documents} | {report.chunks} | {st['load']:.2f} | {st['chunk']:.2f} | "
        f"{st['embed']:.2f} | {st['write']:.2f} | {work:.1f} | {report.documents / work:.1f} | {rate:.1f} | "
        f"{bare:.1f} | {bare / rate:.2f}x |"
    )


def _fresh(source: Path, embedder: str, keep: Path | None) -> tuple[IndexReport, list[str]]:
    """Build from an empty cache; keep the result (replacing the last run's) when asked."""
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        report = build_index(source, Path(tmp) / "idx", embedder=embedder)
        texts = [c.indexed_text for c in IndexStore.open(Path(tmp) / "idx").chunks]
        if keep is not None:
            shutil.rmtree(keep, ignore_errors=True)
            shutil.move(Path(tmp) / "idx", keep)
    return report, texts


def subset_index(embedder: str) -> Path:
    """Where this run's fresh build of the SciFact sub-corpus is kept (the LlamaIndex section reads it)."""
    return WORK / f"scifact-subset-{embedder}"


def _throughput(subset: SciFactSubset) -> tuple[list[str], dict[str, Vectors], dict[str, float], str]:
    corpora = {"news (reference)": SHARED / "corpus" / "news", "SciFact sub-corpus": subset.corpus}
    rows: list[str] = []
    chunk_vectors: dict[str, Vectors] = {}
    rates: dict[str, float] = {}
    profile = ""
    for embedder, runtime in EMBEDDERS.items():
        get_embedder(embedder)  # load (and export, the first time) outside every clock
        for name, source in corpora.items():
            keep = subset_index(embedder) if source == subset.corpus else None
            report, texts = _fresh(source, embedder, keep)
            rates[f"{name}/{embedder}"], vectors = _bare(embedder, texts)
            rows.append(_row(name, runtime, report, rates[f"{name}/{embedder}"]))
            print(f"   {name} {runtime}: {report.seconds:.0f} s", flush=True)
            if keep is not None and embedder == DEFAULT_EMBEDDER:
                profile = _profile(report, texts, rates[f"{name}/{embedder}"])
            if keep is not None:
                chunk_vectors[embedder] = vectors
                work = report.seconds - report.stage_seconds.get("model", 0.0)
                record = {"seconds": work, "documents": report.documents, "chunks": report.chunks}
                (WORK / f"indexing-{embedder}.json").write_text(json.dumps(record), "utf-8")
    return rows, chunk_vectors, rates, profile


def _agreement(subset: SciFactSubset, vectors: dict[str, Vectors], rates: dict[str, float]) -> list[str]:
    """Cosine of int8 to torch vectors of every SciFact chunk, the speed-up, and retrieval with each."""
    cos = (vectors["minilm"] * vectors[DEFAULT_EMBEDDER]).sum(axis=1)
    lines = ["| embedder | retriever | nDCG@10 | Recall@10 | p50 ms |", "|---|---|---:|---:|---:|"]
    for embedder, runtime in EMBEDDERS.items():
        store = IndexStore.open(subset_index(embedder))
        for retriever in ("dense", "hybrid"):
            r = evaluate_retrieval(get_retriever(retriever, store), subset.queries, subset.qrels, hits=50, depth=1)
            lines.append(
                f"| {runtime} | {retriever} | {r.mean['nDCG@10']:.3f} | {r.mean['Recall@10']:.3f} | {r.p50_ms:.1f} |"
            )
    speedup = rates[f"SciFact sub-corpus/{DEFAULT_EMBEDDER}"] / rates["SciFact sub-corpus/minilm"]
    return [
        f"ONNX int8 against torch on all {len(cos):,} SciFact sub-corpus chunk texts: cosine min **{cos.min():.4f}**, "
        f"median {float(np.median(cos)):.4f}; bare embedder throughput {speedup:.2f}x torch's. Retrieval in the "
        f"sub-corpus on its {len(subset.queries)} train queries (50 chunk hits collapsed to documents; latency "
        "includes embedding the query on one thread):",
        "",
        *lines,
    ]


def _profile(report: IndexReport, texts: list[str], bare: float) -> str:
    """Where a default build's time goes, and the bare encoder's rate on its texts: the limit on this box."""
    from index.onnx_embedding import OnnxEmbedder

    emb = get_embedder(DEFAULT_EMBEDDER)
    if not isinstance(emb, OnnxEmbedder):
        return ""
    t0 = time.perf_counter()
    emb.tokenize(texts)  # the tokenising `encode` does, alone
    tokenise = time.perf_counter() - t0
    st = report.stage_seconds
    work = report.seconds - st.get("model", 0.0)
    shares = {
        "reading and chunking": st["load"] + st["chunk"],
        "tokenising (inside embed)": tokenise,
        "encoding (rest of embed)": st["embed"] - tokenise,
        "writing FAISS, BM25, records": st["write"],
    }
    parts = ", ".join(f"{name} {sec:.1f} s ({sec / work:.1%})" for name, sec in shares.items())
    return (
        f"Where the default's SciFact sub-corpus build goes ({work:.1f} s): {parts}. The physical limit on "
        f"this box is the bare encoder on the same {len(texts):,} texts: {bare:.1f} chunks/s against the "
        f"pipeline's {report.chunks / work:.1f}; what is left beyond it is reading, chunking and writing."
    )


def run() -> str:
    WORK.mkdir(parents=True, exist_ok=True)
    if not (SCIFACT / "corpus.jsonl").exists():
        return f"## Indexing throughput\n\nSkipped: SciFact not found at {SCIFACT}.\n"
    subset = scifact_subset()
    rows, vectors, rates, profile = _throughput(subset)
    agreement = _agreement(subset, vectors, rates)
    return "\n".join(
        [
            "## Indexing throughput",
            "",
            "A fresh index (empty embedding cache) on 2 cores; stage times in seconds. *Pipeline* is every "
            "stage after the model is loaded; *bare embedder* encodes the same chunk texts, all of "
            "them, in one call. The ratio is how much slower the pipeline is than the "
            "embedder alone (1.00x = no overhead). *ONNX int8*, the default, is all-MiniLM-L6-v2 exported "
            "once to ONNX and quantized to int8 (index/onnx_embedding.py; embedder `minilm-onnx-int8`); "
            "*torch* is the same model run by sentence-transformers (`--embedder minilm`). The SciFact "
            f"sub-corpus is {subset.documents:,} of its 5,183 abstracts (every abstract relevant to "
            f"{len(subset.queries)} seeded train queries, then seeded random others; bench/common.py), so "
            "that torch and LlamaIndex builds fit in the run; the runtime section below builds all of "
            "SciFact with the default. `RAG_BENCH_SCIFACT_DOCS=5183 make bench` runs these on all of it too.",
            "",
            "| corpus | runtime | docs | chunks | load | chunk | embed | write | pipeline s | docs/s | chunks/s "
            "| bare embedder chunks/s | embedder/pipeline |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "The reference corpus has 16 chunks: too few for a throughput figure, its ratio is mostly the "
            "first batch's warm-up. SciFact is the measurement; embedding is nearly all of its time.",
            "",
            profile,
            "",
            "### ONNX Runtime int8 against torch",
            "",
            *agreement,
        ]
    )
