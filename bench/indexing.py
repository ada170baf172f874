"""Indexing throughput (torch and ONNX Runtime embedders) next to the bare embedder, the int8
embedder's agreement with torch, and the time to re-index after one document changes."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import SCIFACT, SHARED, WORK, SciFactSubset, scifact_index, scifact_subset
from eval.retrieval import evaluate_retrieval
from index.build import build_index
from index.embedding import Vectors, get_embedder
from index.store import IndexStore
from index.types import IndexReport
from rag.retrieval import get_retriever

EMBEDDERS = {"minilm": "torch", "minilm-onnx-int8": "ONNX int8"}


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


def _throughput(subset: SciFactSubset) -> tuple[list[str], dict[str, Vectors], dict[str, float]]:
    corpora = {"news (reference)": SHARED / "corpus" / "news", "SciFact sub-corpus": subset.corpus}
    rows: list[str] = []
    chunk_vectors: dict[str, Vectors] = {}
    rates: dict[str, float] = {}
    for embedder, runtime in EMBEDDERS.items():
        get_embedder(embedder)  # load (and export, the first time) outside every clock
        for name, source in corpora.items():
            keep = subset_index(embedder) if source == subset.corpus else None
            report, texts = _fresh(source, embedder, keep)
            rates[f"{name}/{embedder}"], vectors = _bare(embedder, texts)
            rows.append(_row(name, runtime, report, rates[f"{name}/{embedder}"]))
            print(f"   {name} {runtime}: {report.seconds:.0f} s", flush=True)
            if keep is not None:
                chunk_vectors[embedder] = vectors
                work = report.seconds - report.stage_seconds.get("model", 0.0)
                record = {"seconds": work, "documents": report.documents, "chunks": report.chunks}
                (WORK / f"indexing-{embedder}.json").write_text(json.dumps(record), "utf-8")
    return rows, chunk_vectors, rates


def _agreement(subset: SciFactSubset, vectors: dict[str, Vectors], rates: dict[str, float]) -> list[str]:
    """Cosine of int8 to torch vectors of every SciFact chunk, the speed-up, and retrieval with each."""
    cos = (vectors["minilm"] * vectors["minilm-onnx-int8"]).sum(axis=1)
    lines = ["| embedder | retriever | nDCG@10 | Recall@10 | p50 ms |", "|---|---|---:|---:|---:|"]
    for embedder, runtime in EMBEDDERS.items():
        store = IndexStore.open(subset_index(embedder))
        for retriever in ("dense", "hybrid"):
            r = evaluate_retrieval(get_retriever(retriever, store), subset.queries, subset.qrels, hits=50, depth=1)
            lines.append(
                f"| {runtime} | {retriever} | {r.mean['nDCG@10']:.3f} | {r.mean['Recall@10']:.3f} | {r.p50_ms:.1f} |"
            )
    speedup = rates["SciFact sub-corpus/minilm-onnx-int8"] / rates["SciFact sub-corpus/minilm"]
    return [
        f"ONNX int8 against torch on all {len(cos):,} SciFact sub-corpus chunk texts: cosine min **{cos.min():.4f}**, "
        f"median {float(np.median(cos)):.4f}; bare embedder throughput {speedup:.2f}x torch's. Retrieval in the "
        f"sub-corpus on its {len(subset.queries)} train queries (50 chunk hits collapsed to documents; latency "
        "includes embedding the query on one thread):",
        "",
        *lines,
    ]


def _incremental() -> list[str]:
    """Change one abstract in a copy of SciFact indexed by the cached bench index, and re-index."""
    cached = scifact_index()
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        corpus, index = Path(tmp) / "corpus.jsonl", Path(tmp) / "idx"
        shutil.copy(SCIFACT / "corpus.jsonl", corpus)
        shutil.copytree(cached, index, symlinks=True)
        build_index(corpus, index, embedder="minilm", replace=True)  # adopt the copy: nothing re-embedded
        lines = corpus.read_text("utf-8").splitlines()
        record = json.loads(lines[100])
        record["text"] += " One sentence added to test incremental indexing."
        lines[100] = json.dumps(record)
        corpus.write_text("\n".join(lines) + "\n", "utf-8")
        get_embedder("minilm").encode(["warm"])  # the first call's one-off cost is not re-indexing's
        report = build_index(corpus, index, embedder="minilm")
    st = report.stage_seconds
    work = report.seconds - st.get("model", 0.0)
    return [
        "| change | seconds | load | chunk | embed | write | chunks embedded |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| one of 5,183 SciFact abstracts edited (one .jsonl file) | {work:.2f} | {st['load']:.2f} | "
        f"{st['chunk']:.2f} | {st['embed']:.2f} | {st['write']:.2f} | {report.embedded_chunks} |",
    ]


def run() -> str:
    WORK.mkdir(parents=True, exist_ok=True)
    if not (SCIFACT / "corpus.jsonl").exists():
        return f"## Indexing throughput\n\nSkipped: SciFact not found at {SCIFACT}.\n"
    subset = scifact_subset()
    rows, vectors, rates = _throughput(subset)
    agreement = _agreement(subset, vectors, rates)
    incremental = _incremental()
    return "\n".join(
        [
            "## Indexing throughput",
            "",
            "A fresh index (empty embedding cache) on 2 cores; stage times in seconds. *Pipeline* is every "
            "stage after the model is loaded; *bare embedder* encodes the same chunk texts, all of "
            "them, in one call. The ratio is how much slower the pipeline is than the "
            "embedder alone (1.00x = no overhead). *ONNX int8* is all-MiniLM-L6-v2 exported once to ONNX and "
            "quantized to int8 (index/onnx_embedding.py; embedder `minilm-onnx-int8`). The SciFact "
            f"sub-corpus is {subset.documents:,} of its 5,183 abstracts (every abstract relevant to "
            f"{len(subset.queries)} seeded train queries, then seeded random others; bench/common.py): the "
            "whole corpus takes about 20 minutes a build on this machine, and the LlamaIndex section builds "
            "the same sub-corpus again. `RAG_BENCH_SCIFACT_DOCS=5183 make bench` runs both on all of it.",
            "",
            "| corpus | runtime | docs | chunks | load | chunk | embed | write | pipeline s | docs/s | chunks/s "
            "| bare embedder chunks/s | embedder/pipeline |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "The reference corpus has 16 chunks: too few for a throughput figure, its ratio is mostly the "
            "first batch's warm-up. SciFact is the measurement; embedding is nearly all of its time.",
            "",
            "### ONNX Runtime int8 against torch",
            "",
            *agreement,
            "",
            "### Re-indexing after one change",
            "",
            "A copy of the whole SciFact corpus and of its cached bench index; one abstract gets a sentence "
            "more, then `build_index` runs again (model already loaded and warm). Re-indexing with nothing "
            "changed returns at once (no new version is written).",
            "",
            *incremental,
        ]
    )
