"""Fusion, MMR and duplicate collapsing on hand-made rankings with hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest

from index.types import Chunk, SearchResult
from rag.ranking import collapse_duplicates, fuse, minmax, mmr, normalized_fusion, reciprocal_rank_fusion, zscore

DENSE = SearchResult((1, 2, 3), (0.9, 0.5, 0.1))
LEXICAL = SearchResult((3, 4), (10.0, 2.0))


def test_rrf_equal_weights() -> None:
    # row 1: 1/61 + 1/62 = .03252   row 3: 1/63 + 1/61 = .03227   row 2: 1/62   row 4: 1/63
    fused = reciprocal_rank_fusion(
        {"dense": SearchResult((1, 2, 3), (0, 0, 0)), "lexical": SearchResult((3, 1, 4), (0, 0, 0))},
        {"dense": 1.0, "lexical": 1.0},
        60,
    )
    assert fused.rows == (1, 3, 2, 4)
    assert fused.scores == pytest.approx((1 / 61 + 1 / 62, 1 / 63 + 1 / 61, 1 / 62, 1 / 63))


def test_rrf_weights_change_the_order() -> None:
    # row 3: .2/63 + .8/61 = .01629   row 1: .2/61 + .8/62 = .01618   row 4: .8/63 = .0127   row 2: .2/62 = .0032
    fused = reciprocal_rank_fusion(
        {"dense": SearchResult((1, 2, 3), (0, 0, 0)), "lexical": SearchResult((3, 1, 4), (0, 0, 0))},
        {"dense": 0.2, "lexical": 0.8},
        60,
    )
    assert fused.rows == (3, 1, 4, 2)


def test_rrf_ties_go_to_the_smaller_row() -> None:
    fused = reciprocal_rank_fusion({"a": SearchResult((7,), (1.0,)), "b": SearchResult((5,), (1.0,))}, {}, 60)
    assert fused.rows == (5, 7)


def test_normalizers() -> None:
    assert minmax([0.9, 0.5, 0.1]) == pytest.approx([1.0, 0.5, 0.0])
    assert minmax([3.0, 3.0]) == [1.0, 1.0]
    assert zscore([10.0, 2.0]) == pytest.approx([1.0, -1.0])
    assert zscore([4.0, 4.0]) == [0.0, 0.0]
    assert minmax([]) == zscore([]) == []


def test_minmax_fusion_missing_rows_count_as_zero() -> None:
    # dense -> 1, .5, 0 ; lexical -> row3 1, row4 0
    # w_dense .6: row1 .6, row2 .3, row3 .4, row4 0
    fused = normalized_fusion({"dense": DENSE, "lexical": LEXICAL}, {"dense": 0.6, "lexical": 0.4}, "minmax")
    assert fused.rows == (1, 3, 2, 4)
    assert fused.scores == pytest.approx((0.6, 0.4, 0.3, 0.0))
    # w_dense .3: row1 .3, row2 .15, row3 .7, row4 0
    fused = normalized_fusion({"dense": DENSE, "lexical": LEXICAL}, {"dense": 0.3, "lexical": 0.7}, "minmax")
    assert fused.rows == (3, 1, 2, 4)


def test_zscore_fusion_missing_rows_get_the_lowest_z() -> None:
    # dense z: 1.2247, 0, -1.2247 ; lexical z: 1, -1 ; missing -> that ranking's minimum
    z = np.sqrt(1.5)
    fused = normalized_fusion({"dense": DENSE, "lexical": LEXICAL}, {"dense": 0.5, "lexical": 0.5}, "zscore")
    assert fused.rows == (1, 3, 2, 4)
    assert fused.scores == pytest.approx(((z - 1) / 2, (1 - z) / 2, -0.5, (-z - 1) / 2))


def test_fuse_dispatches_and_rejects_unknown_methods() -> None:
    rankings = {"dense": DENSE, "lexical": LEXICAL}
    assert fuse("rrf", rankings, {}, 60) == reciprocal_rank_fusion(rankings, {}, 60)
    assert fuse("zscore", rankings, {}) == normalized_fusion(rankings, {}, "zscore")
    with pytest.raises(ValueError, match=r"'max'.*minmax, zscore"):
        fuse("max", rankings, {})


VECTORS = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)  # a, a's twin, something else


def test_mmr_prefers_novelty_over_a_near_duplicate() -> None:
    # rel (min-max of 1, .9, .5) = 1, .8, 0 ; lambda .5
    # pick a (.5); then twin .4 - .5*1 = -.1 vs other 0 - 0 = 0 -> other; then twin -.1
    picked = mmr([1.0, 0.9, 0.5], VECTORS, 3, 0.5)
    assert [i for i, _ in picked] == [0, 2, 1]
    assert [v for _, v in picked] == pytest.approx([0.5, 0.0, -0.1])


def test_mmr_lambda_one_is_pure_relevance_and_k_limits() -> None:
    assert [i for i, _ in mmr([1.0, 0.9, 0.5], VECTORS, 3, 1.0)] == [0, 1, 2]
    assert [i for i, _ in mmr([1.0, 0.9, 0.5], VECTORS, 2, 0.5)] == [0, 2]
    assert mmr([], VECTORS[:0], 3, 0.5) == []


def _chunk(doc: str, start: int, end: int, text: str) -> Chunk:
    return Chunk(f"{doc}-{start}", doc, doc, "", text, start, end)


def test_collapse_overlapping_same_text_and_near_duplicate_vectors() -> None:
    chunks = [
        _chunk("A", 0, 100, "alpha"),
        _chunk("A", 30, 130, "beta"),  # shares 70 of its 100 characters with A[0:100]: dropped
        _chunk("A", 80, 180, "gamma"),  # shares 20: a chunker's usual overlap, different text: kept
        _chunk("B", 0, 50, "  ALPHA "),  # same text as the first, other document: dropped
        _chunk("C", 0, 10, "delta"),  # vector close to gamma's
        _chunk("D", 0, 10, "epsilon"),
        _chunk("A", 170, 190, "tail"),  # a short last chunk, half of it inside A[80:180]: dropped
    ]
    vectors = np.array(
        [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 0.3, 0.954], [0, 1, 0], [0, -1, 0]], dtype=np.float32
    )
    assert collapse_duplicates(chunks) == [0, 2, 4, 5]
    assert collapse_duplicates(chunks, vectors, threshold=0.95) == [0, 2, 5]
    assert collapse_duplicates(chunks, vectors, threshold=1.0) == [0, 2, 4, 5]
    assert collapse_duplicates(chunks, limit=2) == [0, 2]
