"""What the HTTP API does, apart from HTTP: answer (whole or streamed), search, describe the index.

One `Assistant` serves every request and follows the index's current version before each
question, as the chat does. Answers queue for the model (the llama.cpp backend generates one at
a time); at most `max_queue` wait, so a burst cannot tie up every server thread, and search,
which never waits for the model, answers at once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

from index.store import IndexStore
from rag.answer import Assistant
from rag.llm.base import LLMBackend
from rag.settings import AnswerSettings
from rag.types import Answer, AnswerStream
from serve import api_models as m
from serve.api_convert import ChatQuestion, StreamIds, completion, search_hit, sse
from serve.api_errors import ApiError, from_exception

log = logging.getLogger(__name__)
MAX_QUEUE = 8
DONE = "data: [DONE]\n\n"


class Slot:
    """One place in the model's queue; releasing twice is harmless."""

    def __init__(self, free: threading.Semaphore) -> None:
        self._free = free
        self._held = True
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            if self._held:
                self._held = False
                self._free.release()

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Queue:
    """Admission for answers: `size` places (generating or waiting); when all are taken, a 429."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"max_queue={size}: at least one request must be able to wait for the model")
        self.size = size
        self._free = threading.Semaphore(size)

    def take(self) -> Slot:
        if not self._free.acquire(blocking=False):
            raise ApiError(
                429,
                f"The model is busy: {self.size} questions are already being answered or waiting. "
                "Try again in a few seconds (or start the server with a larger --max-queue).",
                type="rate_limit_error",
                code="queue_full",
            )
        return Slot(self._free)


class Service:
    """The served index (`model` is its name, what clients pass as `model`) and its assistant."""

    def __init__(self, assistant: Assistant, *, max_queue: int = MAX_QUEUE, name: str = "") -> None:
        self.assistant = assistant
        self.model = name or Path(assistant.store.index_dir).resolve().name
        self.queue = Queue(max_queue)
        self.started = int(time.time())

    @classmethod
    def open(
        cls,
        index_dir: str | Path,
        settings: AnswerSettings | None = None,
        *,
        backend: LLMBackend | None = None,
        max_queue: int = MAX_QUEUE,
    ) -> Service:
        """Open the index and load the embedder and the model now, so the first answer does not wait for them."""
        assistant = Assistant(IndexStore.open(index_dir), settings, backend=backend)
        return cls(assistant.wait_for_model(), max_queue=max_queue)

    def _store(self) -> IndexStore:
        self.assistant.follow_current()
        return self.assistant.store

    def health(self) -> m.Health:
        store = self._store()
        return m.Health(
            model=self.model,
            index=str(Path(store.index_dir).resolve()),
            version=store.version,
            documents=store.manifest.counts.documents,
            backend=str(getattr(self.assistant.backend, "name", self.assistant.settings.backend)),
        )

    def models(self) -> m.ModelList:
        store = self._store()
        card = m.ModelCard(
            id=self.model,
            created=self.started,
            index=str(Path(store.index_dir).resolve()),
            documents=store.manifest.counts.documents,
        )
        return m.ModelList(data=[card])

    def search(self, request: m.SearchRequest) -> m.SearchResponse:
        """Passages for the query, best first; never waits for the model."""
        query = request.query.strip()
        if not query:
            raise ApiError(400, "'query' is empty; send the words to search for.", param="query")
        paths = tuple(request.filters.paths) if request.filters and request.filters.paths else None
        documents = tuple(request.filters.documents) if request.filters and request.filters.documents else None
        try:
            self.assistant.follow_current()
            hits = self.assistant.retriever.retrieve(query, request.k, paths=paths, documents=documents)
        except Exception as exc:
            raise _failure(exc) from exc
        return m.SearchResponse(query=query, data=[search_hit(hit) for hit in hits])

    def _start(self, q: ChatQuestion) -> AnswerStream:
        return self.assistant.stream(
            q.question,
            history=q.history_messages() or None,
            answer_tokens=q.answer_tokens,
            temperature=q.temperature,
            documents=q.documents or None,
        )

    def complete(self, q: ChatQuestion) -> m.ChatCompletion:
        """The whole answer, once checked."""
        with self.queue.take():
            try:
                answer = self._start(q).answer
            except Exception as exc:
                raise _failure(exc) from exc
        return completion(answer, id=_completion_id(), created=int(time.time()), model=self.model)

    def stream(self, q: ChatQuestion) -> EventStream:
        """Server-sent events: the draft as the model writes it, then a last chunk with the checked citations.

        Retrieval and the first piece happen before this returns, so their errors are HTTP errors;
        a later failure is sent as an error event.
        """
        slot = self.queue.take()
        try:
            answer_stream = self._start(q)
            pieces = iter(answer_stream)
            first = next(pieces, "")
        except Exception as exc:
            slot.release()
            raise _failure(exc) from exc
        ids = StreamIds(_completion_id(), int(time.time()), self.model)
        return EventStream(_events(ids, answer_stream, pieces, first, q.include_usage), answer_stream, slot)


class EventStream:
    """The events of one streamed answer. `close()` (idempotent) stops the model at once and frees the
    place in the queue; the server calls it when the response ends, also when the client left mid-answer.
    """

    def __init__(self, events: Generator[str, None, None], answer_stream: AnswerStream, slot: Slot) -> None:
        self._events = events
        self._answer_stream = answer_stream
        self._slot = slot

    def __iter__(self) -> Iterator[str]:
        return self._events

    def close(self) -> None:
        try:
            self._events.close()
            self._answer_stream.close()
        finally:
            self._slot.release()


def _events(
    ids: StreamIds, answer_stream: AnswerStream, pieces: Iterator[str], first: str, include_usage: bool
) -> Generator[str, None, None]:
    streamed = [first]
    try:
        yield sse(ids.chunk(first, first=True))
        for piece in pieces:
            streamed.append(piece)
            yield sse(ids.chunk(piece))
        answer: Answer = answer_stream.answer
        for chunk in ids.closing(answer, "".join(streamed), include_usage):
            yield sse(chunk)
    except Exception as exc:  # noqa: BLE001 - the 200 is sent: the error goes into the stream as an event
        yield sse(_failure(exc).body())
    yield DONE


def _failure(exc: Exception) -> ApiError:
    error = from_exception(exc)
    if error.status >= 500:
        log.error("answering failed: %s", exc, exc_info=exc if error.status == 500 else None)
    return error


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"
