"""The plain baseline pipeline: top chunks whole, one instruction, no checks (rag/plain.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.build import build_index
from index.chunking import ChunkerSettings
from index.embedding import HashEmbedder
from rag.answer import Assistant
from rag.llm.scripted import ScriptedBackend
from rag.plain import INSTRUCTION, declined
from rag.settings import AnswerSettings


@pytest.fixture()
def index_dir(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "ferries.txt").write_text("Ferries\n\nThe harbour of Zorvik keeps 11 ferries and 3 tugs.", "utf-8")
    (src / "birds.txt").write_text("Birds\n\nGulls nest on the cliffs north of the harbour in May.", "utf-8")
    build_index(src, tmp_path / "idx", embedder=HashEmbedder(64), settings=ChunkerSettings(64, 8))
    return tmp_path / "idx"


def test_plain_sends_whole_chunks_under_one_instruction_and_checks_nothing(index_dir: Path) -> None:
    backend = ScriptedBackend("Zorvik keeps 11 ferries, and also 40 submarines.")
    assistant = Assistant(index_dir, AnswerSettings(pipeline="plain", top_k=2, log_questions=False), backend=backend)
    answer = assistant.ask("How many ferries does Zorvik keep?")
    messages = backend.calls[-1].messages
    assert [m.role for m in messages] == ["system", "user"] and messages[0].content == INSTRUCTION
    assert "The harbour of Zorvik keeps 11 ferries and 3 tugs." in messages[1].content  # the chunk, whole
    assert messages[1].content.rstrip().endswith("Question: How many ferries does Zorvik keep?")
    assert not answer.refused and answer.citations == () and answer.unsupported_sentences == ()
    assert answer.text == "Zorvik keeps 11 ferries, and also 40 submarines."  # unchecked: the claim stays
    assert len(answer.sources) == 2 and answer.hits and answer.timings.first_token > 0


def test_plain_refuses_when_the_model_says_it_does_not_know(index_dir: Path) -> None:
    backend = ScriptedBackend("I don't know.")
    settings = AnswerSettings(pipeline="plain", log_questions=False)
    answer = Assistant(index_dir, settings, backend=backend).ask("Who painted the lighthouse?")
    assert answer.refused and answer.refusal_reason == "the model said it does not know"
    assert backend.calls, "no evidence gate: the plain prompt always asks the model"


def test_plain_puts_earlier_questions_in_the_prompt(index_dir: Path) -> None:
    backend = ScriptedBackend("11 ferries.")
    settings = AnswerSettings(pipeline="plain", log_questions=False)
    Assistant(index_dir, settings, backend=backend).ask("And tugs?", history=["How many ferries does Zorvik keep?"])
    assert "Earlier question: How many ferries does Zorvik keep?" in backend.calls[-1].messages[1].content


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I don't know.", True),
        ("I do not know the answer.", True),
        ("", True),
        ("The context does not mention it.", True),
        ("Zorvik keeps 11 ferries.", False),
    ],
)
def test_declined(text: str, expected: bool) -> None:
    assert declined(text) is expected


def test_unknown_pipeline_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="pipeline='fancy' is invalid: it must be one of checked, plain"):
        AnswerSettings(pipeline="fancy")
