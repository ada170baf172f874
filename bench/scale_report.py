"""The `scale` section's Markdown, and the recall check on real MiniLM vectors."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from eval.metrics import percentile
from index.store import FLAT_MAX_CHUNKS, IVF_NPROBE, faiss_settings

GOAL_MS = 5.0
# With the query embedded by the default runtime (issue 22): at a million chunks, and at 100,000.
EMBEDDED_GOAL_MS = {1_000_000: 6.0, 100_000: 3.0}


def _p50(values: Sequence[float]) -> float:
    return percentile(values, 0.5)


def _pp(values: Sequence[float]) -> str:
    return f"{percentile(values, 0.5):.2f} / {percentile(values, 0.95):.2f}"


def real_vectors(held_out: int = 200) -> str:
    """IVF recall@10 on SciFact's MiniLM chunk vectors: held-out chunks query the rest."""
    import faiss

    from bench.common import WORK, scifact_index
    from index.embedding import DEFAULT_EMBEDDER
    from index.store import IndexStore, build_faiss, current_version

    if current_version(WORK / f"scifact-{DEFAULT_EMBEDDER}") is None:
        # Building it embeds all of SciFact; the runtime section builds it.
        return "Real-vector check skipped: the SciFact bench index is not built yet (`python -m bench retrieval`)."
    try:
        vectors = IndexStore.open(scifact_index()).vectors()
    except (OSError, ValueError) as exc:  # no shared data here: say so instead of failing the section
        return f"Real-vector check skipped: {exc}"
    rng = np.random.default_rng(0)
    rows = rng.permutation(len(vectors))
    queries, base = vectors[rows[:held_out]], vectors[rows[held_out:]]
    flat = faiss.IndexFlatIP(base.shape[1])
    flat.add(base)
    _, truth = flat.search(queries, 10)
    settings = faiss_settings("ivf", len(base))
    nlist = settings.nlist or 1  # always set for "ivf"
    index = build_faiss(base, settings)
    cells = []
    for nprobe in (1, 2, 4, 16):
        index.nprobe = nprobe
        _, found = index.search(queries, 10)
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found.tolist(), truth.tolist())])
        cells.append(f"nprobe {nprobe} ({nprobe / nlist:.1%} of the lists): {recall:.3f}")
    return (
        f"Real vectors: IVF recall@10 on SciFact's all-MiniLM-L6-v2 chunk vectors ({len(base):,} chunks, "
        f"{nlist} lists by the same rule, {held_out} held-out chunks as queries): " + "; ".join(cells) + "."
    )


def _size_row(n: int, r: dict[str, Any]) -> str:
    b, d = r["build"], r["disk"]
    st = b["stages"]
    total = sum(d.values())
    per = " / ".join(f"{d[k] / n:,.0f}" for k in ("vectors", "records", "bm25"))
    return (
        f"| {n:,} | {r['kind']} | {st['records']:.0f} / {st['faiss']:.0f} / {st['bm25']:.0f} "
        f"({b['write_s']:.0f} s; generating {b['generate_s']:.0f} s) | {per} / **{total / n:,.0f}** | "
        f"{r['open_s']:.2f} | {r['rss_open_mb'] * 1e6 / n:,.0f} | {r['rss_served_mb'] * 1e6 / n:,.0f} |"
    )


def _latency_row(n: int, r: dict[str, Any]) -> str:
    served = next(d for d in r["dense"] if d["nprobe"] == r["nprobe"])
    return (
        f"| {n:,} | {_pp(r['flat_ms'])} | {_pp(served['ms'])} | {served['recall']:.3f} | {_pp(r['lexical_ms'])} "
        f"| **{_pp(r['hybrid_ms'])}** | **{_pp(r['hybrid_embedded_ms'])}** | {_pp(r['embed_ms'])} |"
    )


def _verdict(results: dict[int, dict[str, Any]]) -> str:
    parts = []
    for n, goal in EMBEDDED_GOAL_MS.items():
        if n in results:
            ms = _p50(results[n]["hybrid_embedded_ms"])
            verdict = "meets" if ms <= goal else "misses"
            parts.append(f"{ms:.2f} ms p50 at {n:,} chunks ({verdict} the {goal:.0f} ms goal)")
    return ", ".join(parts) or "not measured at the goal sizes"


def _table(header: str, rule: str, rows: list[str]) -> str:
    return "\n".join([header, rule, *rows])


def report(results: dict[int, dict[str, Any]], real: str) -> str:
    sizes = sorted(results)
    big = results[sizes[-1]]
    per_million = [_p50(results[n]["flat_ms"]) / (n / 1e6) for n in sizes]
    flat_at_threshold = min(per_million) * FLAT_MAX_CHUNKS / 1e6
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    hybrid = _p50(big["hybrid_ms"])
    lines = [
        "## Retrieval at scale (synthetic corpora)",
        "Synthetic chunks written through the store's own writer with precomputed vectors "
        "(`bench/scale.py`): 384-dim unit vectors around 1,000 topics × 10 sub-topics (a query's nearest "
        "chunk at cosine ~0.65, its 10th at ~0.53, as with MiniLM), 40-120 pseudo-words a chunk from a "
        "Zipf-like 50,000-word vocabulary (~580 characters of text), 200 queries (fresh vectors; five words of "
        "a random chunk). Every query runs on one thread (the serving process is configured as `rag chat` is, "
        "`index.runtime.configure_process(serving=True)`), in a fresh process per size, niced; load average at the end "
        f"of the run: {load} on 2 cores, so the percentiles carry other people's work. Build times were measured "
        "when the cached index was built (on both cores); recall@10 is against exact search.",
        _table(
            "| chunks | FAISS (auto) | build s: records / FAISS / BM25 | bytes per chunk on disk: vectors / "
            "records / BM25 / total | open s | RSS bytes/chunk after open | RSS bytes/chunk after hybrid queries |",
            "|---:|---|---|---|---:|---:|---:|",
            [_size_row(n, results[n]) for n in sizes],
        ),
        "Latency, p50 / p95 ms per query (dense and lexical: the store's search for 10 and 100 rows; hybrid: "
        "the default `HybridRetriever.retrieve()` — 100 candidates a side, z-score fusion, near-duplicate "
        "collapse, 5 hits):",
        _table(
            "| chunks | dense exact (flat) | dense as served | recall@10 | BM25 (top 100) | hybrid, query vector "
            "given | hybrid incl. query embedding (default runtime) | query embedding alone |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
            [_latency_row(n, results[n]) for n in sizes],
        ),
        "IVF probes (lists searched) against recall@10 and dense p50 / p95 ms:",
        _table(
            "| chunks | nprobe | p50 / p95 ms | recall@10 |",
            "|---:|---:|---:|---:|",
            [
                f"| {n:,} | {d['nprobe']} | {_pp(d['ms'])} | {d['recall']:.3f} |"
                for n in sizes
                for d in results[n]["dense"]
                if d["nprobe"] is not None
            ],
        ),
        real,
        f"**Choice.** Exact search costs {min(per_million):.0f}-{max(per_million):.0f} ms per query per million "
        f"chunks here, so `--faiss auto` (the default) keeps the exact flat index up to {FLAT_MAX_CHUNKS:,} chunks "
        f"(about {flat_at_threshold:.1f} ms, recall 1) and switches to IVF above: 2·√n lists, trained on 40 "
        f"points a list, searched with nprobe {IVF_NPROBE}, which holds recall@10 at or above the 0.95 goal in "
        "the synthetic sweep above at about a millisecond (see the real-vector caveat above). HNSW stays "
        "selectable (`--faiss hnsw`) but auto does not "
        "pick it: it was not re-measured here (perf-notes: 0.88 recall at 1M with efConstruction 40, and its "
        "build takes minutes per million on this box), and IVF already meets the goal.",
        f"**Goal at {sizes[-1]:,} chunks.** Hybrid p50 with the query vector given: {hybrid:.2f} ms "
        f"({'meets' if hybrid < GOAL_MS else 'misses'} the {GOAL_MS:.0f} ms goal). Including the query's "
        f"embedding by the default runtime on one thread: {_verdict(results)}; embedding one query alone takes "
        f"{_p50(big['embed_ms']):.2f} ms p50. Opening the index takes {big['open_s']:.2f} s "
        "(FAISS memory-mapped, chunk records read by byte offset on demand, BM25 arrays memory-mapped). The first "
        f"hybrid call took {big['hybrid_first_s']:.1f} s (importing numba's compiled BM25 kernel and first page "
        "faults); later calls read only the candidate pool's vectors and records.",
    ]
    return "\n\n".join(lines)
