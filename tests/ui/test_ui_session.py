"""The chat's wiring with a hash embedder and a scripted model: streaming, citations, sessions, errors, feedback."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from rag.llm.base import LLMTimeout, LLMUnavailable, Message
from rag.llm.scripted import ScriptedBackend
from ui.engine import Engine
from ui.session import ChatSession, FeedbackLog, Update, respond

POKROVSK = "Russian forces seized 10km of territory around Pokrovsk [1]."


def engine(index: Path, replies: object = POKROVSK) -> Engine:
    return Engine(index, backend=ScriptedBackend(replies, name="scripted"))  # type: ignore[arg-type]


def run(eng: Engine, session: ChatSession, question: str) -> list[Update]:
    return list(respond(eng, session, question, eng.defaults))


def test_answer_streams_then_shows_chips_and_highlighted_source(small_index: Path) -> None:
    eng, session = engine(small_index), ChatSession()
    updates = run(eng, session, "How much territory did Russian forces seize around Pokrovsk?")
    partial = [u for u in updates if not u.done]
    assert len(partial) > 3 and partial[0].messages[-1]["content"].endswith("▌")
    final = updates[-1]
    assert final.done and [m["role"] for m in final.messages] == ["user", "assistant"]
    answer = session.turns[0].answer
    assert answer is not None and not answer.refused
    [c] = answer.citations
    text = final.messages[-1]["content"]
    assert f'href="#src-0-{c.marker}"' in text and 'class="cite"' in text
    assert f'id="src-0-{c.marker}"' in final.panel and "pokrovsk.txt" in final.panel
    assert re.search(r'<mark class="evidence">[^<]*Pokrovsk[^<]*</mark>', final.panel)
    assert "support 0." in final.panel or "support 1." in final.panel


def test_selecting_a_chip_marks_that_card_and_ignores_bad_keys(small_index: Path) -> None:
    eng, session = engine(small_index), ChatSession()
    run(eng, session, "How much territory did Russian forces seize around Pokrovsk?")
    marker = session.turns[0].answer.citations[0].marker  # type: ignore[union-attr]
    panel = session.select(f"0:{marker}:12345")
    assert f'class="src-card selected" id="src-0-{marker}"' in panel
    assert session.select("7:1") == panel and session.select("junk") == panel


def test_two_sessions_keep_separate_histories_and_new_chat_clears(small_index: Path) -> None:
    seen: list[Sequence[Message]] = []

    def reply(messages: Sequence[Message]) -> str:
        seen.append(messages)
        return "Taiwan burned fossil fuels for 87 percent of its energy supply [1]."

    eng = engine(small_index, reply)
    alice, bob = ChatSession(), ChatSession()
    run(eng, alice, "What share of Taiwan's energy came from fossil fuels?")
    run(eng, alice, "And what about it in the period mentioned?")
    run(eng, bob, "What share of Taiwan's energy came from fossil fuels?")
    assert len(alice.turns) == 2 and len(bob.turns) == 1
    assert alice.conversation.questions[0] in " ".join(m.content for m in seen[1])  # the follow-up saw turn 1
    assert "period mentioned" not in " ".join(m.content for m in seen[-1])  # bob's prompt carries none of alice's turns
    alice.clear()
    assert alice.messages() == [] and alice.conversation.turns == [] and "appear here" in alice.panel()


def test_refusal_is_shown_as_such_with_closest_sources(small_index: Path) -> None:
    eng, session = engine(small_index, "The documents don't say."), ChatSession()
    final = run(eng, session, "What did Putin eat in Anchorage Alaska?")[-1]
    assert "Not answered from the documents" in final.messages[-1]["content"]
    assert "Closest passages (not cited)" in final.panel and "alaska.txt" in final.panel


class Failing(ScriptedBackend):
    def __init__(self, error: Exception) -> None:
        super().__init__("x")
        self.error = error

    def complete(self, messages: Sequence[Message], **kw: object) -> Iterator[str]:  # type: ignore[override]
        raise self.error
        yield ""


def test_errors_are_readable_sentences_not_traces(small_index: Path, tmp_path: Path) -> None:
    cases = [
        (LLMUnavailable("Start the server: llama-server -m model.gguf"), "model is unavailable"),
        (LLMTimeout("No answer within 60 s."), "did not answer in time"),
        (RuntimeError("boom"), "went wrong (RuntimeError)"),
    ]
    for error, expected in cases:
        eng, session = Engine(small_index, backend=Failing(error)), ChatSession()
        text = run(eng, session, "How much territory did Russian forces seize around Pokrovsk?")[-1].messages[-1]
        assert expected in text["content"] and "Traceback" not in text["content"]
    missing = Engine(tmp_path / "nowhere", backend=ScriptedBackend("x"))
    text = run(missing, ChatSession(), "Anything?")[-1].messages[-1]["content"]
    assert "no index at" in text and "rag index" in text


def test_empty_index_says_so(tmp_path: Path) -> None:
    """`rag index` writes no version that holds nothing (index.build.NothingToIndex); one written by hand,
    or by an older build, may still hold none."""
    import numpy as np

    from index.store import write_version
    from index.types import EmbedderInfo, FaissSettings, Manifest

    flat = FaissSettings("flat", "auto")
    manifest = Manifest(source=str(tmp_path / "src"), embedder=EmbedderInfo("hash-64", 64), faiss=flat)
    write_version(tmp_path / "idx", [], np.zeros((0, 64), dtype=np.float32), manifest, "auto")
    eng = Engine(tmp_path / "idx", backend=ScriptedBackend("x"))
    text = run(eng, ChatSession(), "Anything?")[-1].messages[-1]["content"]
    assert "holds no documents" in text


def test_unavailable_rerank_is_an_error_not_a_silent_fallback(small_index: Path, monkeypatch: object) -> None:
    import pytest

    mp = pytest.MonkeyPatch()
    mp.delenv("RAG_RERANKER", raising=False)
    try:
        eng = engine(small_index)
        settings = eng.defaults.with_overrides(rerank=True)
        text = list(respond(eng, ChatSession(), "Pokrovsk territory?", settings))[-1].messages[-1]["content"]
        assert "Re-ranking is unavailable" in text and "RAG_RERANKER" in text
    finally:
        mp.undo()


def test_feedback_appends_question_answer_citations_and_settings(small_index: Path, tmp_path: Path) -> None:
    eng, session = engine(small_index), ChatSession()
    run(eng, session, "How much territory did Russian forces seize around Pokrovsk?")
    log = FeedbackLog(tmp_path / "fb" / "feedback.jsonl")
    log.record(session, 1, True, str(small_index))
    log.record(session, 1, False)
    lines = [json.loads(x) for x in (tmp_path / "fb" / "feedback.jsonl").read_text().splitlines()]
    assert [x["rating"] for x in lines] == ["up", "down"]
    first = lines[0]
    assert first["question"].startswith("How much territory") and "Pokrovsk" in first["answer"]
    assert first["citations"][0]["doc_id"] == "pokrovsk.txt" and "Pokrovsk" in first["citations"][0]["evidence"]
    assert first["settings"] == eng.defaults.to_json()
    try:
        log.record(session, 9, True)
    except ValueError as exc:
        assert "No answer at message 9" in str(exc)
    else:
        raise AssertionError("rating a message that does not exist must fail")
