"""What the chat needs from the `rag` API: one Assistant per (index version, settings), readable errors."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from index.build import prune_unused
from index.store import IndexNotFound, IndexStore, StoreError, current_name, read_manifest
from index.types import Manifest
from rag.answer import Assistant
from rag.documents import IndexedDocument, catalog
from rag.inputs import History
from rag.llm.base import LLMBackend, LLMError, LLMTimeout, LLMUnavailable
from rag.settings import AnswerSettings
from rag.types import AnswerStream

log = logging.getLogger(__name__)


class EmptyIndex(StoreError):
    pass


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
    """The loaded index and its assistants; `reload()` after the index changed (e.g. an upload).

    Generation is serialised by the llama.cpp backend itself and by Gradio's queue (which
    shows a waiting user their place), so retrieval of one question overlaps another's answer.
    """

    def __init__(
        self, index_dir: str | Path, *, backend: str | LLMBackend | None = None, settings: AnswerSettings | None = None
    ) -> None:
        self.index_dir = Path(index_dir)
        self._backend_object = backend if backend is not None and not isinstance(backend, str) else None
        named = backend if isinstance(backend, str) else getattr(backend, "name", None)
        base = settings or AnswerSettings.from_env()
        self.defaults = base.with_overrides(backend=named) if named in _backend_names() else base
        self._assistants: dict[tuple[str, AnswerSettings], Assistant] = {}
        self._store: IndexStore | None = None
        self._stale = False  # an older version may still be on disk, waiting for its readers to finish
        self._lock = threading.Lock()

    def manifest(self) -> Manifest | None:
        return read_manifest(self.index_dir)

    def store(self) -> IndexStore:
        with self._lock:
            return self._open_store()

    def _open_store(self) -> IndexStore:
        if self._store is not None and not self._store.is_current():
            # A build replaced the version in use: open the new one; answers already running keep
            # theirs, and the old version is deleted once the last of them lets go of it.
            self._store = None
            self._assistants.clear()
            self._stale = True
        if self._stale:
            self._stale = not prune_unused(self.index_dir)
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

    def assistant(self, settings: AnswerSettings) -> Assistant:
        with self._lock:
            store = self._open_store()
            key = (store.version, settings)
            if key not in self._assistants:
                own = self._backend_object is not None and settings.backend == self.defaults.backend
                backend = self._backend_object if own and not settings.model else None
                self._assistants[key] = Assistant(store, settings, backend=backend)
            return self._assistants[key]

    def warm_up(self) -> Assistant | None:
        """Load now what the first question would wait for: the default model, the index and the embedder.

        Returns the default `Assistant`, or None when there is no index yet (the model is loaded all the
        same, so the first upload is answered at once). A question asked meanwhile waits for the load.
        """
        try:
            assistant = self.assistant(self.defaults)  # its model loads beside the embedder (rag/loading.py)
        except (IndexNotFound, EmptyIndex):
            if self._backend_object is None:
                self.defaults.make_backend()  # the registry keeps it for the Assistant of the first upload
            return None
        # The first query loads the embedding model's weights and pages in the lexical index.
        assistant.retriever.retrieve("warm up", 1)
        return assistant.wait_for_model()

    def stream(
        self, question: str, settings: AnswerSettings, history: History, documents: Sequence[str] = ()
    ) -> AnswerStream:
        """`documents` (ids, paths or globs) narrows retrieval; () searches every document."""
        return self.assistant(settings).stream(question, history=history, documents=list(documents) or None)

    def version(self) -> str:
        """The name of the index's current version ("" without an index): a link read, no file opened."""
        return current_name(self.index_dir) or ""

    def documents(self) -> list[IndexedDocument]:
        """The documents of the current version (opening it if a build replaced the one in use), by id."""
        try:
            return catalog(self.store()).listing()
        except StoreError:  # no index yet, or an empty one
            return []


def _backend_names() -> tuple[str, ...]:
    from rag.llm.registry import BACKENDS

    return tuple(BACKENDS)
