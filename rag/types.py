"""Typed records that cross the rag layer's seams: hits, citations, answers and the answer stream."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from index.types import Chunk


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk.

    `score` is the number the final order was decided by (fused, re-ranked or, with
    MMR, the marginal relevance at selection time); `rank` is 1-based. `scores` keeps
    each stage's own score by name ("dense", "lexical", "fused", "rerank", "mmr") so
    prompts, citations and the UI can show where a hit came from.
    """

    chunk: Chunk
    score: float
    rank: int
    scores: Mapping[str, float] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ValueError(f"rank={self.rank} must be 1 or more (ranks are 1-based)")
        # A read-only copy: a Hit handed to several consumers cannot be edited by one of them.
        object.__setattr__(self, "scores", MappingProxyType(dict(self.scores)))


@dataclass(frozen=True)
class Citation:
    """One source backing one answer sentence.

    `marker` is the number shown in the answer text and indexes `Answer.sources`
    (1-based). `evidence_*` is the sentence of the chunk that best matches the answer
    sentence, as document offsets, so a UI can highlight it inside the passage.
    """

    marker: int
    chunk: Chunk
    sentence: str
    support: float
    lexical: float
    semantic: float
    reattributed: bool
    evidence_start: int
    evidence_end: int

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id

    @property
    def start(self) -> int:
        return self.chunk.start

    @property
    def end(self) -> int:
        return self.chunk.end

    @property
    def page(self) -> int | None:
        return self.chunk.page

    @property
    def evidence(self) -> str:
        offset = self.chunk.start
        return self.chunk.text[self.evidence_start - offset : self.evidence_end - offset]


@dataclass(frozen=True)
class Timings:
    """Seconds spent in each step; `first_token` is from the call to the first streamed text."""

    rewrite: float = 0.0
    retrieve: float = 0.0
    first_token: float = 0.0
    generate: float = 0.0
    check: float = 0.0
    total: float = 0.0


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    answer_tokens: int = 0


@dataclass(frozen=True, kw_only=True)
class Answer:
    """An answer whose every citation was checked against the passage it points at.

    `sources` are the passages the model saw, numbered from 1 as the markers in `text`.
    When `refused`, `text` says the documents don't say, and `sources` are the closest passages.
    `hits` is the ranked retrieval the answer was drawn from (deeper than `sources`), so an
    evaluation scores retrieval without retrieving again. `looped` says the model fell into a loop,
    repeating itself, and was stopped: `text` and `raw_text` keep one copy (rag/repetition.py).
    """

    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    sources: tuple[Hit, ...] = ()
    refused: bool = False
    unsupported_sentences: tuple[str, ...] = ()
    timings: Timings = field(default_factory=Timings)
    usage: Usage = field(default_factory=Usage)
    query: str = ""
    raw_text: str = ""
    refusal_reason: str = ""
    hits: tuple[Hit, ...] = ()
    looped: bool = False


class AnswerStream:
    """One answer being written: iterating yields the text pieces as the model writes them;
    `answer` is the checked `Answer` once the stream is done (reading it first finishes the stream).

    The shape of simonw/llm's `Response`: one object to stream from and to read the result of.
    """

    def __init__(self, items: Iterator[str | Answer]) -> None:
        self._items = items
        self._answer: Answer | None = None
        self._pieces: list[str] = []

    def __iter__(self) -> Iterator[str]:
        for item in self._items:
            if isinstance(item, Answer):
                self._answer = item
            else:
                self._pieces.append(item)
                yield item

    @property
    def done(self) -> bool:
        return self._answer is not None

    @property
    def answer(self) -> Answer:
        if self._answer is None:
            for _ in self:
                pass
        if self._answer is None:
            raise RuntimeError("The answer stream ended without an answer.")
        return self._answer

    @property
    def streamed_text(self) -> str:
        """The text pieces seen so far, joined (the model's draft, before citations are checked)."""
        return "".join(self._pieces)

    def close(self) -> None:
        """Stop the answer where it is, for a reader who left: the model stops writing and is free for the next one.

        Without this, an abandoned stream holds the model (the llama.cpp backend generates one answer at
        a time) until the garbage collector happens to find it.
        """
        close = getattr(self._items, "close", None)
        if callable(close):
            close()
