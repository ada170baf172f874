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
import hashlib
import itertools
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from index.types import SearchResult

BOUNDS = "term_bounds.npy"  # ours, beside bm25s's own files
# Each row's term ids (flat, with row offsets) and a digest of its text: a re-index tokenizes
# only the texts it has not seen, since tokenizing is most of building BM25 over SciFact.
TERMS, TERM_OFFSETS, TEXT_KEYS = "row_terms.npy", "row_terms.offsets.npy", "row_text_keys.npy"
LEXICAL_SETTINGS: dict[str, Any] = {"library": "bm25s", "stopwords": "en", "stemmer": "english", "method": "lucene"}


def new_tokenizer() -> Any:
    """The project's BM25 tokenizer (LEXICAL_SETTINGS) with an empty vocabulary."""
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
        self._rows: tuple[list[list[int]], npt.NDArray[np.void]] | None = None  # set by build, for save

    @classmethod
    def build(cls, texts: Sequence[str], *, reuse: Path | None = None) -> LexicalIndex:
        """BM25 over `texts`; with `reuse` (a saved index's folder), texts it holds keep their term ids."""
        keys = text_keys(texts)
        tokenizer, ids = _tokenize_reusing(texts, keys, reuse)
        return cls.from_term_ids(tokenizer, ids, keys)

    @classmethod
    def from_term_ids(cls, tokenizer: Any, ids: list[list[int]], keys: npt.NDArray[np.void]) -> LexicalIndex:
        """BM25 over rows already tokenized by `tokenizer` (e.g. shards' term statistics merged, index/shards.py);
        `keys` are the rows' `text_keys`. Document frequencies and lengths come from `ids` alone."""
        import bm25s

        retriever = bm25s.BM25(method=LEXICAL_SETTINGS["method"])
        # bm25s's own scoring loop is a Python pass per document (1.3 s over SciFact's 10k chunks);
        # the same matrix in a few array operations, then bm25s files as usual.
        retriever.build_index_from_ids = functools.partial(_lucene_scores, retriever)
        retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=tokenizer.get_vocab_dict()), show_progress=False)
        index = cls(retriever, tokenizer, len(ids))
        index._rows = (ids, keys)
        return index

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._retriever.save(str(folder), show_progress=False)
        self._tokenizer.save_vocab(str(folder))
        self._tokenizer.save_stopwords(str(folder))
        np.save(folder / BOUNDS, self._bounds)
        if self._rows is not None:
            ids, keys = self._rows
            lengths = np.fromiter((len(r) for r in ids), dtype=np.int64, count=len(ids))
            flat = np.fromiter((t for r in ids for t in r), dtype=np.int32, count=int(lengths.sum()))
            np.save(folder / TERMS, flat)
            np.save(folder / TERM_OFFSETS, np.concatenate(([0], np.cumsum(lengths))))
            np.save(folder / TEXT_KEYS, keys)

    @classmethod
    def load(cls, folder: Path, size: int) -> LexicalIndex:
        import bm25s

        # Memory-mapped: a 1M-chunk matrix opens at once and pages in as queries touch it.
        retriever = bm25s.BM25.load(str(folder), mmap=True, show_progress=False)
        tokenizer = new_tokenizer()
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

    def search_rows(self, query: str, rows: npt.NDArray[np.int64], k: int) -> SearchResult:
        """The best `k` of `rows` (ascending) with a positive score, as `search` would rank them: each query
        term's postings are looked up for those rows alone, so a narrow filter costs what it keeps."""
        scores = np.zeros(len(rows), dtype=np.float32)
        for term in self.query_ids(query):
            lo, hi = int(self._indptr[term]), int(self._indptr[term + 1])
            at = np.searchsorted(self._indices[lo:hi], rows)
            found = at < hi - lo
            found[found] = self._indices[lo + at[found]] == rows[found]
            scores[found] += self._data[lo + at[found]]
        keep = np.flatnonzero(scores > 0)
        best = keep[np.lexsort((rows[keep], -scores[keep]))][:k]
        return SearchResult(tuple(int(r) for r in rows[best]), tuple(float(s) for s in scores[best]))

    def _scratch(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        found: tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]] | None = getattr(self._buffers, "arrays", None)
        if found is None:
            found = (np.zeros(self.size, dtype=np.float32), np.zeros(self.size, dtype=np.int64))
            self._buffers.arrays = found
        return found


def _lucene_scores(retriever: Any, unique_token_ids: Sequence[int], corpus_token_ids: Sequence[Sequence[int]],
                   **_: Any) -> dict[str, Any]:
    """bm25s's (term, document) lucene score matrix in CSC layout, as its `build_index_from_ids` makes it.

    Same float64 arithmetic cast to float32, postings sorted by document within each term;
    tests/index/test_lexical.py checks it against bm25s's own build.
    """
    retriever.nonoccurrence_array = None  # lucene has none; save() reads the attribute
    n_docs, n_vocab = len(corpus_token_ids), len(unique_token_ids)
    lengths = np.fromiter((len(d) for d in corpus_token_ids), dtype=np.int64, count=n_docs)
    flat = np.fromiter(itertools.chain.from_iterable(corpus_token_ids), dtype=np.int64, count=int(lengths.sum()))
    pairs, tf = np.unique(flat * max(n_docs, 1) + np.repeat(np.arange(n_docs), lengths), return_counts=True)
    terms, docs = np.divmod(pairs, max(n_docs, 1))
    df = np.bincount(terms, minlength=n_vocab)
    with np.errstate(divide="ignore"):
        idf = np.where(df > 0, np.log(1 + (n_docs - df + 0.5) / (df + 0.5)), 0).astype(np.float32)
    k1, b = retriever.k1, retriever.b
    norm = k1 * ((1 - b) + b * lengths / lengths.mean()) if n_docs else lengths.astype(np.float64)
    tfc = tf / (norm[docs] + tf)
    data = (idf[terms].astype(np.float64) * tfc).astype(retriever.dtype)
    index_type = np.int32 if len(data) < 2**31 else np.int64  # what scipy's csc_matrix would pick
    indptr = np.concatenate(([0], np.cumsum(df))).astype(index_type)
    return {"data": data, "indices": docs.astype(np.int32), "indptr": indptr, "num_docs": n_docs}


def text_keys(texts: Sequence[str]) -> npt.NDArray[np.void]:
    return np.array([hashlib.blake2b(t.encode("utf-8"), digest_size=16).digest() for t in texts], dtype="V16")


def _tokenize_reusing(
    texts: Sequence[str], keys: npt.NDArray[np.void], reuse: Path | None
) -> tuple[Any, list[list[int]]]:
    """The tokenizer (its vocabulary covering every text) and each text's term ids.

    Reused ids stay valid because the saved vocabulary is extended, never renumbered. Terms
    of texts gone since then linger with no postings; once they are most of the vocabulary,
    everything is tokenized afresh so it cannot grow without bound.
    """
    tokenizer = new_tokenizer()
    found = _saved_rows(reuse, tokenizer) if reuse is not None else None
    if found is None:
        tokenizer = new_tokenizer()
        return tokenizer, tokenizer.tokenize(list(texts), return_as="ids", show_progress=False)
    flat, offsets, row_of = found
    ids: list[list[int] | None] = []
    missing: list[int] = []
    for i, key in enumerate(keys.tolist()):
        row = row_of.get(key)
        if row is None:
            missing.append(i)
            ids.append(None)
        else:
            ids.append(flat[offsets[row] : offsets[row + 1]].tolist())
    fresh = tokenizer.tokenize([texts[i] for i in missing], update_vocab=True, return_as="ids", show_progress=False)
    for i, row_ids in zip(missing, fresh, strict=True):
        ids[i] = row_ids
    done: list[list[int]] = ids  # type: ignore[assignment]  # every None was filled just above
    used = len({t for r in done for t in r})
    if len(tokenizer.get_vocab_dict()) > 2 * used + 1000:
        return _tokenize_reusing(texts, keys, None)
    return tokenizer, done


def _saved_rows(folder: Path, tokenizer: Any) -> tuple[npt.NDArray[np.int32], Any, dict[bytes, int]] | None:
    """A saved index's row term ids and text digests, its vocabulary loaded into `tokenizer`."""
    files = [folder / n for n in (TERMS, TERM_OFFSETS, TEXT_KEYS, "vocab.tokenizer.json")]
    if not all(f.is_file() for f in files):
        return None  # written before rows were kept: tokenize everything once
    try:
        flat, offsets, keys = (np.load(f) for f in files[:3])
        tokenizer.load_vocab(str(folder))
    except (OSError, ValueError):
        return None  # damaged: a fresh tokenization is slower, never wrong
    if len(offsets) != len(keys) + 1 or (len(offsets) and int(offsets[-1]) != len(flat)):
        return None
    if len(flat) and int(flat.max()) >= len(tokenizer.get_vocab_dict()):
        return None
    return flat, offsets.tolist(), {k: i for i, k in enumerate(keys.tolist())}


def _term_bounds(data: Any, indptr: Any) -> npt.NDArray[np.float32]:
    """The largest posting score of every term (0 for a term without postings)."""
    if not len(data):
        return np.zeros(len(indptr) - 1, dtype=np.float32)
    padded = np.append(np.asarray(data, dtype=np.float32), np.float32(0))  # an empty last posting reads the pad
    peaks = np.maximum.reduceat(padded, np.asarray(indptr[:-1]))
    return np.where(np.diff(indptr) > 0, peaks, 0).astype(np.float32)


# One function on purpose (hence noqa C901): numba compiles it whole; split into parts, each part
# would be a separately compiled call inside the per-posting loop.
def _score_top_k(  # noqa: C901
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
