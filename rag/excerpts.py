"""Evidence chosen sentence by sentence across the top chunks, as much as a token budget allows.

A window cut around the question's words misses an answer sentence that shares few words with the
question ("How long was the video ...?" against "... a 15-second video ..."), and the model then
declines. Here every sentence of the top chunks is scored by its embedding's cosine to the query and
by an idf-weighted share of the query's words; the best sentences are taken with their neighbours
(the sentence before often names what "it" is), the best sentence of each of the two best documents
is always taken (a question that joins two things needs both), and each source keeps its sentences in
document order. With budget for everything, the sources are the whole chunks.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from index.types import Vectors
from rag.text import content_terms, sentence_spans
from rag.types import Hit

Embed = Callable[[Sequence[str]], Vectors]
Count = Callable[[str], int]


@dataclass(frozen=True)
class Weights:
    """How a sentence's score mixes its cosine to the query, its share of the query's words (idf-weighted)
    and its chunk's retrieval rank (1 / rank: the retriever saw the chunk whole)."""

    dense: float = 0.5
    lexical: float = 0.4
    rank: float = 0.1


# Meaning first, exact words second (rare names embed poorly but match exactly); sweep with
# `python -m eval.evidence_bench --dense-weights` (docs/evaluation.md).
WEIGHTS = Weights()
# About 3 ms a short sentence for the default ONNX int8 embedder on one thread: at most ~0.15 s a question.
MAX_EMBEDDED = 48
# A "sentence" longer than this (a table row, a run-on line) is cut at words, so it cannot eat the budget.
MAX_PIECE_TOKENS = 60
COVERED_DOCUMENTS = 2
# What a source's label and the blank line before it cost ("[2] (page 4): " and "\n\n"), about.
LABEL_TOKENS = 6


@dataclass(frozen=True)
class Sentence:
    """A candidate: `source` is its hit's position, `position` its place in that chunk, offsets in the chunk."""

    source: int
    position: int
    start: int
    end: int
    text: str
    tokens: int


@dataclass(frozen=True)
class Excerpt:
    """What the model reads of one hit: chosen sentences in document order ('' when none was chosen)."""

    hit: Hit
    text: str


def _pieces(text: str, start: int, end: int, count: Count) -> list[tuple[int, int]]:
    """The span, or consecutive word runs of it of at most about MAX_PIECE_TOKENS tokens each."""
    tokens = count(text[start:end])
    if tokens <= MAX_PIECE_TOKENS:
        return [(start, end)]
    words = [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]
    step = max(1, len(words) * MAX_PIECE_TOKENS // (tokens + 1))
    return [(words[i][0], words[min(i + step, len(words)) - 1][1]) for i in range(0, len(words), step)]


def split_hits(hits: Sequence[Hit], count: Count) -> list[Sentence]:
    """Every sentence of the hits, best hit first; a sentence an earlier chunk of its document holds
    (neighbouring chunks overlap) appears once."""
    seen: dict[str, set[str]] = {}
    found: list[Sentence] = []
    for source, hit in enumerate(hits):
        text, shown = hit.chunk.text, seen.setdefault(hit.chunk.doc_id, set())
        spans = [p for s, e in sentence_spans(text) for p in _pieces(text, s, e, count)]
        for position, (start, end) in enumerate(spans):
            sentence = text[start:end]
            if sentence not in shown:
                shown.add(sentence)
                found.append(Sentence(source, position, start, end, sentence, count(sentence)))
    return found


def lexical_scores(query: str, texts: Sequence[str]) -> list[float]:
    """The idf-weighted share of the query's content words each text holds, idf over these texts (BM25's)."""
    wanted = content_terms(query)
    terms = [content_terms(t) & wanted for t in texts]
    df = Counter(t for found in terms for t in found)
    n = len(texts)
    idf = {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in wanted}
    total = sum(idf.values())
    return [sum(idf[t] for t in found) / total if total else 0.0 for found in terms]


def dense_scores(query: str, texts: Sequence[str], embed: Embed | None) -> list[float]:
    """Cosine of each text to the query (0 past the first MAX_EMBEDDED, or without an embedder)."""
    scores = [0.0] * len(texts)
    shown = list(texts[:MAX_EMBEDDED])
    if embed is None or not shown:
        return scores
    vectors = np.asarray(embed([query, *shown]), dtype=np.float32)
    cosines = np.clip(vectors[1:] @ vectors[0], 0.0, 1.0)
    scores[: len(shown)] = [float(c) for c in cosines]
    return scores


def score_sentences(
    query: str, sentences: Sequence[Sentence], embed: Embed | None, weights: Weights = WEIGHTS
) -> list[float]:
    texts = [s.text for s in sentences]
    lexical = lexical_scores(query, texts) if weights.lexical else [0.0] * len(texts)
    dense = dense_scores(query, texts, embed) if weights.dense else [0.0] * len(texts)
    mix = weights
    return [mix.dense * d + mix.lexical * w + mix.rank / (1 + s.source) for s, d, w in zip(sentences, dense, lexical)]


def _covering(sentences: Sequence[Sentence], scores: Sequence[float], hits: Sequence[Hit]) -> list[int]:
    """The best sentence of each of the COVERED_DOCUMENTS best documents (in the retriever's order)."""
    documents = list(dict.fromkeys(h.chunk.doc_id for h in hits))[:COVERED_DOCUMENTS]
    best: list[int] = []
    for doc in documents:
        mine = [i for i, s in enumerate(sentences) if hits[s.source].chunk.doc_id == doc]
        if mine:
            best.append(max(mine, key=lambda i: (scores[i], -i)))
    return best


def choose(sentences: Sequence[Sentence], scores: Sequence[float], hits: Sequence[Hit], budget: int) -> set[int]:
    """Indices of the sentences to show: best first, each with its neighbours when they fit, within `budget`."""
    at = {(s.source, s.position): i for i, s in enumerate(sentences)}
    ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    chosen: set[int] = set()
    labelled: set[int] = set()
    used = 0
    for i in [*_covering(sentences, scores, hits), *ranked]:
        if i in chosen:
            continue
        s = sentences[i]
        around = [at.get((s.source, s.position + d)) for d in (-1, 1)]
        unit = [j for j in (i, *around) if j is not None and j not in chosen]
        for group in (unit, [i]):
            cost = sum(sentences[j].tokens for j in group) + (0 if s.source in labelled else LABEL_TOKENS)
            if used + cost <= budget:
                chosen.update(group)
                labelled.add(s.source)
                used += cost
                break
    return chosen


def _runs(sentences: Iterable[Sentence]) -> list[tuple[int, int]]:
    """(start, end) of each run of consecutive sentences, so a run keeps the chunk's own spacing."""
    runs: list[tuple[int, int]] = []
    last = -2
    for s in sorted(sentences, key=lambda s: s.position):
        if s.position == last + 1 and runs:
            runs[-1] = (runs[-1][0], s.end)
        else:
            runs.append((s.start, s.end))
        last = s.position
    return runs


def select_excerpts(
    query: str,
    hits: Sequence[Hit],
    count: Count,
    budget: int | None,
    *,
    embed: Embed | None = None,
    weights: Weights = WEIGHTS,
) -> tuple[Excerpt, ...]:
    """One `Excerpt` per hit, in the hits' order, together within `budget` tokens (labels included;
    None: no limit, the whole chunks). `count` is the backend's token counter, `embed` the query embedder."""
    sentences = split_hits(hits, count)
    whole = sum(s.tokens for s in sentences) + LABEL_TOKENS * len(hits)
    if budget is None or whole <= budget:
        chosen = set(range(len(sentences)))  # everything fits: nothing to score, nothing to embed
    else:
        chosen = choose(sentences, score_sentences(query, sentences, embed, weights), hits, budget)
    excerpts = []
    for source, hit in enumerate(hits):
        mine = [s for i, s in enumerate(sentences) if i in chosen and s.source == source]
        text = hit.chunk.text
        excerpts.append(Excerpt(hit, " ".join(text[a:b] for a, b in _runs(mine))))
    return tuple(excerpts)
