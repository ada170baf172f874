"""The chat served on a free loopback port and driven through gradio_client, as a user's browser would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rag.llm.scripted import ScriptedBackend
from ui.engine import Engine

pytestmark = pytest.mark.integration


def client(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False)


def ask(c: Any, question: str) -> tuple[list[dict[str, Any]], str]:
    messages, panel = c.predict(question, "scripted", "", 6, "hybrid", False, api_name="/ask")[:2]
    return messages, panel


def text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, list):  # gradio may return [{"type": "text", "text": ...}]
        return "".join(part.get("text", "") for part in content)
    return str(content)


def test_two_clients_have_separate_histories(small_index: Path, serve: Any) -> None:
    backend = ScriptedBackend("Russian forces seized 10km of territory around Pokrovsk [1].", name="scripted")
    url = serve(Engine(small_index, backend=backend))
    assert url.startswith("http://127.0.0.1:")
    alice, bob = client(url), client(url)
    ask(alice, "How much territory did Russian forces seize around Pokrovsk?")
    alice_msgs, _ = ask(alice, "And around Pokrovsk before the talks?")
    bob_msgs, panel = ask(bob, "What did Russian forces seize near Pokrovsk?")
    assert len(alice_msgs) == 4 and len(bob_msgs) == 2
    assert "What did Russian forces seize" in text_of(bob_msgs[0])
    assert not any("before the talks" in text_of(m) for m in bob_msgs)
    assert 'href="#src-0-' in text_of(bob_msgs[1]) and "pokrovsk.txt" in panel
    marker = text_of(bob_msgs[1]).split('href="#src-0-')[1].split('"')[0]
    selected = bob.predict(f"0:{marker}:1", api_name="/select_source")
    assert f'class="src-card selected" id="src-0-{marker}"' in selected
    cleared = bob.predict(api_name="/new_chat")
    assert cleared[0] == [] and len(ask(alice, "Pokrovsk territory seized?")[0]) == 6


@pytest.mark.slow
def test_answer_with_citations_on_the_reference_corpus_with_the_real_model(news_index: Path, serve: Any) -> None:
    url = serve(Engine(news_index, backend="llama-cpp"))
    c = client(url)
    messages, panel = c.predict(
        "Which refinery did Ukraine fire drones on before the Alaska talks?",
        "llama-cpp",
        "",
        6,
        "hybrid",
        False,
        api_name="/ask",
    )[:2]
    answer = text_of(messages[-1])
    assert "Syzran" in answer, answer
    assert 'class="cite"' in answer and 'href="#src-0-' in answer
    assert "000_f8153a16f5650d2a.txt" in panel and '<mark class="evidence">' in panel
