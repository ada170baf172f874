"""`ask()`: retrieve, prompt, generate, check citations, and decline when the documents don't say."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from index import env
from index.store import IndexStore, read_manifest
from rag.citations import SUPPORT_THRESHOLD, CitationChecker, lexical_support
from rag.clock import Clock
from rag.conversation import rewrite_query
from rag.documents import catalog, resolve_documents
from rag.inputs import History, check_question, check_top_k, history_turns
from rag.llm.base import LLMBackend
from rag.loading import BackendSlot
from rag.plain import plain_items
from rag.prompting import REFUSAL, Prompt
from rag.question_log import LogContext, QuestionLog, backend_and_model, log_path, logged
from rag.repetition import LoopGuard, guarded
from rag.settings import AnswerSettings
from rag.sources import plan_prompt, timed_first_token
from rag.text import DECLINE
from rag.types import Answer, AnswerStream, Hit, Timings, Usage

if TYPE_CHECKING:
    from rag.retrieval import Retriever

# The evidence gate looks at a fixed number of passages, as calibrated, whatever the prompt shows.
EVIDENCE_HITS = 6
# Every answer keeps this many ranked hits, so an evaluation scores Recall@10 without retrieving again.
RANKED_HITS = 10
class Assistant:
    """One index, one retriever and one model, loaded once and reused for every question.

    `settings` (default `AnswerSettings.from_env()`) says how to answer; keyword `overrides`
    replace single fields (`None` keeps the setting). `backend` may be a loaded `LLMBackend`
    object, which then takes the place of `settings.backend`; `retrieval_options` are extra
    retriever constructor options that are objects rather than settings (a reranker).
    """

    def __init__(
        self,
        index: str | Path | IndexStore,
        settings: AnswerSettings | None = None,
        *,
        backend: str | LLMBackend | None = None,
        retrieval_options: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> None:
        named = backend if isinstance(backend, str) else None
        self.settings = (settings or AnswerSettings.from_env()).with_overrides(backend=named, **overrides)
        self._options = {**self.settings.retrieval_options(), **(retrieval_options or {})}
        store = index if isinstance(index, IndexStore) else IndexStore.open(index)
        # The model loads on its own thread while the embedder and retriever open and the first question is
        # retrieved (rag/loading.py): a cold start waits for the slower load, not for both one after the other.
        given = None if backend is None or isinstance(backend, str) else backend
        self._backend = BackendSlot(self.settings.make_backend, given)
        self._open(store)
        self._reopen = threading.Lock()

    @property
    def backend(self) -> LLMBackend:
        """The language model; while it is still loading, this waits for it (and raises a failed load's error)."""
        return self._backend.get()

    def wait_for_model(self) -> Assistant:
        """Wait until the model has loaded, for servers that promise the first question will not wait."""
        _ = self.backend
        return self

    def _open(self, store: IndexStore) -> None:
        from index.embedding import get_embedder
        from rag.retrieval import get_retriever

        self.store = store
        self.embedder = get_embedder(store.embedder_name)
        self.retriever = get_retriever(self.settings.retriever, store, embedder=self.embedder, **self._options)
        threshold = self.settings.support_threshold
        threshold = SUPPORT_THRESHOLD if threshold is None else threshold
        self.checker = CitationChecker(self.embedder.encode, threshold=threshold)

    def follow_current(self) -> bool:
        """Open the index's current version if a build replaced the one in use (True when it did).

        Called before every question, so a long-lived process never answers from a removed
        document; an answer already running keeps the version it started with.
        """
        if self.store.is_current():
            return False
        with self._reopen:
            if not self.store.is_current():
                self._open(IndexStore.open(self.store.index_dir))
                return True
        return False

    @property
    def top_k(self) -> int:
        return self.settings.top_k

    def ask(
        self,
        question: str,
        *,
        history: History = None,
        top_k: int | None = None,
        answer_tokens: int | None = None,
        temperature: float | None = None,
        documents: Sequence[str] | None = None,
    ) -> Answer:
        return self.stream(
            question,
            history=history,
            top_k=top_k,
            answer_tokens=answer_tokens,
            temperature=temperature,
            documents=documents,
        ).answer

    def stream(
        self,
        question: str,
        *,
        history: History = None,
        top_k: int | None = None,
        answer_tokens: int | None = None,
        temperature: float | None = None,
        documents: Sequence[str] | None = None,
    ) -> AnswerStream:
        """The answer as it is written: iterate for text pieces, then read `.answer` for the checked `Answer`.

        `answer_tokens` and `temperature` override the settings for this call (`None` keeps them).
        `documents` (paths relative to the indexed folder, ids or globs; rag/documents.py) narrows retrieval.
        The arguments are checked here, before anything runs; generation waits for the model
        (the llama.cpp backend serves one generation at a time) but retrieval does not.
        """
        question = check_question(question)
        questions, answers = history_turns(history)
        k = check_top_k(top_k) or self.settings.top_k
        call = self.settings.with_overrides(answer_tokens=answer_tokens, temperature=temperature)
        self.follow_current()
        only = catalog(self.store).resolve(documents) if documents is not None else ()
        items = self._run(question, questions, answers, k, self.retriever, self.checker, call, only)
        return AnswerStream(self._logged(items, len(questions)) if self.settings.log_questions else items)

    def _logged(self, items: Iterator[str | Answer], turns: int) -> Iterator[str | Answer]:
        """`items` with the finished answer appended to the index's question log (rag/question_log.py)."""
        store = self.store  # the version this answer started from, whatever a build does meanwhile

        def context() -> LogContext:
            name = str(getattr(self.backend, "name", "") or self.settings.backend)
            backend, model = backend_and_model(name, self.settings.model)
            return LogContext(str(store.index_dir.resolve()), store.version, backend, model, turns)

        return logged(items, QuestionLog(log_path(store.index_dir)), context)

    def _run(
        self,
        question: str,
        questions: list[str],
        answers: list[str],
        k: int,
        retriever: Retriever,
        checker: CitationChecker,
        call: AnswerSettings,
        documents: tuple[str, ...] = (),
    ) -> Iterator[str | Answer]:
        clock = Clock()
        rewriter = self.backend if self.settings.rewrite == "llm" else None
        query = rewrite_query(question, questions, rewriter, answers, retriever)
        clock.rewrite = time.perf_counter()
        found = tuple(retriever.retrieve(query, max(k, EVIDENCE_HITS, RANKED_HITS), documents=documents or None))
        hits = found[:k]
        clock.retrieve = time.perf_counter()
        if call.pipeline == "plain":  # the baseline every checked step must beat (rag/plain.py)
            yield from plain_items(question, questions, query, found, k, self.backend, call, clock)
            return
        if not hits or evidence(question, found[: max(k, EVIDENCE_HITS)]) < self.settings.min_evidence:
            yield REFUSAL
            yield _refusal(question, query, hits, found, clock.timings(), "no passage is about the question")
            return
        # Windows around the query's words, or sentences to the first-token budget (rag/sources.py).
        embed = self.embedder.encode
        prompt = plan_prompt(question, hits, self.backend, call, history=questions, focus=query, embed=embed).prompt
        # A model stuck repeating itself is stopped and its answer cut to one copy (rag/repetition.py).
        guard = LoopGuard()
        deltas = self.backend.complete(prompt.messages, max_tokens=call.answer_tokens, temperature=call.temperature)
        deltas = timed_first_token(deltas, self.backend, prompt.prompt_tokens)  # the backend's prompt speed
        for piece in guarded(deltas, guard):
            clock.first = clock.first or time.perf_counter()
            yield piece
        clock.generated = time.perf_counter()
        raw = clean_answer(guard.text)
        yield self._finish(question, query, raw, prompt, found, clock, checker, looped=guard.looped)

    def _finish(
        self,
        question: str,
        query: str,
        raw: str,
        prompt: Prompt,
        found: tuple[Hit, ...],
        clock: Clock,
        checker: CitationChecker,
        *,
        looped: bool = False,
    ) -> Answer:
        checked = checker.check(raw, prompt.sources, question)
        usage = Usage(prompt.prompt_tokens, self.backend.count_tokens(raw) if raw else 0)
        reason = ""
        if not raw or DECLINE.search(raw):
            reason = "the model found no answer in the passages"
        elif checked.supported_sentences == 0:
            reason = "no sentence of the answer is supported by the passages"
        if reason:
            refusal = _refusal(question, query, prompt.sources, found, clock.timings(), reason, raw, usage)
            return replace(refusal, looped=looped)
        return Answer(
            question=question,
            text=checked.text,
            citations=checked.citations,
            sources=tuple(prompt.sources),
            refused=False,
            unsupported_sentences=checked.unsupported_sentences,
            timings=clock.timings(),
            usage=usage,
            query=query,
            raw_text=raw,
            hits=found,
            looped=looped,
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
    sources: Sequence[Hit],
    found: Sequence[Hit],
    timings: Timings,
    reason: str,
    raw: str = "",
    usage: Usage | None = None,
) -> Answer:
    return Answer(
        question=question,
        text=REFUSAL,
        sources=tuple(sources),
        refused=True,
        timings=timings,
        usage=usage or Usage(),
        query=query,
        raw_text=raw,
        refusal_reason=reason,
        hits=tuple(found),
    )


_ASSISTANTS: dict[tuple[str, str], Assistant] = {}
_ASSISTANTS_LOCK = threading.Lock()


def get_assistant(index: str | Path | None = None, backend: str | LLMBackend | None = None) -> Assistant:
    """The shared `Assistant` for an index and backend: models load once per process."""
    path = str(Path(index or env.index_dir()).resolve())
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
    documents: Sequence[str] | None = ...,
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
    documents: Sequence[str] | None = ...,
) -> AnswerStream: ...
def ask(
    question: str,
    *,
    index: str | Path | None = None,
    history: History = None,
    backend: str | LLMBackend | None = None,
    top_k: int | None = None,
    stream: bool = False,
    documents: Sequence[str] | None = None,
) -> Answer | AnswerStream:
    """Answer `question` from the documents in `index`, with checked citations.

    With `stream=True`, returns an `AnswerStream`: iterate it for text pieces, then read `.answer`.
    `documents` narrows retrieval to some documents: paths relative to the indexed folder, ids or globs
    (`["guide/*.md"]`). Every argument is checked before a model loads, a document that is not indexed too.
    """
    check_question(question)
    history_turns(history)
    check_top_k(top_k)
    if documents is not None:
        resolve_documents(read_manifest(Path(index or env.index_dir())), documents)
    assistant = get_assistant(index, backend)
    answer_stream = assistant.stream(question, history=history, top_k=top_k, documents=documents)
    return answer_stream if stream else answer_stream.answer
