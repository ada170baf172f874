"""Checked citations: every answer sentence is tied to the retrieved chunk that supports it.

Small models cite nothing or the wrong source about half the time, so the model's markers
are only a hint: each sentence is scored against every retrieved chunk (content-word
overlap and embedding similarity), kept where a cited chunk supports it, moved to the
best-supporting chunk where it does not, and flagged unsupported where nothing does.
In the "aligned" mode a chunk also stops supporting a sentence it contradicts: a number,
negation, name or role that does not match its best evidence (rag/entailment.py). It flags
97.6% of generated contradictions (docs/citation-check.md) but declined real answers on news
dev (dev-06, dev-07) and keeps fewer of SciFact's human-written claims, so "overlap" stays the
default until an A/B on the answer sets says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.embedding import Vectors
from index.types import Chunk
from rag.claimless import has_claim
from rag.entailment import mismatches
from rag.text import MARKER, content_terms, sentence_spans, split_sentences, strip_markers
from rag.types import Citation, Hit

Embed = Callable[[Sequence[str]], Vectors]

SUPPORT_THRESHOLD = 0.5
_LEXICAL_WEIGHT = 0.7
_MAX_RANGE = 20
# "aligned": overlap and embedding support, vetoed by a contradiction of the evidence;
# "overlap": the support score alone (before issue 21).
MODES = ("aligned", "overlap")


@dataclass(frozen=True)
class CheckedText:
    text: str
    citations: tuple[Citation, ...]
    unsupported_sentences: tuple[str, ...]
    supported_sentences: int


def parse_markers(text: str, n_sources: int) -> list[int]:
    """Source numbers cited in `text` ([n], [n, m], [n-m]), in order, dropping ones that point at nothing."""
    found: list[int] = []
    for match in MARKER.finditer(text):
        for part in re.split(r"\s*(?:,|and)\s*", match.group(1)):
            bounds = [int(x) for x in re.split(r"\s*[-–]\s*", part) if x]
            lo, hi = bounds[0], bounds[-1]
            numbers = range(lo, hi + 1) if 0 <= hi - lo <= _MAX_RANGE else [lo, hi]
            found.extend(n for n in numbers if 1 <= n <= n_sources and n not in found)
    return found


def lexical_support(sentence: str, passage: str, question: str = "") -> float:
    """Share of the sentence's content words found in the passage.

    Answers restate their question, so the words the sentence adds to the question (the
    actual claim) must be found too: the score is the lower of the two shares.
    """
    terms = content_terms(strip_markers(sentence))
    if not terms:
        return 0.0
    found = content_terms(passage)
    share = len(terms & found) / len(terms)
    novel = terms - content_terms(question) if question else set()
    return min(share, len(novel & found) / len(novel)) if novel else share


_QUOTED = re.compile(r"[\"“”]([^\"“”]{2,300})[\"“”]")


def _squash(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower().replace("’", "'")).split())


def quotes_found(sentence: str, passage: str) -> bool:
    """Whether every quotation in `sentence` appears word for word in `passage`."""
    quotes = [_squash(q) for q in _QUOTED.findall(sentence)]
    squashed = f" {_squash(passage)} "
    return all(f" {q} " in squashed for q in quotes if q)


def best_evidence(sentence: str, chunk: Chunk) -> tuple[int, int]:
    """Document offsets of the chunk sentence that shares most content words with `sentence`."""
    terms = content_terms(strip_markers(sentence))
    best, best_score = (chunk.start, chunk.end), -1.0
    for start, end in sentence_spans(chunk.text):
        part = chunk.text[start:end]
        score = len(terms & content_terms(part)) / (1 + 0.01 * len(part))
        if score > best_score:
            best_score, best = score, (chunk.start + start, chunk.start + end)
    return best


class CitationChecker:
    """Scores answer sentences against retrieved chunks and fixes their citations."""

    def __init__(
        self, embed: Embed | None = None, *, threshold: float = SUPPORT_THRESHOLD, mode: str = "overlap"
    ) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold={threshold} must be between 0 and 1")
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} must be one of {', '.join(MODES)}")
        self._embed = embed
        self.threshold = threshold
        self.mode = mode

    def support_matrix(
        self, sentences: Sequence[str], hits: Sequence[Hit], question: str = ""
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(combined support, lexical support, semantic similarity), each [sentences, hits]."""
        lexical = np.array(
            [[lexical_support(s, h.chunk.text, question) for h in hits] for s in sentences], dtype=np.float32
        )
        semantic = np.zeros_like(lexical)
        if self._embed is not None and sentences and hits:
            vectors = self._embed([strip_markers(s) for s in sentences] + [h.chunk.text for h in hits])
            semantic = np.clip(vectors[: len(sentences)] @ vectors[len(sentences) :].T, 0.0, 1.0)
        combined = _LEXICAL_WEIGHT * lexical + (1 - _LEXICAL_WEIGHT) * semantic
        # Words in quotation marks claim to be someone's exact words: a passage that does not
        # hold them verbatim cannot support the sentence, however close the rest is.
        quoted = np.array([[quotes_found(s, h.chunk.text) for h in hits] for s in sentences], dtype=np.float32)
        combined = combined * quoted.reshape(combined.shape) if quoted.size else combined
        if self.mode == "aligned" and combined.size:
            # Only chunks that would support the sentence are read closely: the veto is the costly part.
            agree = [[not (c >= self.threshold and mismatches(s, h.chunk)) for h, c in zip(hits, row)]
                     for s, row in zip(sentences, combined.reshape(len(sentences), len(hits)))]  # fmt: skip
            combined = combined * np.array(agree, dtype=np.float32).reshape(combined.shape)
        shape = (len(sentences), len(hits))
        return combined.reshape(shape), lexical.reshape(shape), semantic.reshape(shape)

    def check(self, answer: str, hits: Sequence[Hit], question: str = "") -> CheckedText:
        """`question`, when given, keeps a sentence that merely restates it from counting as supported.

        A sentence with no claim of its own ("This is stated in [3].") is left out of the text: cited,
        it would get a chip that supports nothing (rag/claimless.py).
        """
        sentences = [s for s in split_sentences(answer) if has_claim(s)]
        support, lexical, semantic = self.support_matrix(sentences, hits, question)
        citations: list[Citation] = []
        unsupported: list[str] = []
        rebuilt: list[str] = []
        for i, sentence in enumerate(sentences):
            chosen = self._choose(parse_markers(sentence, len(hits)), support[i])
            body = strip_markers(sentence)
            if not chosen:
                unsupported.append(body)
                rebuilt.append(body)
                continue
            for marker, moved in chosen:
                j = marker - 1
                ev_start, ev_end = best_evidence(body, hits[j].chunk)
                citations.append(
                    Citation(
                        marker,
                        hits[j].chunk,
                        body,
                        float(support[i, j]),
                        float(lexical[i, j]),
                        float(semantic[i, j]),
                        moved,
                        ev_start,
                        ev_end,
                    )
                )
            rebuilt.append(_with_markers(body, [m for m, _ in chosen]))
        supported = len(sentences) - len(unsupported)
        return CheckedText(" ".join(rebuilt), tuple(citations), tuple(unsupported), supported)

    def _choose(self, cited: list[int], row: np.ndarray) -> list[tuple[int, bool]]:
        """Markers to keep: cited ones that support the sentence, else the best supporter."""
        kept = [(m, False) for m in cited if row[m - 1] >= self.threshold]
        if kept or row.size == 0:
            return kept
        best = int(np.argmax(row))
        return [(best + 1, True)] if row[best] >= self.threshold else []


def _with_markers(body: str, markers: list[int]) -> str:
    tags = "".join(f"[{m}]" for m in markers)
    match = re.search(r"[.!?:;]+[\"'”’)]*$", body)
    if match:
        return f"{body[: match.start()]} {tags}{body[match.start() :]}"
    return f"{body} {tags}"
