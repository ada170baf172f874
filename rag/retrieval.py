"""Retrievers over an `IndexStore`: dense (FAISS), lexical (BM25) and hybrid (both, fused).

One pipeline serves all three: first-stage candidates (with a path or document filter, searched
over the kept rows alone or over-fetched, so the filter never starves the top k) → near-duplicates collapsed → optional
re-ranking → optional MMR diversification → top k as `Hit`s. Every parameter is a
constructor default that one call can override; `None` means "use the default".
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar, Protocol, overload, runtime_checkable

from index.embedding import Embedder, Vectors, get_embedder
from index.store import IndexStore
from index.types import Chunk, SearchResult
from rag.documents import EXACT_FILTER_ROWS, catalog, search_rows
from rag.ranking import collapse_duplicates, fuse, mmr
from rag.rerank import Reranker
from rag.types import Hit
from rag.versions import prefer_asked_versions

FUSIONS = ("rrf", "minmax", "zscore")
# Chosen by measurement on SciFact train queries; see docs/benchmarks.md (retrieval).
DEFAULT_FUSION = "zscore"


@runtime_checkable
class Retriever(Protocol):
    def retrieve(self, query: str, k: int | None = None, **overrides: Any) -> list[Hit]: ...


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _unit(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0


@dataclass(frozen=True)
class RetrievalSettings:
    """Everything a retrieval call can be tuned by; validated on creation."""

    k: int = 5  # hits returned
    candidates: int = 100  # first-stage pool per retriever (at least 2k are fetched)
    fusion: str = DEFAULT_FUSION  # hybrid only: rrf | minmax | zscore
    dense_weight: float = 0.5  # hybrid only: dense share of the fusion, lexical gets the rest
    rrf_k: int = 60  # hybrid only: RRF damping constant
    rerank: bool = False  # re-score the top `rerank_candidates` with the reranker
    rerank_candidates: int = 30
    mmr: bool = False  # diversify the final k by maximal marginal relevance
    mmr_lambda: float = 0.7  # 1.0 = pure relevance, 0.0 = pure novelty
    dedup: bool = True  # collapse overlapping chunks of a document and near-identical texts
    dedup_threshold: float = 0.95  # cosine at or above which two chunks count as duplicates
    paths: tuple[str, ...] = ()  # only documents whose path or id matches one of these globs
    documents: tuple[str, ...] = ()  # only these documents (paths, ids or globs; one naming none is an error)
    prefer_versions: bool = True  # a question naming a version puts documents of other versions below

    def __post_init__(self) -> None:
        checks: list[tuple[str, bool, str]] = [
            ("k", _positive_int(self.k), "an integer of 1 or more"),
            ("candidates", _positive_int(self.candidates), "an integer of 1 or more"),
            ("fusion", self.fusion in FUSIONS, f"one of {', '.join(FUSIONS)}"),
            ("dense_weight", _unit(self.dense_weight), "a number from 0 to 1"),
            (
                "rrf_k",
                isinstance(self.rrf_k, int) and not isinstance(self.rrf_k, bool) and self.rrf_k >= 0,
                "an integer of 0 or more",
            ),
            ("rerank", isinstance(self.rerank, bool), "True or False"),
            ("rerank_candidates", _positive_int(self.rerank_candidates), "an integer of 1 or more"),
            ("mmr", isinstance(self.mmr, bool), "True or False"),
            ("mmr_lambda", _unit(self.mmr_lambda), "a number from 0 to 1"),
            ("dedup", isinstance(self.dedup, bool), "True or False"),
            ("prefer_versions", isinstance(self.prefer_versions, bool), "True or False"),
            ("dedup_threshold", _unit(self.dedup_threshold), "a cosine from 0 to 1"),
            *(
                (name, isinstance(value, tuple) and all(isinstance(p, str) and p for p in value), "a list of globs")
                for name, value in (("paths", self.paths), ("documents", self.documents))
            ),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r} is invalid: it must be {rule}")

    def with_overrides(self, overrides: Mapping[str, Any], valid: frozenset[str] | None = None) -> RetrievalSettings:
        """A copy with the given values; `None` values keep the default."""
        names = valid if valid is not None else frozenset(f.name for f in fields(self))
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"Unknown retrieval parameter(s) {', '.join(unknown)}. Valid: {', '.join(sorted(names))}")
        given = {name: value for name, value in overrides.items() if value is not None}
        for name in ("paths", "documents"):
            if name in given:
                given[name] = _as_patterns(given[name])
        return replace(self, **given) if given else self


def _as_patterns(value: Any) -> Any:
    """One glob or several; an empty list means no filter. Anything else is left for validation."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(sorted(value)) if isinstance(value, set | frozenset) else tuple(value)
    return value


@dataclass(frozen=True)
class _Candidate:
    row: int
    score: float
    scores: dict[str, float]


_COMMON = frozenset(f.name for f in fields(RetrievalSettings)) - {"fusion", "dense_weight", "rrf_k"}


class StoreRetriever(ABC):
    """The shared pipeline; subclasses only say how first-stage candidates are found."""

    parameters: ClassVar[frozenset[str]] = _COMMON  # the settings this retriever accepts
    uses_embedder: ClassVar[bool] = False

    def __init__(
        self,
        store: IndexStore,
        *,
        embedder: Embedder | None = None,
        reranker: Reranker | None = None,
        settings: RetrievalSettings | None = None,
        **defaults: Any,
    ) -> None:
        """`defaults` are RetrievalSettings fields (k=8, fusion="rrf", paths="reports/*", ...),
        applied over `settings`. A given reranker is used unless rerank=False.
        """
        if defaults.get("rerank") is None and settings is None:
            defaults["rerank"] = reranker is not None
        self.settings = (settings or RetrievalSettings()).with_overrides(defaults, self.parameters)
        if self.settings.rerank and reranker is None:
            raise ValueError(
                "rerank=True needs a reranker: pass reranker=get_reranker('cross-encoder', model_path=...)"
            )
        self.store = store
        self.reranker = reranker
        self.embedder = self._check_embedder(embedder) if self.uses_embedder else embedder

    def _check_embedder(self, embedder: Embedder | None) -> Embedder:
        emb = embedder or get_embedder(self.store.embedder_name)
        if (emb.name, emb.dim) != (self.store.embedder_name, self.store.dim):
            raise ValueError(
                f"Embedder '{emb.name}' (dim {emb.dim}) cannot query an index built with "
                f"'{self.store.embedder_name}' (dim {self.store.dim}); pass that embedder, or leave "
                "embedder=None to load it by the index's own name."
            )
        return emb

    def retrieve(self, query: str, k: int | None = None, **overrides: Any) -> list[Hit]:
        """The top `k` chunks for `query`; keyword overrides apply to this call only."""
        s = self.settings.with_overrides({"k": k, **overrides}, self.parameters)
        if s.rerank and self.reranker is None:
            raise ValueError("rerank=True needs a reranker: construct the retriever with reranker=...")
        if not query.strip():
            return []
        # Thread counts are the process's choice, not this call's: a serving process runs each query on one
        # thread (index.runtime.configure_process).
        allowed = self.allowed_rows(s.paths, s.documents)
        if allowed is not None and not allowed:
            return []
        pool = self._first_stage(query, s, allowed)
        if s.prefer_versions:  # before duplicates collapse: the asked version's twin passage is the one kept
            pool = prefer_asked_versions(query, pool, lambda c: self.store.chunks[c.row])
        if s.dedup:
            # MMR picks from the whole pool; otherwise only the hits returned or re-ranked need checking.
            needed = None if s.mmr else max(s.k, s.rerank_candidates if s.rerank else 0)
            pool = self._collapse(pool, s.dedup_threshold, needed)
        if s.rerank:
            pool = self._rerank(query, pool, s.rerank_candidates)
        if s.mmr:
            pool = self._diversify(pool, s.k, s.mmr_lambda)
        return [Hit(self.store.chunks[c.row], c.score, rank, c.scores) for rank, c in enumerate(pool[: s.k], start=1)]

    @abstractmethod
    def _first_stage(self, query: str, s: RetrievalSettings, allowed: frozenset[int] | None) -> list[_Candidate]:
        """Candidates best first, at most `_pool_size(s)`, only from `allowed` rows when given."""

    @staticmethod
    def _pool_size(s: RetrievalSettings) -> int:
        # Twice k, so collapsed duplicates and MMR still leave k hits to return.
        return max(s.candidates, 2 * s.k)

    def allowed_rows(self, patterns: tuple[str, ...], documents: tuple[str, ...] = ()) -> frozenset[int] | None:
        """Rows of the documents whose path or id matches a glob of `patterns` (which may match none) and
        that `documents` names (each of which must name one: UnknownDocuments); None when there is no filter."""
        return catalog(self.store).allowed_rows(patterns, documents) if patterns or documents else None

    def _search(self, query: str | Vectors, want: int, allowed: frozenset[int] | None) -> SearchResult:
        """Top `want` rows for a text (BM25) or a vector (FAISS), fetching deeper while a filter removes too many."""
        if allowed is not None and len(allowed) <= EXACT_FILTER_ROWS:
            return search_rows(self.store, query, want, allowed)
        total = len(self.store)
        fetch = want if allowed is None else min(total, want * 4)
        while True:
            if isinstance(query, str):
                [found] = self.store.search_lexical([query], fetch)
            else:
                [found] = self.store.search_dense(query, fetch)
            if allowed is None:
                return found
            pairs = [(r, s) for r, s in zip(found.rows, found.scores, strict=True) if r in allowed][:want]
            if len(pairs) >= want or fetch >= total or len(found.rows) < fetch:
                return SearchResult(tuple(r for r, _ in pairs), tuple(s for _, s in pairs))
            fetch = min(total, fetch * 4)

    def _embed(self, query: str) -> Vectors:
        assert self.embedder is not None  # set in __init__ whenever uses_embedder
        return self.embedder.encode([query], batch_size=1)

    def _collapse(self, pool: list[_Candidate], threshold: float, needed: int | None) -> list[_Candidate]:
        """Near-duplicates dropped; past the first `needed` distinct hits the pool is cut.

        Only the pool's own vectors are read, and chunk records only as far as the scan goes:
        at a million chunks, all vectors are 1.5 GB and parsing 200 records is most of a query.
        """
        chunks = _LazyChunks(self.store, [c.row for c in pool])
        vectors = self.store.vectors([c.row for c in pool]) if threshold < 1.0 and pool else None
        return [pool[i] for i in collapse_duplicates(chunks, vectors, threshold, needed)]

    def _rerank(self, query: str, pool: list[_Candidate], depth: int) -> list[_Candidate]:
        """Re-score the head of the pool; the tail keeps its first-stage order below it."""
        assert self.reranker is not None  # checked in retrieve()
        head, tail = pool[:depth], pool[depth:]
        scores = self.reranker.score(query, [self.store.chunks[c.row].indexed_text for c in head])
        if len(scores) != len(head):
            raise ValueError(f"Reranker '{self.reranker.name}' returned {len(scores)} scores for {len(head)} passages")
        order = sorted(range(len(head)), key=lambda i: -scores[i])  # stable: ties keep first-stage order
        reranked = [_Candidate(head[i].row, scores[i], {**head[i].scores, "rerank": scores[i]}) for i in order]
        return reranked + tail

    def _diversify(self, pool: list[_Candidate], k: int, lambda_: float) -> list[_Candidate]:
        vectors = self.store.vectors([c.row for c in pool])
        picked = mmr([c.score for c in pool], vectors, k, lambda_)
        return [_Candidate(pool[i].row, value, {**pool[i].scores, "mmr": value}) for i, value in picked]


class DenseRetriever(StoreRetriever):
    """Nearest chunks by cosine of MiniLM (or the index's) embeddings, via FAISS."""

    uses_embedder = True

    def _first_stage(self, query: str, s: RetrievalSettings, allowed: frozenset[int] | None) -> list[_Candidate]:
        found = self._search(self._embed(query), self._pool_size(s), allowed)
        return [_Candidate(r, sc, {"dense": sc}) for r, sc in zip(found.rows, found.scores, strict=True)]


class LexicalRetriever(StoreRetriever):
    """BM25 over stemmed words, without stop words (bm25s)."""

    def _first_stage(self, query: str, s: RetrievalSettings, allowed: frozenset[int] | None) -> list[_Candidate]:
        found = self._search(query, self._pool_size(s), allowed)
        return [_Candidate(r, sc, {"lexical": sc}) for r, sc in zip(found.rows, found.scores, strict=True)]


class HybridRetriever(StoreRetriever):
    """Dense and BM25 candidates fused by reciprocal rank or by normalized scores."""

    parameters = frozenset(f.name for f in fields(RetrievalSettings))
    uses_embedder = True

    def _first_stage(self, query: str, s: RetrievalSettings, allowed: frozenset[int] | None) -> list[_Candidate]:
        want = self._pool_size(s)
        # BM25 runs while the query is embedded (its kernel and torch both release the GIL), which
        # hides it behind the embedding; beside FAISS alone it gains nothing at 1M chunks, both
        # being memory-bound on 2 cores (docs/benchmarks.md, scale).
        lexical: Future[SearchResult] = _lexical_worker().submit(self._search, query, want, allowed)
        dense = self._search(self._embed(query), want, allowed)
        sides = {"dense": dense, "lexical": lexical.result()}
        fused = fuse(s.fusion, sides, {"dense": s.dense_weight, "lexical": 1.0 - s.dense_weight}, s.rrf_k)
        raw = {name: dict(zip(found.rows, found.scores, strict=True)) for name, found in sides.items()}
        return [
            _Candidate(row, score, {**{n: v[row] for n, v in raw.items() if row in v}, "fused": score})
            for row, score in zip(fused.rows[:want], fused.scores[:want], strict=True)
        ]


_WORKER: ThreadPoolExecutor | None = None
_WORKER_LOCK = threading.Lock()


def _lexical_worker() -> ThreadPoolExecutor:
    """Threads for the BM25 side (two, so concurrent chat sessions do not queue), made on first use."""
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is None:
            _WORKER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rag-bm25")
        return _WORKER


DEFAULT_RETRIEVER = "hybrid"
RETRIEVERS: dict[str, type[StoreRetriever]] = {
    DEFAULT_RETRIEVER: HybridRetriever,
    "dense": DenseRetriever,
    "lexical": LexicalRetriever,
}


def get_retriever(name: str, store: IndexStore, **options: Any) -> StoreRetriever:
    """A retriever by registry name over `store`; options are its constructor defaults."""
    if name not in RETRIEVERS:
        raise ValueError(f"Unknown retriever '{name}'. Choose one of: {', '.join(RETRIEVERS)}")
    return RETRIEVERS[name](store, **options)


class _LazyChunks(Sequence[Chunk]):
    """The chunks of some store rows, each parsed when first asked for."""

    def __init__(self, store: IndexStore, rows: list[int]) -> None:
        self._store, self._rows = store, rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, i: int) -> Chunk: ...
    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...
    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return [self._store.chunks[r] for r in self._rows[i]]
        return self._store.chunks[self._rows[i]]
