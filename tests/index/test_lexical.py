"""BM25 build: our score matrix against bm25s's own, and re-use of saved term ids."""

from __future__ import annotations

import random
from pathlib import Path

import bm25s
import numpy as np
import pytest

from index import lexical
from index.lexical import TERMS, LexicalIndex

WORDS = "protein cell cancer vitamin binding gene mouse trial dose risk heart brain liver blood virus".split()


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(1, 30))) + f" doc{i}" for i in range(n)] + ["", "the and of"]


def test_score_matrix_matches_bm25s_own_build() -> None:
    tokenizer = lexical.new_tokenizer()
    tokens = tokenizer.tokenize(_texts(300), return_as="tuple", show_progress=False)
    theirs = bm25s.BM25(method="lucene")
    theirs.index(tokens, show_progress=False)
    ours = lexical._lucene_scores(bm25s.BM25(method="lucene"), list(tokens.vocab.values()), tokens.ids)
    assert ours["num_docs"] == theirs.scores["num_docs"]
    np.testing.assert_array_equal(ours["indptr"], theirs.scores["indptr"])
    np.testing.assert_array_equal(ours["indices"], theirs.scores["indices"])
    np.testing.assert_allclose(ours["data"], theirs.scores["data"], rtol=1e-6)


def _same_results(a: LexicalIndex, b: LexicalIndex) -> None:
    for query in ["protein binding", "vitamin dose risk", "doc7 heart", "liver", "unknownword"]:
        ra, rb = a.search([query], 10)[0], b.search([query], 10)[0]
        assert ra.rows == rb.rows
        np.testing.assert_allclose(ra.scores, rb.scores, rtol=1e-5)


def test_reuse_tokenizes_only_new_texts_and_scores_as_a_fresh_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = _texts(200)
    LexicalIndex.build(texts).save(tmp_path / "v1")
    changed = [*texts[:50], "gene therapy for the brain", "a new word: zebrafish", *texts[60:]]
    seen: list[str] = []
    original = lexical.new_tokenizer

    def counting() -> object:
        tok = original()
        inner = tok.tokenize
        tok.tokenize = lambda batch, **kw: (seen.extend(batch), inner(batch, **kw))[1]
        return tok

    monkeypatch.setattr(lexical, "new_tokenizer", counting)
    reused = LexicalIndex.build(changed, reuse=tmp_path / "v1")
    assert seen == ["gene therapy for the brain", "a new word: zebrafish"]
    monkeypatch.setattr(lexical, "new_tokenizer", original)
    _same_results(reused, LexicalIndex.build(changed))
    reused.save(tmp_path / "v2")  # a chain of re-uses keeps working
    _same_results(LexicalIndex.load(tmp_path / "v2", len(changed)), LexicalIndex.build(changed))


def test_damaged_saved_rows_fall_back_to_tokenizing_everything(tmp_path: Path) -> None:
    texts = _texts(100)
    LexicalIndex.build(texts).save(tmp_path / "v1")
    (tmp_path / "v1" / TERMS).write_bytes(b"not an array")
    _same_results(LexicalIndex.build(texts, reuse=tmp_path / "v1"), LexicalIndex.build(texts))


def test_vocabulary_of_vanished_texts_is_dropped_once_it_dominates(tmp_path: Path) -> None:
    many = [f"term{i} other{i} more{i}" for i in range(3000)]
    LexicalIndex.build(many).save(tmp_path / "v1")
    index = LexicalIndex.build(["protein cell"], reuse=tmp_path / "v1")
    assert len(index._tokenizer.get_vocab_dict()) < 10
    assert index.search(["protein"], 5)[0].rows == (0,)
