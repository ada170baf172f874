"""The registry, the Message record and the scripted backend: fast, no model."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

import pytest

from rag.llm import BACKENDS, DEFAULT_BACKEND, LLMBackend, LLMError, Message, clear_backends, get_backend
from rag.llm.scripted import ScriptedBackend


@pytest.fixture(autouse=True)
def _fresh_registry() -> None:
    clear_backends()


def test_unknown_backend_lists_the_valid_names() -> None:
    with pytest.raises(ValueError, match="Unknown LLM backend 'gpt'") as err:
        get_backend("gpt")
    for name in BACKENDS:
        assert name in str(err.value)


def test_backends_are_built_once_per_name_and_options() -> None:
    first = get_backend("scripted", replies=["a", "b"])
    assert get_backend("scripted", replies=["a", "b"]) is first
    assert get_backend("scripted", replies=["a"]) is not first
    assert get_backend("scripted", replies=["a", "b"], piece_size=2) is not first


def test_unhashable_options_work_uncached() -> None:
    class Reply:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, messages: Sequence[Message]) -> str:
            return "x"

    reply = Reply()
    assert get_backend("scripted", replies=reply) is not get_backend("scripted", replies=reply)
    assert "".join(get_backend("scripted", replies=reply).complete([Message("user", "q")])) == "x"


def test_none_means_the_default_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BACKENDS, DEFAULT_BACKEND, ScriptedBackend)
    assert isinstance(get_backend(None), ScriptedBackend)


def test_clear_backends_closes_and_forgets() -> None:
    closed: list[bool] = []

    class Closable(ScriptedBackend):
        def close(self) -> None:
            closed.append(True)

    BACKENDS["closable-test"] = Closable
    try:
        first = get_backend("closable-test")
        clear_backends()
        assert closed == [True]
        assert get_backend("closable-test") is not first
    finally:
        del BACKENDS["closable-test"]


def test_importing_the_package_loads_no_model_library() -> None:
    code = "import sys, rag.llm; print(sorted(m for m in ('llama_cpp', 'httpx', 'tiktoken') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_message_refuses_unknown_roles() -> None:
    with pytest.raises(ValueError, match="system, user, assistant"):
        Message("tool", "x")  # type: ignore[arg-type]


def test_scripted_streams_small_pieces_and_records_calls() -> None:
    backend = get_backend("scripted", replies=["Paris is the capital.", "Second."], piece_size=5)
    assert isinstance(backend, LLMBackend)
    asked = [Message("system", "Answer briefly."), Message("user", "Capital of France?")]
    pieces = list(backend.complete(asked, max_tokens=50, stop=["\n\n"]))
    assert pieces == ["Paris", " is t", "he ca", "pital", "."]
    assert "".join(backend.complete([Message("user", "again")])) == "Second."
    assert isinstance(backend, ScriptedBackend)
    assert [c.messages for c in backend.calls] == [tuple(asked), (Message("user", "again"),)]
    assert backend.calls[0].stop == ("\n\n",) and backend.calls[0].max_tokens == 50


def test_scripted_runs_out_of_replies_with_a_clear_error() -> None:
    backend = ScriptedBackend(["only one"])
    list(backend.complete([Message("user", "q")]))
    with pytest.raises(LLMError, match="ran out of replies: given 1, asked for call 2"):
        list(backend.complete([Message("user", "q")]))


def test_scripted_reply_can_be_a_function_of_the_messages() -> None:
    def echo(messages: Sequence[Message]) -> str:
        return messages[-1].content.upper()

    backend = ScriptedBackend(echo)
    assert "".join(backend.complete([Message("user", "hello")])) == "HELLO"


def test_scripted_honours_stop_and_max_tokens() -> None:
    backend = ScriptedBackend("One, two three.\nSources: [1]")
    assert backend.count_tokens("One, two three.") == 5
    assert "".join(backend.complete([Message("user", "q")], stop=["\nSources"])) == "One, two three."
    assert "".join(backend.complete([Message("user", "q")], max_tokens=3)) == "One, two"


def test_scripted_is_deterministic() -> None:
    runs = ["".join(ScriptedBackend(["same answer"]).complete([Message("user", "q")])) for _ in range(3)]
    assert runs == ["same answer"] * 3
