"""Ranking metrics as pure functions over (ranked document ids, graded relevance).

Conventions follow BEIR / trec_eval: gains are the graded relevance itself (not
2^rel - 1), discounts log2(rank + 1), relevance <= 0 counts as not relevant, and a
query with no relevant document scores 0 (callers usually leave such queries out).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

Relevance = Mapping[str, int]  # document id -> graded relevance


def ndcg_at_k(ranking: Sequence[str], relevance: Relevance, k: int = 10) -> float:
    """Normalized discounted cumulative gain of the top k."""
    dcg = sum(max(relevance.get(doc, 0), 0) / math.log2(rank + 1) for rank, doc in enumerate(ranking[:k], start=1))
    ideal = sorted((g for g in relevance.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranking: Sequence[str], relevance: Relevance, k: int) -> float:
    """Share of the relevant documents found in the top k."""
    relevant = {doc for doc, g in relevance.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def hit_at_k(ranking: Sequence[str], relevance: Relevance, k: int) -> float:
    """1.0 when any relevant document is in the top k."""
    return float(any(relevance.get(doc, 0) > 0 for doc in ranking[:k]))


def mrr_at_k(ranking: Sequence[str], relevance: Relevance, k: int = 10) -> float:
    """Reciprocal rank of the first relevant document in the top k (0 if none)."""
    for rank, doc in enumerate(ranking[:k], start=1):
        if relevance.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def document_ranking(chunk_documents: Iterable[str]) -> list[str]:
    """Collapse a ranked list of chunks (given by their document ids) to documents.

    A document ranks where its best chunk does: the max over its chunks' ranks.
    """
    return list(dict.fromkeys(chunk_documents))


RETRIEVAL_METRICS: dict[str, Callable[[Sequence[str], Relevance], float]] = {
    "nDCG@10": lambda ranking, rel: ndcg_at_k(ranking, rel, 10),
    "Recall@10": lambda ranking, rel: recall_at_k(ranking, rel, 10),
    "Recall@100": lambda ranking, rel: recall_at_k(ranking, rel, 100),
    "MRR@10": lambda ranking, rel: mrr_at_k(ranking, rel, 10),
}


def score_ranking(ranking: Sequence[str], relevance: Relevance) -> dict[str, float]:
    """Every metric in RETRIEVAL_METRICS for one query's document ranking."""
    return {name: metric(ranking, relevance) for name, metric in RETRIEVAL_METRICS.items()}


def mean_scores(per_query: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """The mean of each metric over queries (empty when there are none)."""
    rows = list(per_query)
    names = list(dict.fromkeys(name for row in rows for name in row))
    return {name: sum(row.get(name, 0.0) for row in rows) / len(rows) for name in names} if rows else {}


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 1] (NaN for no values)."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q={q} must be between 0 and 1")
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
