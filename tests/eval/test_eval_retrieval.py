"""evaluate_retrieval with a scripted retriever: document-level scoring, skipping, limits, latency."""

from __future__ import annotations

from typing import Any

import pytest

from eval.retrieval import RetrievalEval, evaluate_retrieval
from index.types import Chunk
from rag.types import Hit


def chunk(record: str, n: int) -> Chunk:
    return Chunk(f"{record}-{n}", f"corpus.jsonl#{record}", "corpus.jsonl", "", f"text {n}", n * 10, n * 10 + 9)


class Scripted:
    """Returns fixed chunk lists per query text and records what it was asked."""

    def __init__(self, results: dict[str, list[Chunk]]) -> None:
        self.results = results
        self.calls: list[tuple[str, int | None, dict[str, Any]]] = []

    def retrieve(self, query: str, k: int | None = None, **overrides: Any) -> list[Hit]:
        self.calls.append((query, k, overrides))
        chunks = self.results[query][: k or 5]
        return [Hit(c, 1.0 / rank, rank) for rank, c in enumerate(chunks, start=1)]


QUERIES = {"q1": "first", "q2": "second", "q3": "unjudged"}
QRELS = {"q1": {"B": 1}, "q2": {"Z": 1, "A": 0}, "q3": {"A": 0}}
RESULTS = {
    # A's two chunks rank 1 and 2, so B is the second document, not the third hit.
    "first": [chunk("A", 0), chunk("A", 1), chunk("B", 0)],
    "second": [chunk("A", 0)],
    "unjudged": [chunk("A", 0)],
}


def test_document_level_metrics_skipping_and_latency() -> None:
    retriever = Scripted(RESULTS)
    result = evaluate_retrieval(retriever, QUERIES, QRELS, name="scripted", hits=50, warmup=1, mmr=True)
    assert isinstance(result, RetrievalEval)
    assert [q.query_id for q in result.queries] == ["q1", "q2"]
    assert result.skipped == 1  # q3 has no relevant document
    first, second = result.queries
    assert first.documents == ("A", "B")
    assert first.metrics["MRR@10"] == 0.5
    assert first.metrics["nDCG@10"] == pytest.approx(1 / 1.584962500721156)
    assert second.metrics == {"nDCG@10": 0.0, "Recall@10": 0.0, "Recall@100": 0.0, "MRR@10": 0.0}
    assert result.mean["MRR@10"] == 0.25 and result.mean["Recall@100"] == 0.5
    assert 0 < result.p50_ms <= result.p95_ms
    # one untimed warm-up call, then every judged query once, all with the same k and overrides
    assert [c[0] for c in retriever.calls] == ["first", "first", "second"]
    assert {(c[1], tuple(c[2].items())) for c in retriever.calls} == {(50, (("mmr", True),))}
    assert "scripted: 2 queries (1 without qrels skipped)" in result.summary()
    assert "MRR@10 0.2500" in result.summary()


def test_asks_again_when_hits_cover_too_few_documents() -> None:
    retriever = Scripted(RESULTS)
    result = evaluate_retrieval(retriever, {"q1": "first"}, QRELS, hits=2, depth=2, warmup=0)
    assert result.queries[0].documents == ("A", "B")  # the first 2 hits were both A's chunks
    assert [(c[0], c[1]) for c in retriever.calls] == [("first", 2), ("first", 4)]
    assert result.queries[0].metrics["MRR@10"] == 0.5


def test_limit_and_bad_arguments() -> None:
    result = evaluate_retrieval(Scripted(RESULTS), QUERIES, QRELS, limit=1, warmup=0)
    assert [q.query_id for q in result.queries] == ["q1"]
    with pytest.raises(ValueError, match=r"limit=0"):
        evaluate_retrieval(Scripted(RESULTS), QUERIES, QRELS, limit=0)
    with pytest.raises(ValueError, match=r"hits=0"):
        evaluate_retrieval(Scripted(RESULTS), QUERIES, QRELS, hits=0)
    with pytest.raises(ValueError, match=r"depth=-1"):
        evaluate_retrieval(Scripted(RESULTS), QUERIES, QRELS, depth=-1)
