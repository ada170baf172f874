"""Run a retriever over judged queries and score it at the document level."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eval.metrics import RETRIEVAL_METRICS, Relevance, document_ranking, mean_scores, percentile, score_ranking
from rag.retrieval import Retriever
from rag.types import Hit

# Chunk hits asked for per query: more than 100, as some documents hold several hits;
# queries whose hits still cover under 100 documents ask again for more.
DEFAULT_HITS = 150


@dataclass(frozen=True)
class QueryResult:
    query_id: str
    metrics: Mapping[str, float]
    seconds: float
    documents: tuple[str, ...]  # the document ranking, best first, at most `depth`


@dataclass(frozen=True)
class RetrievalEval:
    """Per-query and mean metrics, plus latency of the `retrieve` call."""

    name: str
    queries: tuple[QueryResult, ...]
    mean: Mapping[str, float]
    p50_ms: float
    p95_ms: float
    skipped: int  # queries without any relevant document in the qrels
    mean_documents: float  # distinct documents ranked per query (Recall@100 needs 100)

    def summary(self) -> str:
        metrics = "  ".join(f"{name} {self.mean.get(name, 0.0):.4f}" for name in RETRIEVAL_METRICS)
        skipped = f" ({self.skipped} without qrels skipped)" if self.skipped else ""
        lines = [
            f"{self.name}: {len(self.queries)} queries{skipped}",
            f"  {metrics}",
            f"  latency per query: p50 {self.p50_ms:.1f} ms  p95 {self.p95_ms:.1f} ms",
        ]
        if self.mean_documents < 100:
            lines.append(
                f"  note: {self.mean_documents:.1f} documents ranked per query on average (Recall@100 sees those)"
            )
        return "\n".join(lines)


def _record_id(hit: Hit) -> str:
    return hit.chunk.record_id


def _rank_documents(
    retriever: Retriever,
    query: str,
    hits: int,
    depth: int,
    document_of: Callable[[Hit], str],
    overrides: Mapping[str, Any],
) -> tuple[list[str], float]:
    """The document ranking and the seconds the first `retrieve` call took.

    When the hits cover fewer than `depth` documents (several chunks of one document),
    ask again for twice as many, at most three times; only the first call is timed,
    so every query's latency is that of the same request.
    """
    t0 = time.perf_counter()
    found = retriever.retrieve(query, k=hits, **overrides)
    seconds = time.perf_counter() - t0
    ranking = document_ranking(document_of(hit) for hit in found)
    for _ in range(3):
        if len(ranking) >= depth or len(found) < hits:
            break
        hits *= 2
        found = retriever.retrieve(query, k=hits, **overrides)
        ranking = document_ranking(document_of(hit) for hit in found)
    return ranking, seconds


def evaluate_retrieval(
    retriever: Retriever,
    queries: Mapping[str, str],
    qrels: Mapping[str, Relevance],
    *,
    name: str = "retrieval",
    hits: int = DEFAULT_HITS,
    depth: int = 100,
    limit: int | None = None,
    warmup: int = 3,
    document_of: Callable[[Hit], str] = _record_id,
    progress: Callable[[int, int], None] | None = None,
    **overrides: Any,
) -> RetrievalEval:
    """Score `retriever` on every query that has a relevant document in `qrels`.

    Each query asks for `hits` chunks, and more if they cover fewer than `depth`
    documents. Documents are matched to qrels through `document_of(hit)` (the BEIR
    `_id` of the chunk's record by default). The first `warmup` queries run once
    untimed first, so lazy model and vector loading does not count as query latency.
    """
    for label, value in (("hits", hits), ("depth", depth), ("limit", 1 if limit is None else limit)):
        if value < 1:
            raise ValueError(f"{label}={value} must be 1 or more")
    judged = [qid for qid in queries if any(g > 0 for g in qrels.get(qid, {}).values())]
    skipped = len(queries) - len(judged)
    judged = judged[:limit] if limit is not None else judged
    for qid in judged[:warmup]:
        retriever.retrieve(queries[qid], k=hits, **overrides)
    results: list[QueryResult] = []
    for n, qid in enumerate(judged, start=1):
        ranking, seconds = _rank_documents(retriever, queries[qid], hits, depth, document_of, overrides)
        results.append(QueryResult(qid, score_ranking(ranking, qrels[qid]), seconds, tuple(ranking[:depth])))
        if progress:
            progress(n, len(judged))
    latencies = [r.seconds * 1000 for r in results]
    return RetrievalEval(
        name=name,
        queries=tuple(results),
        mean=mean_scores(r.metrics for r in results),
        p50_ms=percentile(latencies, 0.5),
        p95_ms=percentile(latencies, 0.95),
        skipped=skipped,
        mean_documents=sum(len(r.documents) for r in results) / len(results) if results else 0.0,
    )
