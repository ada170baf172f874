"""The language model loaded on its own thread, so a cold start waits for the slower load, not the sum.

A cold `rag ask` has two large loads: the embedding model (importing torch and sentence-transformers)
and the language model (llama.cpp mapping its GGUF file). Neither needs the other until generation, so
`Assistant` starts the model here, then opens the embedder and the retriever and retrieves the first
question's passages while the model loads, and waits for it only when the prompt needs its tokenizer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future

from rag.llm.base import LLMBackend


class PendingBackend:
    """An `LLMBackend` being built by `load` on a thread started at once; `result()` waits for it.

    A failed load is raised by `result()`, in the thread that needed the model, with its own message.
    The thread is not a daemon: a process that gives up early (a bad embedder, say) waits for the load
    to end before exiting rather than tear down llama.cpp while it is mapping the file.
    """

    def __init__(self, load: Callable[[], LLMBackend]) -> None:
        self._future: Future[LLMBackend] = Future()
        self._thread = threading.Thread(target=self._load, args=(load,), name="rag-llm-load")
        self._thread.start()

    def _load(self, load: Callable[[], LLMBackend]) -> None:
        try:
            self._future.set_result(load())
        except BaseException as exc:  # noqa: BLE001 - handed to the thread that waits for the model, raised there
            self._future.set_exception(exc)

    def done(self) -> bool:
        return self._future.done()

    def result(self) -> LLMBackend:
        return self._future.result()


class BackendSlot:
    """The backend an `Assistant` answers with: one it was given, or one loading on a thread since it was made."""

    def __init__(self, load: Callable[[], LLMBackend], given: LLMBackend | None = None) -> None:
        self._load = load
        self._current: LLMBackend | PendingBackend | None = PendingBackend(load) if given is None else given

    def get(self) -> LLMBackend:
        """The backend, waiting for its load if need be. A failed load raises its error here, and the next
        call loads again, as a newly made Assistant would (the model may have been fixed meanwhile)."""
        current = self._current
        if isinstance(current, PendingBackend):
            self._current = None
            current = self._current = current.result()
        if current is None:
            current = self._current = self._load()
        return current
