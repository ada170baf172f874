"""`rag serve`: a request's `documents` (paths or globs) narrows what the answer or the search draws on;
a document the index lacks is a 400 naming it, before any answer starts. Real MiniLM index, scripted model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from index.build import build_index
from index.chunking import ChunkerSettings
from rag.answer import Assistant
from rag.llm.scripted import ScriptedBackend
from rag.remote import RemoteAssistant
from rag.settings import AnswerSettings
from serve.api_app import ApiConfig, build_app
from serve.api_service import Service
from tests.conftest import SMALL_DOCS
from tests.serve.test_api import Running, client

pytestmark = pytest.mark.integration

ANSWER = "Taiwan burned fossil fuels for 87 percent of its energy supply this year [1]."
QUESTION = "What happened this year?"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, minilm: Any) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name, text in SMALL_DOCS.items():
        (src / name).write_text(text, encoding="utf-8")
    out = tmp_path_factory.mktemp("served") / "idx"  # the folder's name is the model's
    build_index(src, out, embedder=minilm, settings=ChunkerSettings(64, 8))
    return out


@pytest.fixture()
def served(index_dir: Path) -> Iterator[tuple[Running, ScriptedBackend]]:
    backend = ScriptedBackend(ANSWER)
    settings = AnswerSettings(backend="scripted", min_evidence=0.0, log_questions=False)
    server = Running(build_app(Service(Assistant(index_dir, settings, backend=backend)), ApiConfig()))
    yield server, backend
    server.stop()


def prompt_of(backend: ScriptedBackend) -> str:
    return "\n".join(m.content for m in backend.calls[-1].messages)


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "idx", "messages": [{"role": "user", "content": QUESTION}], **extra}


def test_documents_in_the_body_narrow_the_answer_to_them(served: tuple[Running, ScriptedBackend]) -> None:
    server, backend = served
    r = httpx.post(f"{server.url}/v1/chat/completions", json=body(documents=["taiwan.txt"]), timeout=60)
    assert r.status_code == 200, r.text
    assert {s["path"] for s in r.json()["sources"]} == {"taiwan.txt"}
    assert "87 percent" in prompt_of(backend) and "Pokrovsk" not in prompt_of(backend)
    # The official client sends it as an extra field; a glob works as well as a path.
    completion = client(server).chat.completions.create(
        model="idx", messages=[{"role": "user", "content": QUESTION}], extra_body={"documents": ["*a*.txt"]}
    )
    assert {s["path"] for s in completion.model_extra["sources"]} <= {"alaska.txt", "taiwan.txt"}
    assert "Pokrovsk" not in prompt_of(backend)


def test_an_unknown_document_is_a_400_naming_it_before_the_stream_starts(
    served: tuple[Running, ScriptedBackend],
) -> None:
    server, backend = served
    for stream in (False, True):
        r = httpx.post(f"{server.url}/v1/chat/completions", json=body(documents=["kyiv.txt"], stream=stream))
        assert r.status_code == 400 and r.headers["content-type"].startswith("application/json")
        error = r.json()["error"]
        assert error["param"] == "documents" and error["code"] == "unknown_document"
        assert "'kyiv.txt' matches no indexed document" in error["message"] and "alaska.txt" in error["message"]
    assert backend.calls == []
    r = httpx.post(f"{server.url}/v1/chat/completions", json=body(documents="taiwan.txt"))
    assert r.status_code == 400 and r.json()["error"]["param"] == "documents"  # a list, not a string


def test_search_filters_by_documents(served: tuple[Running, ScriptedBackend]) -> None:
    server, _ = served
    query = {"query": "territory around Pokrovsk", "k": 3}
    only = httpx.post(f"{server.url}/v1/search", json={**query, "filters": {"documents": ["alaska.txt"]}})
    assert [h["path"] for h in only.json()["data"]] == ["alaska.txt"]
    unknown = httpx.post(f"{server.url}/v1/search", json={**query, "filters": {"documents": ["nowhere/*"]}})
    assert (
        unknown.status_code == 400 and "'nowhere/*' matches no indexed document" in unknown.json()["error"]["message"]
    )


def test_rag_ask_server_sends_the_documents(served: tuple[Running, ScriptedBackend]) -> None:
    server, backend = served
    remote = RemoteAssistant(server.url)
    try:
        answer = remote.stream(QUESTION, documents=["taiwan.txt"]).answer
    finally:
        remote.close()
    assert not answer.refused and {h.chunk.path for h in answer.sources} == {"taiwan.txt"}
    assert "Pokrovsk" not in prompt_of(backend)
