"""Pure ranking functions: rank fusion, score normalization, MMR, duplicate collapsing.

Rankings are `SearchResult`s (rows best first, with their scores). Nothing here
touches an index, so every rule can be checked by hand on a few rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from index.types import Chunk, SearchResult


def _sorted(scores: Mapping[int, float]) -> SearchResult:
    """Best score first; ties go to the smaller row so runs are reproducible."""
    order = sorted(scores, key=lambda row: (-scores[row], row))
    return SearchResult(tuple(order), tuple(scores[row] for row in order))


def reciprocal_rank_fusion(
    rankings: Mapping[str, SearchResult], weights: Mapping[str, float], rrf_k: int = 60
) -> SearchResult:
    """Weighted RRF: a row scores sum(weight / (rrf_k + rank)) over the rankings holding it.

    Only ranks count, so BM25's unbounded scores and cosines need no common scale.
    """
    fused: dict[int, float] = {}
    for name, ranking in rankings.items():
        weight = weights.get(name, 1.0)
        for rank, row in enumerate(ranking.rows, start=1):
            fused[row] = fused.get(row, 0.0) + weight / (rrf_k + rank)
    return _sorted(fused)


def minmax(scores: Sequence[float]) -> list[float]:
    """Scale to [0, 1]; a ranking whose scores are all equal maps to 1.0."""
    if not scores:
        return []
    low, high = min(scores), max(scores)
    if high == low:
        return [1.0] * len(scores)
    return [(s - low) / (high - low) for s in scores]


def zscore(scores: Sequence[float]) -> list[float]:
    """Standard scores; a ranking whose scores are all equal maps to 0.0."""
    if not scores:
        return []
    values = np.asarray(scores, dtype=np.float64)
    std = float(values.std())
    if std == 0.0:
        return [0.0] * len(scores)
    return [float(v) for v in (values - values.mean()) / std]


NORMALIZERS: dict[str, Callable[[Sequence[float]], list[float]]] = {"minmax": minmax, "zscore": zscore}


def normalized_fusion(
    rankings: Mapping[str, SearchResult], weights: Mapping[str, float], method: str = "minmax"
) -> SearchResult:
    """Weighted sum of normalized scores.

    A row missing from a ranking fell below that ranking's cut-off, so it gets the
    ranking's lowest normalized score (0 for min-max): it is at most as good as the
    worst row returned, and a missing row must never beat a returned one.
    """
    if method not in NORMALIZERS:
        raise ValueError(f"Unknown normalization '{method}'. Choose one of: {', '.join(NORMALIZERS)}")
    normalize = NORMALIZERS[method]
    per_ranking: list[tuple[float, dict[int, float], float]] = []
    for name, ranking in rankings.items():
        values = normalize(ranking.scores)
        floor = 0.0 if method == "minmax" or not values else min(values)
        per_ranking.append((weights.get(name, 1.0), dict(zip(ranking.rows, values, strict=True)), floor))
    rows = {row for _, values, _ in per_ranking for row in values}
    fused = {row: sum(w * values.get(row, floor) for w, values, floor in per_ranking) for row in rows}
    return _sorted(fused)


def fuse(
    method: str, rankings: Mapping[str, SearchResult], weights: Mapping[str, float], rrf_k: int = 60
) -> SearchResult:
    """Fuse by name: 'rrf', or a normalized-score fusion ('minmax', 'zscore')."""
    if method == "rrf":
        return reciprocal_rank_fusion(rankings, weights, rrf_k)
    return normalized_fusion(rankings, weights, method)


def mmr(
    relevance: Sequence[float], vectors: npt.NDArray[np.float32], k: int, lambda_: float
) -> list[tuple[int, float]]:
    """Maximal marginal relevance: (position, MMR value) in selection order.

    Each step takes the candidate maximising lambda * rel - (1 - lambda) * max cosine
    to those already taken. Relevance is min-max scaled first so it shares the
    cosine's range whatever produced it (RRF scores are ~0.03, cross-encoder logits ~10).
    Ties go to the earlier position.
    """
    n = len(relevance)
    if n == 0 or k <= 0:
        return []
    rel = np.asarray(minmax(relevance), dtype=np.float64)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    closest = np.full(n, -np.inf)  # max similarity to the selection; -inf until something is taken
    taken = np.zeros(n, dtype=bool)
    picked: list[tuple[int, float]] = []
    for _ in range(min(k, n)):
        penalty = np.where(np.isinf(closest), 0.0, closest)
        value = lambda_ * rel - (1.0 - lambda_) * penalty
        value[taken] = -np.inf
        best = int(np.argmax(value))
        picked.append((best, float(value[best])))
        taken[best] = True
        # One matrix-vector product per pick, never a full similarity matrix: numpy's
        # multi-threaded matrix products stall for milliseconds on a busy 2-core box.
        closest = np.maximum(closest, unit @ unit[best])
    return picked


@lru_cache(maxsize=4096)  # popular chunks come back query after query
def _text_key(text: str) -> str:
    return " ".join(text.lower().split())


def _shares_half(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    """True when two spans share at least half of the shorter one. A chunker's usual
    overlap (a fifth of a chunk) stays below that: neighbours hold different text."""
    shared = min(a_end, b_end) - max(a_start, b_start)
    return shared > 0 and 2 * shared >= min(a_end - a_start, b_end - b_start)


def collapse_duplicates(
    chunks: Sequence[Chunk],
    vectors: npt.NDArray[np.float32] | None = None,
    threshold: float = 1.0,
    limit: int | None = None,
) -> list[int]:
    """Positions to keep, in order: a later chunk is dropped when it shares at least
    half its span with a kept chunk of the same document, has the same text (case and
    white space aside), or, given `vectors`, has cosine >= `threshold` with a kept chunk.

    Stops once `limit` are kept: a query asking for 5 hits need not check a pool of 200.
    """
    kept: list[int] = []
    texts: set[str] = set()
    spans: dict[str, list[tuple[int, int]]] = {}
    near = vectors if vectors is not None and threshold < 1.0 else None
    kept_vectors = np.zeros((len(chunks), near.shape[1] if near is not None else 0), dtype=np.float32)
    for i, chunk in enumerate(chunks):
        if limit is not None and len(kept) >= limit:
            break
        key = _text_key(chunk.text)
        same_doc = spans.setdefault(chunk.doc_id, [])
        if key in texts or any(_shares_half(chunk.start, chunk.end, s, e) for s, e in same_doc):
            continue
        if near is not None:
            if kept and float((kept_vectors[: len(kept)] @ near[i]).max()) >= threshold:
                continue
            kept_vectors[len(kept)] = near[i]
        kept.append(i)
        texts.add(key)
        same_doc.append((chunk.start, chunk.end))
    return kept
