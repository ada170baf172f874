"""`rag serve`'s HTTP API on a real uvicorn server on a free loopback port, with a scripted model: fast.

Driven with httpx for the wire details and with the official `openai` client, as users will.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.answer import Assistant
from rag.llm.base import Message
from rag.llm.scripted import ScriptedBackend
from rag.prompting import REFUSAL
from rag.settings import AnswerSettings
from serve.api_app import ApiConfig, build_app
from serve.api_service import Service
from tests.conftest import SMALL_DOCS, free_port

pytestmark = pytest.mark.integration

ANSWER = "Russian forces seized 10km of territory around Pokrovsk [1]."
QUESTION = "How much territory did Russian forces seize around Pokrovsk?"
KEY = "test-key-123"


class Running:
    """A uvicorn server in a thread; `url` is its base, without /v1."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the API server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture()
def start(small_index: Path) -> Iterator[Callable[..., tuple[Running, ScriptedBackend]]]:
    """`start(replies, **options)`: the API over the small index with a scripted model."""
    running: list[Running] = []

    def launch(
        replies: Any = ANSWER, *, api_key: str = "", max_queue: int = 8, max_body: int = 1_000_000, **settings: Any
    ) -> tuple[Running, ScriptedBackend]:
        backend = ScriptedBackend(replies)
        answer_settings = AnswerSettings(backend="scripted", min_evidence=0.0, log_questions=False).with_overrides(
            **settings
        )
        service = Service(Assistant(small_index, answer_settings, backend=backend), max_queue=max_queue)
        running.append(Running(build_app(service, ApiConfig(api_key=api_key, max_body_bytes=max_body))))
        return running[-1], backend

    yield launch
    for server in running:
        server.stop()


def client(server: Running, key: str = "unused") -> Any:
    from openai import OpenAI

    return OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30)


def chat(question: str | list[dict[str, Any]] = QUESTION, **extra: Any) -> dict[str, Any]:
    return {"model": "idx", "messages": [{"role": "user", "content": question}], **extra}


def test_answer_with_checked_citations_through_the_openai_client(start: Any) -> None:
    server, _ = start()
    completion = client(server).chat.completions.create(model="idx", messages=[{"role": "user", "content": QUESTION}])
    assert completion.object == "chat.completion" and completion.model == "idx"
    assert completion.choices[0].message.content == ANSWER
    assert completion.choices[0].finish_reason == "stop"
    extra = completion.model_extra
    assert extra["refusal"] is None
    (cited,) = extra["citations"]
    assert cited["marker"] == 1 and cited["path"] == "pokrovsk.txt" and cited["document"] == "pokrovsk.txt"
    assert cited["sentence"].startswith("Russian forces seized 10km") and cited["support"] >= 0.5
    assert cited["evidence"] in SMALL_DOCS["pokrovsk.txt"] and "Pokrovsk" in cited["evidence"]
    assert SMALL_DOCS["pokrovsk.txt"][cited["start"] : cited["end"]].strip() != ""
    assert cited["title"] and cited["page"] is None and cited["passage"]
    assert extra["sources"][0]["marker"] == 1 and completion.usage.completion_tokens > 0


def test_streamed_answer_ends_with_the_citations(start: Any) -> None:
    server, _ = start()
    chunks = list(
        client(server).chat.completions.create(
            model="idx",
            messages=[{"role": "user", "content": QUESTION}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == ANSWER
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop" and last.usage is not None and last.usage.total_tokens > 0
    assert last.model_extra["answer"] == ANSWER and last.model_extra["refusal"] is None
    assert [c["path"] for c in last.model_extra["citations"]] == ["pokrovsk.txt"]
    assert all("citations" not in (c.model_extra or {}) for c in chunks[:-1])


def test_sse_wire_format_ends_with_done(start: Any) -> None:
    server, _ = start()
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=chat(stream=True), timeout=30) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"
    assert "citations" in json.loads(lines[-2][6:])


def test_a_refusal_is_an_answer_that_says_why(start: Any) -> None:
    server, _ = start("The documents don't say.")
    completion = client(server).chat.completions.create(model="idx", messages=[{"role": "user", "content": QUESTION}])
    assert completion.choices[0].message.content == REFUSAL
    assert completion.model_extra["refusal"] == {"refused": True, "reason": "the model found no answer in the passages"}
    assert completion.model_extra["citations"] == [] and completion.model_extra["sources"]


def test_a_streamed_draft_nothing_supports_ends_in_the_refusal(start: Any) -> None:
    server, _ = start("Bananas are purple and grow on the moon [1].")
    chunks = list(
        client(server).chat.completions.create(
            model="idx", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.startswith("Bananas") and text.endswith(f"\n\n{REFUSAL}")
    assert chunks[-1].model_extra["refusal"]["reason"] == "no sentence of the answer is supported by the passages"
    assert chunks[-1].model_extra["answer"] == REFUSAL


def test_follow_up_uses_earlier_turns_and_honours_temperature_and_max_tokens(start: Any) -> None:
    server, backend = start()
    messages: Sequence[Any] = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Where did the summit take place?"},
        {"role": "assistant", "content": "The summit took place in Anchorage, Alaska [1]."},
        {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
    ]
    completion = client(server).chat.completions.create(model="idx", messages=messages, temperature=0.7, max_tokens=40)
    assert completion.choices[0].message.content == ANSWER
    call = backend.calls[-1]
    assert (call.max_tokens, call.temperature) == (40, 0.7)
    prompt = call.messages[-1].content
    assert "Earlier question: Where did the summit take place?" in prompt and QUESTION in prompt
    assert "You are helpful" not in " ".join(m.content for m in call.messages)


def test_wrong_or_missing_key_is_401_and_the_right_key_works(start: Any) -> None:
    from openai import AuthenticationError

    server, _ = start(api_key=KEY)
    with pytest.raises(AuthenticationError) as raised:
        client(server, "wrong").chat.completions.create(model="idx", messages=[{"role": "user", "content": QUESTION}])
    assert raised.value.status_code == 401 and "RAG_API_KEY" in raised.value.message
    for path in ("/health", "/v1/models"):
        r = httpx.get(f"{server.url}{path}")
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert client(server, KEY).models.list().data[0].id == "idx"
    r = httpx.post(f"{server.url}/v1/search", json={"query": "Pokrovsk"}, headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 200


BAD_BODIES: list[tuple[str, bytes | dict[str, Any], int, str]] = [
    ("bad json", b'{"model": "idx", "messages": [', 400, "not valid JSON"),
    ("not an object", b"[1, 2]", 400, "JSON object"),
    ("unknown field", chat(max_token=10), 400, "Unknown field 'max_token'"),
    ("tools", chat(tools=[]), 400, "calls no tools"),
    ("empty question", chat("   "), 400, "question (the last user message) is empty"),
    ("no messages", {"model": "idx", "messages": []}, 400, "'messages' is empty"),
    ("missing messages", {"model": "idx"}, 400, "'messages' is required"),
    ("last is the assistant's", chat() | {"messages": [{"role": "assistant", "content": "hi"}]}, 400, "end 'messages'"),
    ("bad role", chat() | {"messages": [{"role": "robot", "content": "hi"}]}, 400, "messages.0.role"),
    ("image", chat([{"type": "image_url", "image_url": {"url": "x"}}]), 400, "reads text only"),
    ("tiny max_tokens", chat(max_tokens=2), 400, "max_tokens"),
    ("hot temperature", chat(temperature=3), 400, "temperature"),
    ("two choices", chat(n=2), 400, "'n'"),
    ("wrong model", chat(model="gpt-4o"), 404, "Set model='idx'"),
]


@pytest.mark.parametrize(("body", "status", "says"), [case[1:] for case in BAD_BODIES], ids=[c[0] for c in BAD_BODIES])
def test_bad_requests_get_an_openai_shaped_4xx_that_says_the_fix(
    start: Any, body: bytes | dict[str, Any], status: int, says: str
) -> None:
    server, backend = start()
    url = f"{server.url}/v1/chat/completions"
    r = (
        httpx.post(url, content=body, headers={"Content-Type": "application/json"})
        if isinstance(body, bytes)
        else (httpx.post(url, json=body))
    )
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and says in error["message"], error
    assert "Traceback" not in r.text and backend.calls == []


def test_openai_client_sees_a_400_for_a_malformed_body(start: Any) -> None:
    from openai import BadRequestError

    server, _ = start()
    with pytest.raises(BadRequestError) as raised:
        client(server).chat.completions.create(
            model="idx", messages=[{"role": "user", "content": QUESTION}], extra_body={"colour": "blue"}
        )
    assert raised.value.status_code == 400 and "colour" in raised.value.message


def test_oversized_body_unknown_route_and_plain_text_are_4xx(start: Any) -> None:
    server, _ = start(max_body=2_000)
    r = httpx.post(f"{server.url}/v1/chat/completions", json=chat("x" * 5_000))
    assert r.status_code == 413 and "over 2,000 bytes" in r.json()["error"]["message"]
    r = httpx.post(f"{server.url}/v1/completions", json={})
    assert r.status_code == 404 and "POST /v1/chat/completions" in r.json()["error"]["message"]
    r = httpx.get(f"{server.url}/v1/chat/completions")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    r = httpx.post(f"{server.url}/v1/search", content=b"Pokrovsk", headers={"Content-Type": "text/plain"})
    assert r.status_code == 400 and "JSON object" in r.json()["error"]["message"]


def test_search_returns_passages_with_ids_scores_and_locations(start: Any) -> None:
    server, _ = start()
    r = httpx.post(f"{server.url}/v1/search", json={"query": "territory around Pokrovsk", "k": 2})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list" and len(body["data"]) == 2
    best = body["data"][0]
    assert best["path"] == "pokrovsk.txt" and best["rank"] == 1 and best["id"] and "Pokrovsk" in best["text"]
    assert SMALL_DOCS["pokrovsk.txt"][best["start"] : best["end"]] == best["text"] and "lexical" in best["scores"]
    only = {"query": "territory around Pokrovsk", "filters": {"paths": ["taiwan*"]}}
    assert [h["path"] for h in httpx.post(f"{server.url}/v1/search", json=only).json()["data"]] == ["taiwan.txt"]
    for bad, says in (({"query": " "}, "'query' is empty"), ({"query": "x", "k": 0}, "'k'"), ({"q": "x"}, "'q'")):
        r = httpx.post(f"{server.url}/v1/search", json=bad)
        assert r.status_code == 400 and says in r.json()["error"]["message"]


def test_models_and_health_name_the_index(start: Any, small_index: Path) -> None:
    server, _ = start()
    (card,) = httpx.get(f"{server.url}/v1/models").json()["data"]
    assert card["id"] == "idx" and card["object"] == "model" and card["documents"] == 3
    assert httpx.get(f"{server.url}/v1/models/idx").status_code == 200
    assert httpx.get(f"{server.url}/v1/models/other").status_code == 404
    health = httpx.get(f"{server.url}/health").json()
    assert health["status"] == "ok" and health["index"] == str(small_index.resolve()) and health["documents"] == 3


class Gate:
    """A scripted reply that waits until opened: a model busy generating."""

    def __init__(self) -> None:
        self.entered, self.opened = threading.Event(), threading.Event()

    def __call__(self, messages: Sequence[Message]) -> str:
        self.entered.set()
        assert self.opened.wait(30)
        return ANSWER


def test_search_answers_while_the_model_is_busy_and_a_full_queue_is_429(start: Any) -> None:
    gate = Gate()
    server, _ = start(gate, max_queue=1)
    results: list[int] = []
    asking = threading.Thread(
        target=lambda: results.append(
            httpx.post(f"{server.url}/v1/chat/completions", json=chat(), timeout=60).status_code
        )
    )
    asking.start()
    try:
        assert gate.entered.wait(20)
        began = time.monotonic()
        r = httpx.post(f"{server.url}/v1/search", json={"query": "Pokrovsk"}, timeout=10)
        assert r.status_code == 200 and time.monotonic() - began < 5
        busy = httpx.post(f"{server.url}/v1/chat/completions", json=chat(), timeout=10)
        assert busy.status_code == 429 and busy.json()["error"]["code"] == "queue_full"
    finally:
        gate.opened.set()
        asking.join(timeout=30)
    assert results == [200]
    assert httpx.post(f"{server.url}/v1/chat/completions", json=chat(), timeout=30).status_code == 200


def test_the_server_follows_the_current_index(start: Any, small_index: Path, tmp_path: Path) -> None:
    from index.build import build_index
    from index.chunking import ChunkerSettings
    from index.embedding import HashEmbedder

    server, _ = start()
    src = tmp_path / "src"
    (src / "kyiv.txt").write_text("Capital\n\nKyiv lies on the Dnipro river.", encoding="utf-8")
    build_index(src, small_index, embedder=HashEmbedder(64), settings=ChunkerSettings(64, 8))
    r = httpx.post(f"{server.url}/v1/search", json={"query": "Dnipro river Kyiv", "k": 1})
    assert r.json()["data"][0]["path"] == "kyiv.txt"
    assert httpx.get(f"{server.url}/health").json()["documents"] == 4


class SlowBackend(ScriptedBackend):
    """Writes one piece every 50 ms while holding a lock, as the llama.cpp backend holds its model."""

    def __init__(self) -> None:
        super().__init__(ANSWER * 20, piece_size=2)
        self.lock = threading.Lock()

    def complete(self, messages: Sequence[Message], **options: Any) -> Iterator[str]:
        with self.lock:
            for piece in super().complete(messages, **options):
                time.sleep(0.05)
                yield piece


def test_a_client_that_leaves_mid_stream_frees_the_model_and_its_place(small_index: Path) -> None:
    backend = SlowBackend()
    settings = AnswerSettings(backend="scripted", min_evidence=0.0, log_questions=False, answer_tokens=2000)
    server = Running(build_app(Service(Assistant(small_index, settings, backend=backend), max_queue=1)))
    try:
        with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=chat(stream=True), timeout=30) as r:
            assert next(r.iter_lines()).startswith("data: ")
        deadline = time.monotonic() + 10
        while backend.lock.locked():
            assert time.monotonic() < deadline, "the abandoned stream still holds the model"
            time.sleep(0.05)
        assert httpx.post(f"{server.url}/v1/search", json={"query": "Pokrovsk"}, timeout=10).status_code == 200
        started = time.monotonic()
        with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=chat(stream=True), timeout=30) as r:
            assert r.status_code == 200, "the abandoned stream still holds the only place in the queue"
        assert time.monotonic() - started < 10
    finally:
        server.stop()


class FailingBackend(ScriptedBackend):
    """Writes `pieces` pieces, then times out."""

    def __init__(self, pieces: int) -> None:
        super().__init__(ANSWER)
        self.pieces = pieces

    def complete(self, messages: Sequence[Message], **options: Any) -> Iterator[str]:
        from rag.llm.base import LLMTimeout

        yield from list(super().complete(messages, **options))[: self.pieces]
        raise LLMTimeout("no reply from the model in 60 s.")


@pytest.mark.parametrize("pieces", [0, 3])
def test_a_model_failure_is_an_error_status_or_an_error_event(small_index: Path, pieces: int) -> None:
    from openai import APIError

    settings = AnswerSettings(backend="scripted", min_evidence=0.0, log_questions=False)
    server = Running(build_app(Service(Assistant(small_index, settings, backend=FailingBackend(pieces)))))
    try:
        r = httpx.post(f"{server.url}/v1/chat/completions", json=chat(), timeout=30)
        assert r.status_code == 504 and "did not answer in time" in r.json()["error"]["message"]
        with pytest.raises(APIError, match="did not answer in time") as raised:
            list(client(server).chat.completions.create(**chat(), stream=True))
        assert getattr(raised.value, "status_code", None) == (504 if pieces == 0 else None)
        assert httpx.post(f"{server.url}/v1/search", json={"query": "Pokrovsk"}, timeout=10).status_code == 200
    finally:
        server.stop()
