"""The BM25 side of the store (bm25s), saved as bm25s's own plain files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.types import SearchResult

LEXICAL_SETTINGS: dict[str, Any] = {"library": "bm25s", "stopwords": "en", "stemmer": "english", "method": "lucene"}


def _tokenizer() -> Any:
    import Stemmer
    from bm25s.tokenization import Tokenizer

    stemmer = Stemmer.Stemmer(LEXICAL_SETTINGS["stemmer"])
    return Tokenizer(stopwords=LEXICAL_SETTINGS["stopwords"], stemmer=stemmer.stemWord)


class LexicalIndex:
    def __init__(self, retriever: Any, tokenizer: Any, size: int) -> None:
        self._retriever = retriever
        self._tokenizer = tokenizer
        self.size = size

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        import bm25s

        tokenizer = _tokenizer()
        tokens = tokenizer.tokenize(list(texts), return_as="tuple", show_progress=False)
        retriever = bm25s.BM25(method=LEXICAL_SETTINGS["method"])
        retriever.index(tokens, show_progress=False)
        return cls(retriever, tokenizer, len(texts))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._retriever.save(str(folder), show_progress=False)
        self._tokenizer.save_vocab(str(folder))
        self._tokenizer.save_stopwords(str(folder))

    @classmethod
    def load(cls, folder: Path, size: int) -> LexicalIndex:
        import bm25s

        retriever = bm25s.BM25.load(str(folder), mmap=False, show_progress=False)
        tokenizer = _tokenizer()
        tokenizer.load_vocab(str(folder))
        tokenizer.load_stopwords(str(folder))
        return cls(retriever, tokenizer, size)

    def query_ids(self, query: str) -> list[int]:
        ids = self._tokenizer.tokenize([query], update_vocab=False, return_as="ids", show_progress=False)[0]
        empty = self._tokenizer.get_vocab_dict().get("", -1)
        return [int(i) for i in ids if i != empty]

    def search(self, queries: Sequence[str], k: int) -> list[SearchResult]:
        out: list[SearchResult] = []
        for query in queries:
            ids = self.query_ids(query)
            if not ids or self.size == 0 or k <= 0:
                out.append(SearchResult((), ()))
                continue
            scores = np.asarray(self._retriever.get_scores(ids), dtype=np.float32)
            out.append(top_k(scores, k))
        return out


def top_k(scores: np.ndarray, k: int) -> SearchResult:
    """Rows with a positive score, best first (ties by row for determinism)."""
    k = min(k, scores.shape[0])
    if k <= 0:
        return SearchResult((), ())
    part = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[0] else np.arange(scores.shape[0])
    part = part[scores[part] > 0]
    order = part[np.lexsort((part, -scores[part]))]
    return SearchResult(tuple(int(r) for r in order), tuple(float(scores[r]) for r in order))
