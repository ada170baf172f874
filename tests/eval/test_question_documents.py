"""A question of an eval set may name the documents its retrieval searches (`documents`, paths or globs):
parsed from JSONL and CSV, checked against the index before a model loads, and applied to every answer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import eval.runner
from eval.questions import load_questions
from eval.runner import RunSettings, run_eval
from index.build import build_index
from index.chunking import ChunkerSettings
from rag.llm.base import Message
from rag.llm.scripted import ScriptedBackend
from rag.settings import AnswerSettings

LIMITS = "## Limits\n\nThe widget lifts loads of at most {load} kilograms. Heavier loads trip the safety switch."
DOCS = {
    "widget-1.1.md": "# Widget manual version 1.1\n\nSetting up the widget.\n\n" + LIMITS.format(load=40),
    "widget-2.0.md": "# Widget manual version 2.0\n\nSetting up the widget.\n\n" + LIMITS.format(load=55),
    "notes/crane.txt": "Crane notes\n\nThe harbour crane lifts containers of up to 40 tonnes.",
}
QUESTIONS = [
    {
        "id": "old",
        "question": "How heavy a load can the widget lift?",
        "answers": ["40"],
        "documents": ["widget-1.1.md"],
    },
    {"id": "new", "question": "How heavy a load can the widget lift?", "answers": ["55"], "documents": "widget-2.*"},
    {"id": "any", "question": "What can the harbour crane lift?", "answers": ["40 tonnes"]},
]


def reply(messages: Sequence[Message]) -> str:
    """Answers from whichever limit the prompt shows: what the filter let through decides the answer."""
    prompt = messages[-1].content
    if "40 kilograms" in prompt and "55 kilograms" not in prompt:
        return "The widget lifts loads of at most 40 kilograms [1]."
    if "55 kilograms" in prompt:
        return "The widget lifts loads of at most 55 kilograms [1]."
    return "The harbour crane lifts containers of up to 40 tonnes [1]."


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, minilm: Any) -> Path:
    src = tmp_path_factory.mktemp("docs")
    for rel, text in DOCS.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text, encoding="utf-8")
    out = tmp_path_factory.mktemp("idx")
    build_index(src, out, embedder=minilm, settings=ChunkerSettings(chunk_tokens=40, overlap_tokens=0))
    return out


def write_jsonl(path: Path, records: Sequence[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def test_documents_are_read_from_jsonl_and_csv_and_bad_ones_are_reported(tmp_path: Path) -> None:
    bad = [
        {"id": "n", "question": "Q?", "documents": 5},
        {"id": "e", "question": "Q?", "documents": ["a.md", " "]},
    ]
    qs = load_questions(write_jsonl(tmp_path / "q.jsonl", [*QUESTIONS, *bad]))
    assert [(q.id, q.documents) for q in qs.questions] == [
        ("old", ("widget-1.1.md",)),
        ("new", ("widget-2.*",)),
        ("any", ()),
    ]
    assert [str(p) for p in qs.problems] == [
        "line 4: 'documents' must be a list of strings",
        "line 5: 'documents' must be paths or globs of indexed documents, found ['a.md', ' ']",
    ]
    csv = tmp_path / "q.csv"
    csv.write_text("id,question,answer,documents\nc1,Q?,40, widget-1.1.md | notes/* \nc2,R?,55,\n", encoding="utf-8")
    assert [q.documents for q in load_questions(csv).questions] == [("widget-1.1.md", "notes/*"), ()]


def test_each_question_is_answered_from_its_own_documents(index_dir: Path, tmp_path: Path) -> None:
    questions = write_jsonl(tmp_path / "versions.jsonl", QUESTIONS)
    settings = RunSettings(answer=AnswerSettings(min_evidence=0.0, log_questions=False), progress=False)
    run = run_eval(questions, index_dir, out=tmp_path / "run", settings=settings, backend=ScriptedBackend(reply))
    by_id = {r.id: r for r in run.records}
    assert set(by_id["old"].sources) == {"widget-1.1.md"} and "40 kilograms" in by_id["old"].answer
    assert set(by_id["new"].sources) == {"widget-2.0.md"} and "55 kilograms" in by_id["new"].answer
    assert by_id["old"].correct and by_id["new"].correct
    assert len(set(by_id["any"].sources)) > 1  # no filter: every document may serve


def test_a_document_the_index_lacks_stops_the_run_before_a_model_loads(
    index_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_model(*_: Any) -> Any:
        raise AssertionError("a model was loaded before the questions' documents were checked")

    monkeypatch.setattr(eval.runner, "_make_assistant", no_model)
    questions = write_jsonl(
        tmp_path / "typo.jsonl",
        [QUESTIONS[2], {"id": "typo", "question": "How heavy?", "documents": ["widget-3.0.md"]}],
    )
    with pytest.raises(ValueError, match=r"line 2 \(id 'typo'\): documents: 'widget-3\.0\.md' matches no indexed"):
        run_eval(questions, index_dir, out=tmp_path / "run", settings=RunSettings(progress=False))
    assert not (tmp_path / "run").exists()
