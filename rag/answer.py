"""`ask()`: retrieve, prompt, generate, check citations, and decline when the documents don't say."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

from index.store import IndexStore
from rag.citations import Citation, CitationChecker, lexical_support
from rag.conversation import Conversation, rewrite_query
from rag.llm.base import LLMBackend
from rag.prompting import REFUSAL, Prompt, build_prompt
from rag.types import Hit

# Calibrated on SQuAD2 dev (1,494 questions) and news dev (docs/evaluation.md): below 0.30 the
# retrieved passages are off-topic (0.8% of SQuAD2's unanswerable questions, 0.3% of its
# answerable ones); above it, retrieval scores cannot tell them apart (AUC 0.62), so the
# model's reading and the support check decide.
MIN_EVIDENCE = 0.30
EVIDENCE_HITS = 6
REWRITES = ("llm", "keywords")
# Prompt processing is most of a CPU model's time to first token (about 90 prompt tokens/s
# for the 1.5B model on 2 cores), so the model sees the best few passages, each cut to the
# sentences around the question's words: on news dev, 3 windows of 60 tokens held a gold
# answer for 21 of 21 questions in a third of the tokens of 6 whole chunks (docs/evaluation.md).
TOP_K = 3
SOURCE_TOKENS = 60
_DECLINE = re.compile(
    r"(documents?|sources?|context|passages?|text)\s+(do(es)?n['’]?t|do(es)? not|did not|didn['’]?t)\s+"
    r"(say|contain|mention|provide|include|specify|state)|no (information|mention)|not (mentioned|provided|stated)"
    r"|cannot (be )?(answer|determine|found)|can['’]t (answer|determine)|unable to (answer|determine|find)",
    re.I,
)


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


@dataclass(frozen=True)
class Answer:
    """An answer whose every citation was checked against the passage it points at.

    `sources` are the passages the model saw, numbered from 1 as the markers in `text`.
    When `refused`, `text` says the documents don't say, and `sources` are the closest passages.
    """

    question: str
    text: str
    citations: tuple[Citation, ...]
    sources: tuple[Hit, ...]
    refused: bool
    unsupported_sentences: tuple[str, ...] = ()
    timings: Timings = field(default_factory=Timings)
    usage: Usage = field(default_factory=Usage)
    query: str = ""
    raw_text: str = ""
    refusal_reason: str = ""

    @property
    def cited_sources(self) -> tuple[Hit, ...]:
        markers = sorted({c.marker for c in self.citations})
        return tuple(self.sources[m - 1] for m in markers)


History = Sequence[str] | Conversation | None


class Assistant:
    """One index, one retriever and one model, loaded once and reused for every question."""

    def __init__(
        self,
        index: str | Path | IndexStore,
        *,
        backend: str | LLMBackend | None = None,
        retriever: str = "hybrid",
        top_k: int = TOP_K,
        answer_tokens: int = 160,
        source_tokens: int | None = SOURCE_TOKENS,
        min_evidence: float = MIN_EVIDENCE,
        support_threshold: float | None = None,
        retrieval_options: dict[str, Any] | None = None,
        rewrite: str = "keywords",
    ) -> None:
        from index.embedding import get_embedder
        from rag.llm import get_backend
        from rag.retrieval import get_retriever

        if top_k < 1:
            raise ValueError(f"top_k={top_k} must be 1 or more")
        if rewrite not in REWRITES:
            raise ValueError(f"rewrite={rewrite!r} is not one of {', '.join(REWRITES)}")
        if answer_tokens < 16:
            raise ValueError(f"answer_tokens={answer_tokens} is too small; use 16 or more")
        self.store = index if isinstance(index, IndexStore) else IndexStore.open(index)
        self.embedder = get_embedder(self.store.embedder_name)
        self.retriever = get_retriever(retriever, self.store, embedder=self.embedder, **(retrieval_options or {}))
        self.backend = get_backend(backend) if isinstance(backend, str | None) else backend
        self.top_k = top_k
        self.answer_tokens = answer_tokens
        self.source_tokens = source_tokens
        self.min_evidence = min_evidence
        self.rewrite = rewrite
        checker_options = {} if support_threshold is None else {"threshold": support_threshold}
        self.checker = CitationChecker(self.embedder.encode, **checker_options)
        self._lock = threading.Lock()  # one generation at a time: llama.cpp contexts are not thread-safe

    def ask(self, question: str, *, history: History = None, top_k: int | None = None) -> Answer:
        answer = None
        for item in self.stream(question, history=history, top_k=top_k):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def stream(self, question: str, *, history: History = None, top_k: int | None = None) -> Iterator[str | Answer]:
        """Text pieces as the model writes them, then the checked `Answer`."""
        question = question.strip()
        if not question:
            raise ValueError("The question is empty; type a question.")
        clock = _Clock()
        questions, answers = _history(history)
        with self._lock:
            rewriter = self.backend if self.rewrite == "llm" else None
            query = rewrite_query(question, questions, rewriter, answers)
            clock.rewrite = time.perf_counter()
            k = top_k or self.top_k
            # The gate looks at a fixed number of passages, as calibrated, whatever the prompt shows.
            found = self.retriever.retrieve(query, max(k, EVIDENCE_HITS))
            hits = found[:k]
            clock.retrieve = time.perf_counter()
            if not hits or evidence(question, found) < self.min_evidence:
                yield REFUSAL
                yield _refusal(question, query, hits, clock.timings(), "no passage is about the question")
                return
            prompt = build_prompt(
                question,
                hits,
                self.backend,
                answer_tokens=self.answer_tokens,
                history=questions,
                focus=query,
                source_tokens=self.source_tokens,
            )
            pieces: list[str] = []
            for piece in self.backend.complete(prompt.messages, max_tokens=self.answer_tokens, temperature=0.0):
                clock.first = clock.first or time.perf_counter()
                pieces.append(piece)
                yield piece
        clock.generated = time.perf_counter()
        yield self._finish(question, query, clean_answer("".join(pieces)), prompt, clock)

    def _finish(self, question: str, query: str, raw: str, prompt: Prompt, clock: _Clock) -> Answer:
        checked = self.checker.check(raw, prompt.sources, question)
        usage = Usage(prompt.prompt_tokens, self.backend.count_tokens(raw) if raw else 0)
        reason = ""
        if not raw or _DECLINE.search(raw):
            reason = "the model found no answer in the passages"
        elif checked.supported_sentences == 0:
            reason = "no sentence of the answer is supported by the passages"
        if reason:
            return _refusal(question, query, prompt.sources, clock.timings(), reason, raw, usage)
        return Answer(
            question=question,
            text=checked.text,
            citations=checked.citations,
            sources=prompt.sources,
            refused=False,
            unsupported_sentences=checked.unsupported_sentences,
            timings=clock.timings(),
            usage=usage,
            query=query,
            raw_text=raw,
        )


@dataclass
class _Clock:
    start: float = field(default_factory=time.perf_counter)
    rewrite: float = 0.0
    retrieve: float = 0.0
    first: float = 0.0
    generated: float = 0.0

    def timings(self) -> Timings:
        now = time.perf_counter()
        first = self.first - self.start if self.first else 0.0
        generate = self.generated - self.retrieve if self.generated else 0.0
        check = now - self.generated if self.generated else 0.0
        return Timings(
            self.rewrite - self.start, self.retrieve - self.rewrite, first, generate, check, now - self.start
        )


_LABEL_ECHO = re.compile(
    r"^\s*(?:Source\s*)?(?:\[\d+\]\s*)?\([^)\n]{0,200}\)\s*:\s*|^\s*(?:Source\s*)?\[\d+\]\s*:\s*", re.I
)


def clean_answer(raw: str) -> str:
    """The model's text without an echoed source label ("Source [1] (Title): ...") in front."""
    return _LABEL_ECHO.sub("", raw.strip(), count=1).strip()


def evidence(question: str, hits: Sequence[Hit]) -> float:
    """How strongly the passages are about the question: the best dense cosine, or the share of
    the question's content words in the best passage (rare names embed poorly but match exactly)."""
    dense = max((h.scores.get("dense", 0.0) for h in hits), default=0.0)
    lexical = max((lexical_support(question, h.chunk.text) for h in hits), default=0.0)
    return max(dense, lexical * 0.5)


def _refusal(
    question: str,
    query: str,
    hits: Sequence[Hit],
    timings: Timings,
    reason: str,
    raw: str = "",
    usage: Usage | None = None,
) -> Answer:
    return Answer(question, REFUSAL, (), tuple(hits), True, (), timings, usage or Usage(), query, raw, reason)


def _history(history: History) -> tuple[list[str], list[str]]:
    if history is None:
        return [], []
    if isinstance(history, Conversation):
        return history.questions, [a.text for _, a in history.turns]
    return [str(q) for q in history], []


_ASSISTANTS: dict[tuple[str, str], Assistant] = {}
_ASSISTANTS_LOCK = threading.Lock()


def get_assistant(index: str | Path | None = None, backend: str | LLMBackend | None = None) -> Assistant:
    """The shared `Assistant` for an index and backend: models load once per process."""
    from index.cli import default_index_dir

    path = str(Path(index or default_index_dir()).resolve())
    key = (path, backend if isinstance(backend, str | None) and backend else f"id:{id(backend)}" if backend else "")
    with _ASSISTANTS_LOCK:
        if key not in _ASSISTANTS:
            _ASSISTANTS[key] = Assistant(path, backend=backend)
        return _ASSISTANTS[key]


@overload
def ask(
    question: str,
    *,
    index: str | Path | None = ...,
    history: History = ...,
    backend: str | LLMBackend | None = ...,
    top_k: int | None = ...,
    stream: Literal[False] = ...,
) -> Answer: ...
@overload
def ask(
    question: str,
    *,
    index: str | Path | None = ...,
    history: History = ...,
    backend: str | LLMBackend | None = ...,
    top_k: int | None = ...,
    stream: Literal[True],
) -> Iterator[str | Answer]: ...
def ask(
    question: str,
    *,
    index: str | Path | None = None,
    history: History = None,
    backend: str | LLMBackend | None = None,
    top_k: int | None = None,
    stream: bool = False,
) -> Answer | Iterator[str | Answer]:
    """Answer `question` from the documents in `index`, with checked citations.

    With `stream=True`, yields text pieces as they are generated and the final `Answer` last.
    """
    assistant = get_assistant(index, backend)
    if stream:
        return assistant.stream(question, history=history, top_k=top_k)
    return assistant.ask(question, history=history, top_k=top_k)
