"""The model loads on its own thread while the index opens and the first question is retrieved, so a cold
`Assistant` waits for the slower of the two loads, not their sum; a failed load is reported to the question
and tried again by the next. Deterministic sleeps stand in for the two loads."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rag import retrieval
from rag.answer import Assistant, ask
from rag.llm import LLMBackend, LLMUnavailable, registry
from rag.llm.scripted import ScriptedBackend

QUESTION = "Where did the summit take place?"
ANSWER = "The summit took place in Anchorage, Alaska [1]."
# Seconds each side takes. The model is the slower, as llama.cpp's is beside the hash embedder: the
# question must be retrieved before it is ready, and the answer must come about when it is ready.
MODEL_LOAD, INDEX_LOAD = 2.0, 1.0


class Moments:
    """When things happened, in perf_counter seconds."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    def mark(self, name: str) -> None:
        self.at.setdefault(name, time.perf_counter())


def slow_model(moments: Moments, seconds: float = MODEL_LOAD, fail_first: bool = False) -> Callable[..., LLMBackend]:
    loads = []

    def load(**_: Any) -> LLMBackend:
        loads.append(1)
        time.sleep(seconds)
        moments.mark("model loaded")
        if fail_first and len(loads) == 1:
            raise LLMUnavailable("the model file is missing; reinstall it")
        return ScriptedBackend(ANSWER)

    return load


@pytest.fixture()
def moments(small_index: Path, monkeypatch: pytest.MonkeyPatch) -> Moments:
    """A model and a retriever slow to open; the retriever notes its first query."""
    # Imports and the lexical kernel's compilation once, untimed, so only the sleeps differ between tests.
    Assistant(small_index, backend=ScriptedBackend(ANSWER), log_questions=False).ask(QUESTION)
    found = Moments()
    monkeypatch.setattr(registry, "_LOADED", {})
    monkeypatch.setitem(registry.BACKENDS, "scripted", slow_model(found))
    real = retrieval.get_retriever

    def slow_retriever(*args: Any, **kwargs: Any) -> Any:
        time.sleep(INDEX_LOAD)
        opened = real(*args, **kwargs)
        retrieve = opened.retrieve

        def noted(*a: Any, **k: Any) -> Any:
            found.mark("retrieved")
            return retrieve(*a, **k)

        monkeypatch.setattr(opened, "retrieve", noted)
        return opened

    monkeypatch.setattr(retrieval, "get_retriever", slow_retriever)
    return found


def test_a_cold_answer_waits_for_the_slower_load_not_for_both(small_index: Path, moments: Moments) -> None:
    started = time.perf_counter()
    answer = Assistant(small_index, backend="scripted", log_questions=False).ask(QUESTION)
    took = time.perf_counter() - started
    assert answer.text == ANSWER and not answer.refused
    serial = MODEL_LOAD + INDEX_LOAD
    assert took < MODEL_LOAD + INDEX_LOAD / 2, f"{took:.2f} s: the loads ran one after the other ({serial} s)"
    assert moments.at["retrieved"] < moments.at["model loaded"], "retrieval waited for the model"


def test_ask_from_python_loads_concurrently_too(small_index: Path, moments: Moments) -> None:
    started = time.perf_counter()
    answer = ask(QUESTION, index=small_index, backend="scripted")
    assert time.perf_counter() - started < MODEL_LOAD + INDEX_LOAD / 2 and answer.citations


def test_a_failed_load_is_reported_to_the_question_and_tried_again(
    small_index: Path, moments: Moments, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.BACKENDS, "scripted", slow_model(moments, 0.1, fail_first=True))
    assistant = Assistant(small_index, backend="scripted", log_questions=False)
    with pytest.raises(LLMUnavailable, match="reinstall"):
        assistant.ask(QUESTION)
    assert assistant.ask(QUESTION).text == ANSWER


def test_a_loaded_backend_is_used_as_given(small_index: Path) -> None:
    backend = ScriptedBackend(ANSWER)
    assistant = Assistant(small_index, backend=backend, log_questions=False)
    assert assistant.backend is backend and assistant.wait_for_model() is assistant
