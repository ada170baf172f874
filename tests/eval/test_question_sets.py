"""Question-set loaders: every format, detection, and malformed lines reported with their numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.questions import Evidence, Question, detect_format, load_questions
from tests.conftest import NEWS_DEV, SCIFACT, SQUAD2, need


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_project_jsonl_with_a_malformed_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "dev.jsonl",
        [
            json.dumps(
                {"id": "a", "question": "Who?", "answers": ["Ann"], "evidence": [{"doc": "x.txt", "quote": "Ann"}]}
            ),
            "{not json",
            json.dumps({"id": "b", "question": "Why?", "answers": [], "answerable": False}),
            json.dumps({"id": "c", "question": ""}),
            "",
            json.dumps({"id": "d", "question": "And then?", "answers": ["Bo"], "history": ["Who?"]}),
            json.dumps({"id": "a", "question": "Who again?", "answers": ["Ann"]}),
        ],
    )
    qs = load_questions(path)
    assert qs.format == "project"
    assert [q.id for q in qs.questions] == ["a", "b", "d"]
    assert qs.questions[0] == Question("a", "Who?", ("Ann",), True, (Evidence("Ann", "x.txt"),), line=1)
    assert qs.questions[1].answerable is False and qs.questions[1].answers == ()
    assert qs.questions[2].history == ("Who?",) and qs.questions[2].answerable is True
    assert [(p.line, p.message.split(" (")[0]) for p in qs.problems] == [
        (2, "not valid JSON"),
        (4, "'question' must be a non-empty string"),
        (7, "id 'a' repeats an earlier question; skipped"),
    ]
    assert str(qs.problems[0]).startswith("line 2: not valid JSON")


def test_squad_jsonl_keeps_all_answers_and_gold_passage(tmp_path: Path) -> None:
    rows = [
        {
            "id": "s1",
            "question": "Where?",
            "answers": ["France"],
            "all_answers": ["France", "in France"],
            "is_impossible": False,
            "gold_passage": "a00_p000",
            "title": "Normans",
        },
        {
            "id": "s2",
            "question": "Who?",
            "answers": [],
            "all_answers": [],
            "is_impossible": True,
            "gold_passage": "a00_p001",
            "title": "Normans",
        },
        {"id": "s3", "question": "When?", "answers": [], "is_impossible": False, "gold_passage": "p"},
        {"id": "s4", "question": "What?", "answers": ["x"], "is_impossible": "no", "gold_passage": "p"},
    ]
    qs = load_questions(write(tmp_path / "squad.jsonl", [json.dumps(r) for r in rows]))
    assert qs.format == "squad"
    s1, s2 = qs.questions
    assert s1.answers == ("France", "in France") and s1.passages == ("a00_p000",) and s1.answerable
    assert s2.answers == () and not s2.answerable and s2.passages == ("a00_p001",)
    assert [p.line for p in qs.problems] == [3, 4]
    assert "needs at least one answer" in qs.problems[0].message
    assert "'is_impossible' must be true or false" in qs.problems[1].message


def test_csv_with_question_and_answer_columns(tmp_path: Path) -> None:
    path = tmp_path / "qs.csv"
    path.write_text(
        "Question,Answer,evidence\n"
        "Who wrote it?,Samuel Ramani|Ramani,Opinion by Samuel Ramani\n"
        ",orphan answer,\n"
        '"What is the capital, really?",,\n',
        encoding="utf-8",
    )
    qs = load_questions(path)
    assert qs.format == "csv"
    first, second = qs.questions
    assert first.answers == ("Samuel Ramani", "Ramani") and first.evidence == (Evidence("Opinion by Samuel Ramani"),)
    assert first.id == "line-2" and first.answerable
    assert second.question == "What is the capital, really?" and not second.answerable
    assert [(p.line, p.message) for p in qs.problems] == [(3, "the 'question' cell is empty")]


def test_csv_without_a_question_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("query,answer\nx,y\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs a 'question' column"):
        load_questions(path)


def test_beir_queries_find_their_qrels_and_skip_unjudged(tmp_path: Path) -> None:
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\td1\t1\n2\td2\t0\n", "utf-8")
    (tmp_path / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n2\td2\t1\n", "utf-8")
    write(tmp_path / "queries_test.jsonl", ['{"_id": "1", "text": "magma"}', '{"_id": "2", "text": "tides"}', "[1]"])
    qs = load_questions(tmp_path / "queries_test.jsonl")
    assert qs.format == "beir"
    assert qs.questions == (Question("1", "magma", passages=("d1",), retrieval_only=True, line=1),)
    assert [p.line for p in qs.problems] == [2, 3]
    assert "no relevant document in test.tsv" in qs.problems[0].message
    # A folder with one queries file works too; --qrels picks another split.
    folder = load_questions(tmp_path, qrels=tmp_path / "qrels" / "train.tsv")
    assert [q.id for q in folder.questions] == ["2"]


def test_unknown_or_missing_files_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="No question file"):
        load_questions(tmp_path / "nope.jsonl")
    odd = write(tmp_path / "odd.jsonl", ['{"text": "no question here"}'])
    with pytest.raises(ValueError, match="cannot tell the format"):
        load_questions(odd)
    with pytest.raises(ValueError, match=r"Unknown question format .xml.\. Choose one of: project, squad, beir, csv"):
        load_questions(write(tmp_path / "q.jsonl", ['{"question": "x"}']), format="xml")
    with pytest.raises(ValueError, match="no usable question"):
        load_questions(write(tmp_path / "bad.jsonl", ["{", '{"question": 3}']), format="project")


def test_shared_question_sets_load_completely() -> None:
    news = load_questions(need(NEWS_DEV))
    assert news.format == "project" and len(news.questions) == 24 and not news.problems
    assert sum(bool(q.history) for q in news.questions) == 3
    assert sum(not q.answerable for q in news.questions) == 3
    squad = load_questions(need(SQUAD2 / "dev_questions.jsonl"))
    assert squad.format == "squad" and len(squad.questions) == 1494 and not squad.problems
    assert sum(not q.answerable for q in squad.questions) == 769
    assert detect_format(need(SCIFACT / "queries_train.jsonl")) == "beir"
    scifact = load_questions(SCIFACT / "queries_train.jsonl")
    assert len(scifact.questions) + len(scifact.problems) == 809
