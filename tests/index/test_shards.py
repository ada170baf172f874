"""Shards merge into exactly what one process builds: FAISS (flat, IVF) and BM25 files alike (no Ray needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.lexical import LexicalIndex
from index.shards import build_shard, empty_index, merge_shards, shard_bounds
from index.store import build_faiss, faiss_settings

WORDS = "alpha beta gamma delta refinery summit plane energy fossil fuel territory talks running runs ran".split()


def corpus(rows: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, size=int(rng.integers(3, 12)))) for _ in range(rows)]
    texts[5] = "the and of"  # stopwords only: the empty term
    vectors = rng.normal(size=(rows, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return texts, vectors


def sharded(texts: list[str], vectors: np.ndarray, kind: str, shards: int):  # type: ignore[no-untyped-def]
    settings = faiss_settings(kind, len(vectors))
    empty = empty_index(vectors, settings)
    parts = [build_shard(a, texts[a:b], vectors[a:b], empty) for a, b in shard_bounds(len(texts), shards)]
    return merge_shards(parts[::-1], empty, vectors, settings), settings  # any arrival order


def test_bounds_tile_the_rows() -> None:
    assert shard_bounds(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert shard_bounds(2, 5) == [(0, 1), (1, 2)]
    assert shard_bounds(0, 4) == [(0, 0)]


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_merged_faiss_answers_as_the_whole_index(kind: str) -> None:
    texts, vectors = corpus(2000)  # IVF: 51 lists, 16 probed
    parts, settings = sharded(texts, vectors, kind, 3)
    whole = build_faiss(vectors, settings)
    assert parts.faiss.ntotal == whole.ntotal == 2000
    queries = vectors[:40] + 0.01
    merged_hits, whole_hits = parts.faiss.search(queries, 10)[1], whole.search(queries, 10)[1]
    assert np.array_equal(merged_hits, whole_hits)
    if kind == "flat":
        assert np.array_equal(parts.faiss.reconstruct_n(0, 2000), vectors)
    if kind == "ivf":
        assert (settings.nlist, settings.nprobe) == (51, 16)
        sizes = [parts.faiss.invlists.list_size(i) for i in range(settings.nlist or 0)]
        assert sizes == [whole.invlists.list_size(i) for i in range(settings.nlist or 0)]


def test_merged_bm25_is_the_whole_corpus_bm25_file_for_file(tmp_path: Path) -> None:
    texts, vectors = corpus(300, seed=1)
    parts, _ = sharded(texts, vectors, "flat", 4)
    whole = LexicalIndex.build(texts)
    parts.lexical.save(tmp_path / "merged")
    whole.save(tmp_path / "whole")
    names = sorted(p.name for p in (tmp_path / "whole").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "merged").iterdir())
    for name in names:
        assert (tmp_path / "merged" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    for query in ("refinery summit", "running fuel", "alpha"):
        assert parts.lexical.search([query], 10) == whole.search([query], 10)


def test_a_missing_shard_is_refused() -> None:
    texts, vectors = corpus(50)
    settings = faiss_settings("flat", 50)
    empty = empty_index(vectors, settings)
    parts = [build_shard(a, texts[a:b], vectors[a:b], empty) for a, b in shard_bounds(50, 3)]
    with pytest.raises(ValueError, match="do not tile"):
        merge_shards([parts[0], parts[2]], empty, vectors, settings)
