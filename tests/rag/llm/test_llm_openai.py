"""The OpenAI-compatible backend against loopback stubs and a real `llama_cpp.server`."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import pytest
from llm_stubs import Reply, StubServer, free_port, sse_body

from rag.llm import (
    LLMAuthError,
    LLMBackend,
    LLMProtocolError,
    LLMServerError,
    LLMTimeout,
    LLMUnavailable,
    Message,
    clear_backends,
    get_backend,
)
from rag.llm.openai import OpenAICompatibleBackend

Stub = Callable[..., StubServer]
ASK = [Message("system", "Answer in one sentence."), Message("user", "What colour is the sky?")]
KEY = "sk-test-SECRET-0123456789"


def _backend(url: str, **options: object) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend(base_url=url, backoff=0.01, **options)  # type: ignore[arg-type]


@pytest.mark.integration
def test_streamed_answer_and_request_shape(stub: Stub) -> None:
    server = stub(Reply(200, sse_body("The sky ", "is blue."), {"Content-Type": "text/event-stream"}))
    backend = _backend(server.url, model="m1", api_key=KEY)
    assert list(backend.complete(ASK, max_tokens=20, stop=["\n"])) == ["The sky ", "is blue."]
    headers, body = server.requests[0]
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert body == {
        "model": "m1",
        "messages": [{"role": "system", "content": "Answer in one sentence."},
                     {"role": "user", "content": "What colour is the sky?"}],
        "max_tokens": 20, "temperature": 0.0, "stream": True, "stop": ["\n"],
    }  # fmt: skip


@pytest.mark.integration
def test_plain_answer_and_settings_from_env(stub: Stub, monkeypatch: pytest.MonkeyPatch) -> None:
    answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Blue."}}]}
    server = stub(Reply(200, json.dumps(answer).encode()))
    monkeypatch.setenv("RAG_OPENAI_BASE_URL", server.url + "/")
    monkeypatch.setenv("RAG_OPENAI_MODEL", "env-model")
    backend = OpenAICompatibleBackend(stream=False)
    assert list(backend.complete(ASK)) == ["Blue."]
    assert server.requests[0][1]["model"] == "env-model" and server.requests[0][1]["stream"] is False
    assert "Authorization" not in server.requests[0][0]


def test_server_down_is_unavailable_with_a_fix() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(LLMUnavailable) as err:
        list(_backend(url, max_retries=1).complete(ASK))
    assert url in str(err.value) and "after 2 attempts" in str(err.value)
    assert "Start the server" in str(err.value) and "RAG_OPENAI_BASE_URL" in str(err.value)


@pytest.mark.integration
def test_silent_server_times_out(silent_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(LLMTimeout, match=r"did not answer within 0\.5s.*read_timeout"):
        list(_backend(silent_server, read_timeout=0.5).complete(ASK))
    assert time.monotonic() - started < 5


@pytest.mark.integration
def test_http_500_is_retried_then_reported(stub: Stub, caplog: pytest.LogCaptureFixture) -> None:
    server = stub(Reply(500, b'{"error": "boom"}'))
    with caplog.at_level(logging.WARNING), pytest.raises(LLMServerError, match="HTTP 500 after 3 attempts") as err:
        list(_backend(server.url, max_retries=2).complete(ASK))
    assert server.hits == 3 and err.value.status == 500
    assert len([r for r in caplog.records if "retry" in r.getMessage()]) == 2


@pytest.mark.integration
def test_client_errors_are_not_retried(stub: Stub) -> None:
    server = stub(Reply(404, b'{"error": {"message": "model not found"}}'))
    with pytest.raises(LLMServerError, match=r"model not found.*RAG_OPENAI_MODEL"):
        list(_backend(server.url, model="nope").complete(ASK))
    assert server.hits == 1


@pytest.mark.integration
def test_429_with_retry_after_then_success(stub: Stub) -> None:
    server = stub(Reply(429, b"slow down", {"Retry-After": "1"}), Reply(200, sse_body("ok")))
    started = time.monotonic()
    assert "".join(_backend(server.url).complete(ASK)) == "ok"
    assert server.hits == 2 and time.monotonic() - started >= 0.9  # waited what Retry-After asked, not backoff


@pytest.mark.integration
def test_retry_after_beyond_max_wait_is_not_waited(stub: Stub) -> None:
    server = stub(Reply(429, b"quota", {"Retry-After": "3600"}))
    with pytest.raises(LLMServerError, match="wait 3600s, more than max_wait"):
        list(_backend(server.url).complete(ASK))
    assert server.hits == 1


@pytest.mark.integration
def test_broken_stream_is_a_protocol_error(stub: Stub) -> None:
    server = stub(Reply(200, b"data: {not json\n\n"))
    with pytest.raises(LLMProtocolError, match="not JSON"):
        list(_backend(server.url).complete(ASK))


@pytest.mark.integration
def test_plain_answer_without_choices_is_a_protocol_error(stub: Stub) -> None:
    server = stub(Reply(200, b'{"id": "x"}'))
    with pytest.raises(LLMProtocolError, match="choices"):
        list(_backend(server.url, stream=False).complete(ASK))


@pytest.mark.integration
def test_bad_key_is_never_shown(stub: Stub, caplog: pytest.LogCaptureFixture) -> None:
    echo = f'{{"error": {{"message": "Incorrect API key provided: {KEY}"}}}}'.encode()
    server = stub(Reply(401, echo))
    backend = _backend(server.url.replace("http://", "http://user:hunter2@"), api_key=KEY)
    with caplog.at_level(logging.DEBUG), pytest.raises(LLMAuthError, match="OPENAI_API_KEY") as err:
        list(backend.complete(ASK))
    shown = [str(err.value), repr(backend), caplog.text, repr(err.value)]
    assert all(KEY not in s and "hunter2" not in s for s in shown)
    assert "***" in str(err.value)

    failing = stub(Reply(503, echo))
    with caplog.at_level(logging.DEBUG), pytest.raises(LLMServerError) as failed:
        list(_backend(failing.url, api_key=KEY, max_retries=1).complete(ASK))
    assert KEY not in str(failed.value) and KEY not in caplog.text


def test_count_tokens_offline() -> None:
    backend = _backend("http://127.0.0.1:9/v1")
    assert backend.count_tokens("hello world") == 2
    assert backend.context_size == 8192 and isinstance(backend, LLMBackend)


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("stream", [True, False])
def test_real_llama_cpp_server(llama_server: str, stream: bool) -> None:
    clear_backends()
    backend = get_backend("llama-server", base_url=llama_server, stream=stream, read_timeout=120.0)
    pieces = list(backend.complete([Message("user", "Name one colour.")], max_tokens=12))
    assert "".join(pieces).strip()
    assert len(pieces) > 1 if stream else len(pieces) == 1
    assert backend.count_tokens("Name one colour.") > 0
    assert get_backend("llama-server", base_url=llama_server, stream=stream, read_timeout=120.0) is backend
