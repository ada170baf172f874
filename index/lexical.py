"""The BM25 side of the store: bm25s builds and saves it as its own plain files; queries are
scored by a small compiled kernel over bm25s's precomputed (term, document) score matrix.

Why not bm25s's own scoring: its numpy path fills and ranks a score for every document
(3.3 ms per query at 100k chunks, ten times that at 1M). The kernel visits the postings
of the query's rare terms first; once the k-th best score so far beats everything the
remaining (common, low-idf) terms could add, it stops admitting new documents and only
tops up the ones it has (MaxScore pruning). The result is the exact top k.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from index.types import SearchResult

BOUNDS = "term_bounds.npy"  # ours, beside bm25s's own files
LEXICAL_SETTINGS: dict[str, Any] = {"library": "bm25s", "stopwords": "en", "stemmer": "english", "method": "lucene"}


def _tokenizer() -> Any:
    import Stemmer
    from bm25s.tokenization import Tokenizer

    stemmer = Stemmer.Stemmer(LEXICAL_SETTINGS["stemmer"])
    return Tokenizer(stopwords=LEXICAL_SETTINGS["stopwords"], stemmer=stemmer.stemWord)


class LexicalIndex:
    def __init__(
        self, retriever: Any, tokenizer: Any, size: int, bounds: npt.NDArray[np.float32] | None = None
    ) -> None:
        self._retriever = retriever
        self._tokenizer = tokenizer
        self.size = size
        scores = retriever.scores
        self._data, self._indices, self._indptr = scores["data"], scores["indices"], scores["indptr"]
        self._empty = tokenizer.get_vocab_dict().get("", -1)
        # Each term's best posting score: the bound that lets the kernel prune (saved beside
        # bm25s's files, so that opening need not read every posting).
        self._bounds = _term_bounds(self._data, self._indptr) if bounds is None else bounds
        self._buffers = threading.local()  # per-thread score accumulators, reused across queries

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
        np.save(folder / BOUNDS, self._bounds)

    @classmethod
    def load(cls, folder: Path, size: int) -> LexicalIndex:
        import bm25s

        # Memory-mapped: a 1M-chunk matrix opens at once and pages in as queries touch it.
        retriever = bm25s.BM25.load(str(folder), mmap=True, show_progress=False)
        tokenizer = _tokenizer()
        tokenizer.load_vocab(str(folder))
        tokenizer.load_stopwords(str(folder))
        bounds = np.load(folder / BOUNDS, mmap_mode="r") if (folder / BOUNDS).exists() else None
        return cls(retriever, tokenizer, size, bounds)

    def query_ids(self, query: str) -> list[int]:
        ids = self._tokenizer.tokenize([query], update_vocab=False, return_as="ids", show_progress=False)[0]
        return [int(i) for i in ids if i != self._empty]

    def search(self, queries: Sequence[str], k: int) -> list[SearchResult]:
        return [self.search_ids(self.query_ids(query), k) for query in queries]

    def search_ids(self, term_ids: Sequence[int], k: int) -> SearchResult:
        """Rows with a positive BM25 score for these vocabulary ids, best first (ties by row)."""
        if not term_ids or self.size == 0 or k <= 0:
            return SearchResult((), ())
        scratch, touched = self._scratch()
        terms = np.asarray(term_ids, dtype=np.int64)
        terms = terms[np.argsort(-self._bounds[terms], kind="stable")]
        bounds = self._bounds[terms]
        scores, rows = _kernel()(self._data, self._indices, self._indptr, terms, bounds, k, scratch, touched)
        order = np.lexsort((rows, -scores))
        return SearchResult(tuple(int(r) for r in rows[order]), tuple(float(s) for s in scores[order]))

    def _scratch(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        found: tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]] | None = getattr(self._buffers, "arrays", None)
        if found is None:
            found = (np.zeros(self.size, dtype=np.float32), np.zeros(self.size, dtype=np.int64))
            self._buffers.arrays = found
        return found


def _term_bounds(data: Any, indptr: Any) -> npt.NDArray[np.float32]:
    """The largest posting score of every term (0 for a term without postings)."""
    if not len(data):
        return np.zeros(len(indptr) - 1, dtype=np.float32)
    padded = np.append(np.asarray(data, dtype=np.float32), np.float32(0))  # an empty last posting reads the pad
    peaks = np.maximum.reduceat(padded, np.asarray(indptr[:-1]))
    return np.where(np.diff(indptr) > 0, peaks, 0).astype(np.float32)


def _score_top_k(
    data: Any, indices: Any, indptr: Any, terms: Any, bounds: Any, k: int, scratch: Any, touched: Any
) -> tuple[Any, Any]:  # pragma: no cover - runs compiled; tests exercise it through search_ids
    """Sum the query terms' postings (terms by falling bound) into `scratch`, keep the k best
    (score, then lower row) in a min-heap, and leave `scratch` all zeros for the next query.

    A document counts as touched when its accumulator is still zero: every BM25 (lucene)
    posting score is positive, so zero means "not seen yet". Postings are sorted by row
    (bm25s's CSC layout), which the binary search relies on.
    """
    rest = np.zeros(len(terms) + 1, dtype=np.float64)
    for i in range(len(terms) - 1, -1, -1):
        rest[i] = rest[i + 1] + bounds[i]
    n_touched = 0
    closed = False  # no untouched document can still reach the top k
    for i in range(len(terms)):
        lo, hi = indptr[terms[i]], indptr[terms[i] + 1]
        if not closed and n_touched >= k:
            values = np.empty(n_touched, dtype=np.float32)
            for j in range(n_touched):
                values[j] = scratch[touched[j]]
            closed = rest[i] < np.partition(values, n_touched - k)[n_touched - k]
        if not closed:
            for p in range(lo, hi):
                d = indices[p]
                if scratch[d] == 0.0:
                    touched[n_touched] = d
                    n_touched += 1
                scratch[d] += data[p]
        elif n_touched * 24 < hi - lo:  # few candidates, long posting: look each one up
            posting = indices[lo:hi]
            for j in range(n_touched):
                pos = np.searchsorted(posting, touched[j])
                if pos < hi - lo and posting[pos] == touched[j]:
                    scratch[touched[j]] += data[lo + pos]
        else:
            for p in range(lo, hi):
                if scratch[indices[p]] != 0.0:
                    scratch[indices[p]] += data[p]
    size = min(k, n_touched)
    heap_s = np.empty(size, dtype=np.float32)
    heap_r = np.empty(size, dtype=np.int64)
    filled = 0
    for i in range(n_touched):
        d = touched[i]
        s = scratch[d]
        scratch[d] = 0.0
        if filled < size:
            j = filled
            filled += 1
            while j > 0:  # sift up: the worst kept hit stays at the root
                parent = (j - 1) // 2
                if heap_s[parent] < s or (heap_s[parent] == s and heap_r[parent] > d):
                    break
                heap_s[j], heap_r[j] = heap_s[parent], heap_r[parent]
                j = parent
            heap_s[j], heap_r[j] = s, d
        elif s > heap_s[0] or (s == heap_s[0] and d < heap_r[0]):
            j = 0
            while True:  # sift down from the root
                child = 2 * j + 1
                if child >= size:
                    break
                if child + 1 < size and (
                    heap_s[child + 1] < heap_s[child]
                    or (heap_s[child + 1] == heap_s[child] and heap_r[child + 1] > heap_r[child])
                ):
                    child += 1
                if s < heap_s[child] or (s == heap_s[child] and d > heap_r[child]):
                    break
                heap_s[j], heap_r[j] = heap_s[child], heap_r[child]
                j = child
            heap_s[j], heap_r[j] = s, d
    return heap_s, heap_r


@functools.cache
def _kernel() -> Callable[..., tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]]:
    """Compiled on first use, not at import; `cache=True` keeps the machine code on disk
    so later processes skip the ~1 s compilation."""
    from numba import njit

    compiled: Callable[..., tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]] = njit(cache=True, nogil=True)(
        _score_top_k
    )
    return compiled
