"""Metrics against values computed by hand."""

from __future__ import annotations

import math

import pytest

from eval.metrics import (
    document_ranking,
    mean_scores,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    recall_at_k,
    score_ranking,
)

RANKING = ["d1", "d2", "d3", "d4"]
GRADED = {"d2": 2, "d4": 1, "d9": 1}  # d9 is relevant but never retrieved


def test_ndcg_with_graded_relevance() -> None:
    # DCG = 2/log2(3) + 1/log2(5) = 1.26186 + 0.43068 ; IDCG = 2/1 + 1/log2(3) + 1/log2(4) = 3.13093
    assert ndcg_at_k(RANKING, GRADED, 10) == pytest.approx(1.692536 / 3.130930, abs=1e-6)
    assert ndcg_at_k(RANKING, GRADED, 10) == pytest.approx(0.540586, abs=1e-6)
    # Cut at 2: DCG = 2/log2(3) ; IDCG = 2 + 1/log2(3)
    assert ndcg_at_k(RANKING, GRADED, 2) == pytest.approx((2 / math.log2(3)) / (2 + 1 / math.log2(3)))
    assert ndcg_at_k(["d2", "d4", "d9"], GRADED, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x"], GRADED, 10) == 0.0


def test_recall_and_mrr() -> None:
    assert recall_at_k(RANKING, GRADED, 10) == pytest.approx(2 / 3)
    assert recall_at_k(RANKING, GRADED, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKING, GRADED, 1) == 0.0
    assert mrr_at_k(RANKING, GRADED, 10) == 0.5
    assert mrr_at_k(RANKING, GRADED, 1) == 0.0
    assert mrr_at_k(["d4", "d2"], GRADED, 10) == 1.0


def test_non_positive_relevance_is_not_relevant() -> None:
    judged = {"d1": -1, "d2": 0, "d3": 1}
    assert mrr_at_k(RANKING, judged) == pytest.approx(1 / 3)
    assert recall_at_k(RANKING, judged, 10) == 1.0
    assert ndcg_at_k(RANKING, judged) == pytest.approx(1 / math.log2(4))
    assert score_ranking(RANKING, {"d1": 0}) == {"nDCG@10": 0.0, "Recall@10": 0.0, "Recall@100": 0.0, "MRR@10": 0.0}


def test_document_level_is_max_over_chunks() -> None:
    # Chunks of A rank 1 and 3; B 2; C 4 -> documents A, B, C: C is third, not fourth.
    docs = document_ranking(["A", "B", "A", "C"])
    assert docs == ["A", "B", "C"]
    assert ndcg_at_k(docs, {"C": 1}) == pytest.approx(1 / math.log2(4))
    assert mrr_at_k(docs, {"C": 1}) == pytest.approx(1 / 3)
    assert recall_at_k(docs, {"C": 1, "D": 1}, 3) == 0.5


def test_recall_at_100_counts_documents_beyond_10() -> None:
    ranking = [f"x{i}" for i in range(50)] + ["gold"]
    scores = score_ranking(ranking, {"gold": 1})
    assert scores["Recall@10"] == 0.0 and scores["Recall@100"] == 1.0 and scores["MRR@10"] == 0.0


def test_means_and_percentiles() -> None:
    assert mean_scores([{"a": 1.0, "b": 0.0}, {"a": 0.0, "b": 0.5}]) == {"a": 0.5, "b": 0.25}
    assert mean_scores([]) == {}
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.95) == pytest.approx(4.8)
    assert math.isnan(percentile([], 0.5))
    with pytest.raises(ValueError, match=r"q=95"):
        percentile([1.0], 95)
