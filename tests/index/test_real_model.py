"""The real embedder on the real corpora: nothing truncated, real vectors, real search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.chunking import Chunker
from index.documents import iter_files, load_file
from index.store import IndexStore
from tests.conftest import NEWS, SCIFACT, need

pytestmark = pytest.mark.slow


def chunk_all(source: Path, embedder: Any) -> tuple[int, list[int]]:
    chunker = Chunker(limit_counter=embedder.count_tokens, limit=embedder.max_tokens)
    docs = [d for f in iter_files(source) for d in load_file(f, source).documents]
    lengths = [embedder.count_tokens(c.indexed_text) for d in docs for c in chunker.chunk(d)]
    return len(docs), lengths


def test_no_chunk_of_the_reference_corpus_is_truncated(minilm: Any) -> None:
    assert minilm.max_tokens == 256
    docs, lengths = chunk_all(need(NEWS), minilm)
    assert docs == 2 and len(lengths) >= 10
    assert max(lengths) <= minilm.max_tokens


def test_no_chunk_of_scifact_is_truncated(minilm: Any) -> None:
    docs, lengths = chunk_all(need(SCIFACT / "corpus.jsonl"), minilm)
    assert docs == 5183
    over = [n for n in lengths if n > minilm.max_tokens]
    assert over == [], f"{len(over)} of {len(lengths)} chunks would be truncated"


def test_real_vectors_are_normalized_and_searchable(news_index: Path, minilm: Any) -> None:
    store = IndexStore.open(news_index, embedder=minilm.name, dim=384)
    norms = np.linalg.norm(store.vectors(), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-4)
    query = minilm.encode(["Which refinery did Ukraine hit with drones?"])
    [dense] = store.search_dense(query, 3)
    assert any("Syzran" in store.chunks[r].text for r in dense.rows)
    [lexical] = store.search_lexical(["Syzran refinery"], 3)
    assert "Syzran" in store.chunks[lexical.rows[0]].text
    for chunk in store.chunks:
        source = (NEWS / chunk.path).read_text(encoding="utf-8")
        assert source[chunk.start : chunk.end] == chunk.text
