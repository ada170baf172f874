"""A running chat follows the index it serves: a re-index that removes a document stops it being
cited within one question, an added one is found, and the superseded version leaves the disk."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from index.build import build_index
from index.embedding import HashEmbedder
from index.store import IndexStore
from rag.answer import Assistant
from rag.llm.base import Message
from rag.llm.scripted import ScriptedBackend
from ui.engine import Engine
from ui.session import ChatSession, respond

pytestmark = pytest.mark.reliability
ROOT = Path(__file__).resolve().parents[2]
SECRET = "The vault code of the Aldermoor office is 4417, kept by the night porter."
ADDED = "The Brackenfield office moved to the old granary beside the river in March."
OTHER = "The canteen serves soup on Mondays and fish on Fridays."


def first_source_sentence(messages: Sequence[Message]) -> str:
    """A model that repeats the first source's first sentence, cited: enough to show which passage it read."""
    user = messages[-1].content
    match = re.search(r"\[1\][^:]*:\s*(.+?[.!?])", user, re.S)
    return f"{match.group(1).strip()} [1]." if match else "The documents don't say."


def corpus(folder: Path, *texts: tuple[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for name, text in texts:
        (folder / name).write_text(text + "\n", encoding="utf-8")
    return folder


def versions(index: Path) -> list[str]:
    return sorted(p.name for p in index.iterdir() if re.fullmatch(r"v\d{4,}", p.name))


def cited_docs(session: ChatSession) -> set[str]:
    answer = session.turns[-1].answer
    return {c.chunk.doc_id for c in answer.citations} if answer else set()


def test_chat_engine_follows_a_rebuilt_index(tmp_path: Path) -> None:
    src = corpus(tmp_path / "src", ("secret.txt", SECRET), ("canteen.txt", OTHER))
    index = tmp_path / "idx"
    build_index(src, index, embedder=HashEmbedder(64))
    engine = Engine(index, backend=ScriptedBackend(first_source_sentence, name="scripted"))
    settings = engine.defaults.with_overrides(min_evidence=0.0, top_k=1)
    session = ChatSession()
    list(respond(engine, session, "What is the vault code of the Aldermoor office?", settings))
    assert cited_docs(session) == {"secret.txt"}

    corpus(src, ("canteen.txt", OTHER), ("added.txt", ADDED))
    build_index(src, index, embedder=HashEmbedder(64))
    assert len(versions(index)) == 2, "the chat still has v0001 open, so the build left it"

    updates = list(respond(engine, session, "What is the vault code of the Aldermoor office?", settings))
    assert "secret.txt" not in cited_docs(session)
    assert "4417" not in updates[-1].messages[-1]["content"] and "secret.txt" not in updates[-1].panel
    assert "Index updated: 2 documents." in updates[-1].messages[-1]["content"]
    assert versions(index) == ["v0002"], "the superseded version is deleted once no reader holds it"

    list(respond(engine, session, "Where did the Brackenfield office move?", settings))
    assert cited_docs(session) == {"added.txt"}
    assert "Index updated" not in session.messages()[-1]["content"], "said once, not on every answer"


def test_assistant_follows_current_and_a_running_answer_keeps_its_version(tmp_path: Path) -> None:
    src = corpus(tmp_path / "src", ("secret.txt", SECRET), ("canteen.txt", OTHER))
    index = tmp_path / "idx"
    build_index(src, index, embedder=HashEmbedder(64))
    assistant = Assistant(index, backend=ScriptedBackend(first_source_sentence), min_evidence=0.0, top_k=1)
    running = assistant.stream("What is the vault code of the Aldermoor office?")
    first_piece = next(iter(running))  # generation has started on v0001
    corpus(src, ("canteen.txt", OTHER), ("added.txt", ADDED))
    build_index(src, index, embedder=HashEmbedder(64))
    assert first_piece and "4417" in running.answer.text, "an answer under way is not cut off"
    later = assistant.ask("Where did the Brackenfield office move?")
    assert assistant.store.version == "v0002" and {c.chunk.doc_id for c in later.citations} == {"added.txt"}
    assert not any(h.chunk.doc_id == "secret.txt" for h in later.hits)


def test_an_open_store_keeps_its_version_on_disk_until_closed(tmp_path: Path) -> None:
    src = corpus(tmp_path / "src", ("secret.txt", SECRET))
    index = tmp_path / "idx"
    build_index(src, index, embedder=HashEmbedder(64))
    reader = IndexStore.open(index)
    corpus(src, ("canteen.txt", OTHER))
    build_index(src, index, embedder=HashEmbedder(64))
    assert versions(index) == ["v0001", "v0002"] and not reader.is_current()
    assert reader.chunks[0].text.startswith("The vault code"), "the reader still reads its version"
    reader.close()
    corpus(src, ("canteen.txt", OTHER), ("added.txt", ADDED))
    build_index(src, index, embedder=HashEmbedder(64))
    assert versions(index) == ["v0003"]


def text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content)
    return str(content)


@pytest.mark.integration
def test_served_chat_stops_citing_a_document_removed_by_rag_index(tmp_path: Path, serve: Any) -> None:
    """The chat on loopback, and `rag index` as its own process on the same folder, as a user would run them."""
    from gradio_client import Client

    src = corpus(tmp_path / "src", ("secret.txt", SECRET), ("canteen.txt", OTHER))
    index = tmp_path / "idx"
    build_index(src, index, embedder=HashEmbedder(64))
    backend = ScriptedBackend(first_source_sentence, name="scripted")
    engine = Engine(index, backend=backend, settings=None)
    url = serve(engine)
    chat = Client(url, verbose=False)

    def ask(question: str) -> tuple[str, str]:
        messages, panel = chat.predict(question, "scripted", "", 1, "hybrid", False, api_name="/ask")[:2]
        return text_of(messages[-1]), str(panel)

    answer, panel = ask("What is the vault code of the Aldermoor office?")
    assert "4417" in answer and "secret.txt" in panel
    corpus(src, ("canteen.txt", OTHER), ("added.txt", ADDED))
    done = subprocess.run(
        [sys.executable, "-m", "cli", "index", str(src), "--index", str(index), "--embedder", "hash-64", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer, panel = ask("What is the vault code of the Aldermoor office?")
    assert "4417" not in answer and "secret.txt" not in panel
    assert "Index updated: 2 documents." in answer
    answer, panel = ask("Where did the Brackenfield office move?")
    assert "granary" in answer and "added.txt" in panel
    assert versions(index) == ["v0002"]
