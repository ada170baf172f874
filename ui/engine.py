"""What the chat needs from the `rag` API: one Assistant per (index version, settings), readable errors."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from index.store import IndexNotFound, IndexStore, StoreError, read_manifest
from rag.answer import TOP_K, Answer, Assistant, History
from rag.llm.base import LLMBackend, LLMError, LLMTimeout, LLMUnavailable

log = logging.getLogger(__name__)
RERANKER_ENV = "RAG_RERANKER"


@dataclass(frozen=True)
class ChatSettings:
    """The settings panel. `model` '' means the backend's default model."""

    backend: str = "llama-cpp"
    model: str = ""
    top_k: int = TOP_K
    retriever: str = "hybrid"
    rerank: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RerankStatus:
    available: bool
    reason: str
    model_path: str = ""


class EmptyIndex(StoreError):
    pass


def rerank_status() -> RerankStatus:
    """Re-ranking needs a local cross-encoder folder; none ships in a package, so it is off unless one is given."""
    path = os.environ.get(RERANKER_ENV, "")
    if not path:
        return RerankStatus(
            False,
            f"unavailable: no cross-encoder is installed (none ships offline). Set {RERANKER_ENV}=FOLDER "
            "to a saved sentence-transformers CrossEncoder to enable it.",
        )
    if not (Path(path) / "config.json").is_file():
        return RerankStatus(False, f"unavailable: {RERANKER_ENV}={path} holds no config.json (not a model folder).")
    return RerankStatus(True, f"cross-encoder from {path}", path)


def friendly_error(exc: BaseException) -> str:
    """One readable sentence for the chat; never a stack trace (that goes to the server log)."""
    if isinstance(exc, LLMTimeout):
        return f"The model did not answer in time. {exc} Try again, or pick another backend in Settings."
    if isinstance(exc, LLMUnavailable):
        return f"The model is unavailable. {exc}"
    if isinstance(exc, LLMError):
        return f"The model failed. {exc}"
    if isinstance(exc, StoreError | ValueError | FileNotFoundError):
        return str(exc)
    log.exception("unexpected error while answering", exc_info=exc)
    return f"Something went wrong ({type(exc).__name__}). The details are in the server log."


class Engine:
    """The loaded index and its assistants; `reload()` after the index changed (e.g. an upload)."""

    def __init__(self, index_dir: str | Path, *, backend: str | LLMBackend | None = None, model: str = "") -> None:
        self.index_dir = Path(index_dir)
        self._backend_object = backend if backend is not None and not isinstance(backend, str) else None
        backend_name = backend if isinstance(backend, str) else getattr(backend, "name", None) or "llama-cpp"
        self.defaults = ChatSettings(backend=backend_name, model=model)
        self._assistants: dict[tuple[Any, ...], Assistant] = {}
        self._store: IndexStore | None = None
        self._lock = threading.Lock()
        # One generation at a time across every assistant: they may share one llama.cpp model.
        self.generating = threading.Lock()

    def manifest(self) -> dict[str, Any] | None:
        return read_manifest(self.index_dir)

    def store(self) -> IndexStore:
        with self._lock:
            return self._open_store()

    def _open_store(self) -> IndexStore:
        if self._store is None:
            try:
                self._store = IndexStore.open(self.index_dir)
            except IndexNotFound:
                raise IndexNotFound(
                    f"There is no index at {self.index_dir} yet. Upload documents in the panel on the right, "
                    f"or build one: rag index PATH/TO/DOCS --index {self.index_dir}"
                ) from None
        if len(self._store) == 0:
            raise EmptyIndex(
                f"The index at {self.index_dir} holds no documents. Upload some in the panel on the right, "
                f"or index a folder: rag index PATH/TO/DOCS --index {self.index_dir}"
            )
        return self._store

    def reload(self) -> None:
        with self._lock:
            self._store = None
            self._assistants.clear()

    def assistant(self, settings: ChatSettings) -> Assistant:
        with self._lock:
            store = self._open_store()
            key = (store.version, settings.backend, settings.model, settings.retriever, settings.rerank)
            if key not in self._assistants:
                self._assistants[key] = Assistant(
                    store,
                    backend=self._backend(settings),
                    retriever=settings.retriever,
                    retrieval_options=self._retrieval_options(settings),
                )
            return self._assistants[key]

    def stream(self, question: str, settings: ChatSettings, history: History) -> Iterator[str | Answer]:
        assistant = self.assistant(settings)
        with self.generating:
            yield from assistant.stream(question, history=history, top_k=settings.top_k)

    def _backend(self, settings: ChatSettings) -> LLMBackend:
        from rag.llm import get_backend

        if self._backend_object is not None and settings.backend == self.defaults.backend and not settings.model:
            return self._backend_object
        return get_backend(settings.backend, **({"model": settings.model} if settings.model else {}))

    @staticmethod
    def _retrieval_options(settings: ChatSettings) -> dict[str, Any]:
        if not settings.rerank:
            return {}
        status = rerank_status()
        if not status.available:
            raise ValueError(f"Re-ranking is {status.reason}")
        from rag.rerank import get_reranker

        return {"reranker": get_reranker("cross-encoder", model_path=status.model_path), "rerank": True}
