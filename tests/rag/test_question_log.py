"""The question log: what a line holds and never holds, turning it off, rotation, concurrent writers,
a log that cannot be written, and re-indexing that leaves it in place."""

from __future__ import annotations

import json
import logging
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from index.build import build_index
from index.chunking import ChunkerSettings
from index.embedding import HashEmbedder
from rag.answer import Assistant
from rag.llm.scripted import ScriptedBackend
from rag.question_log import QuestionLog, QuestionLogRecord, log_files, log_path
from rag.settings import AnswerSettings

ANSWER = "The summit took place in Anchorage, Alaska [1]. The talks lasted nine days."
SETTINGS = AnswerSettings(min_evidence=0.0)


def _lines(index: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log_path(index).read_text("utf-8").splitlines()]


def test_each_answer_is_one_line_with_ids_counts_and_timings(small_index: Path) -> None:
    assistant = Assistant(small_index, SETTINGS, backend=ScriptedBackend(ANSWER))
    answer = assistant.ask("Where did the summit take place?", history=["Who met in Alaska?"])
    (line,) = _lines(small_index)
    assert line["index"] == str(small_index.resolve()) and line["version"] == assistant.store.version
    assert line["backend"] == "scripted" and line["question"] == "Where did the summit take place?"
    assert line["query"] == answer.query and line["turns"] == 1
    assert line["hits"] == [h.chunk.id for h in answer.hits] and line["refused"] is False
    assert line["sentences"] == 2 and line["unsupported"] == 1  # "nine days" is in no passage
    assert line["prompt_tokens"] == answer.usage.prompt_tokens > 0 and line["answer_tokens"] > 0
    timings = line["timings"]
    assert timings["total"] > 0 and set(timings) >= {"first_token", "retrieve"}
    (cited,) = line["citations"]
    assert cited["doc_id"] == "alaska.txt" and cited["marker"] == 1 and cited["support"] > 0.5
    text = log_path(small_index).read_text("utf-8")
    assert "Putin arrived by plane" not in text and "nine days" not in text  # no passage text, no answer text
    assert (log_path(small_index).stat().st_mode & 0o777) == 0o600


def test_refusals_are_logged_with_their_reason(small_index: Path) -> None:
    Assistant(small_index, AnswerSettings(min_evidence=1.0), backend=ScriptedBackend(ANSWER)).ask("Who won the cup?")
    (line,) = _lines(small_index)
    assert line["refused"] is True and line["refusal_reason"] == "no passage is about the question"
    assert line["citations"] == [] and line["answer_tokens"] == 0


def test_the_log_can_be_turned_off(small_index: Path) -> None:
    assert AnswerSettings.from_env({"RAG_QUESTION_LOG": "0"}).log_questions is False
    assert AnswerSettings.from_env({"RAG_QUESTION_LOG": "on"}).log_questions is True
    assert AnswerSettings.from_env({}).log_questions is True
    with pytest.raises(ValueError, match="RAG_QUESTION_LOG='maybe' is invalid"):
        AnswerSettings.from_env({"RAG_QUESTION_LOG": "maybe"})
    quiet = SETTINGS.with_overrides(log_questions=False)
    Assistant(small_index, quiet, backend=ScriptedBackend(ANSWER)).ask("Where did the summit take place?")
    assert not log_path(small_index).exists()


def test_an_unwritable_log_warns_once_and_never_fails_the_answer(
    small_index: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (small_index / "logs").write_text("a file where the log folder should be")
    assistant = Assistant(small_index, SETTINGS, backend=ScriptedBackend(ANSWER))
    with caplog.at_level(logging.WARNING, logger="rag.question_log"):
        answers = [assistant.ask("Where did the summit take place?") for _ in range(3)]
    assert all(not a.refused for a in answers)
    assert len([r for r in caplog.records if "question log" in r.getMessage()]) == 1


def _record(n: int) -> QuestionLogRecord:
    return QuestionLogRecord(
        time="2025-05-01T10:00:00+00:00", index="i", version="v0001", backend="scripted", model="",
        question=f"question {n:05d} " + "x" * 100, query="q", turns=0, hits=(), prompt_tokens=1, answer_tokens=1,
        timings={"total": 1.0}, refused=False, refusal_reason="", sentences=1, unsupported=0, citations=(),
    )  # fmt: skip


def test_rotation_keeps_a_few_files_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "questions.jsonl"
    log = QuestionLog(path, max_bytes=1000, keep=2)
    for n in range(40):
        assert log.append(_record(n))
    files = log_files(path, keep=2)
    assert [f.name for f in files] == ["questions.jsonl.2", "questions.jsonl.1", "questions.jsonl"]
    assert not path.with_name("questions.jsonl.3").exists()
    assert all(f.stat().st_size <= 1000 for f in files)
    numbers = [json.loads(line)["question"][9:14] for f in files for line in f.read_text().splitlines()]
    assert numbers == sorted(numbers) and numbers[-1] == "00039"  # in order, the newest kept


def _write_many(path: str, start: int) -> None:
    log = QuestionLog(path, max_bytes=4000, keep=1000)
    for n in range(start, start + 150):
        log.append(_record(n))


def test_concurrent_writers_lose_and_tear_no_line(tmp_path: Path) -> None:
    path = tmp_path / "questions.jsonl"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write_many, args=(str(path), 1000 * i)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert all(w.exitcode == 0 for w in workers)
    lines = [line for f in log_files(path, keep=1000) for line in f.read_text().splitlines()]
    assert len(lines) == 600 and len({json.loads(line)["question"] for line in lines}) == 600
    assert len(log_files(path, keep=1000)) > 10  # it rotated many times while four processes wrote


def test_reindexing_keeps_the_log(small_index: Path, tmp_path: Path) -> None:
    Assistant(small_index, SETTINGS, backend=ScriptedBackend(ANSWER)).ask("Where did the summit take place?")
    src = tmp_path / "src"
    (src / "new.txt").write_text("Weather\n\nIt rained in Anchorage on Saturday.", encoding="utf-8")
    for rebuild in (False, True):
        build_index(src, small_index, embedder=HashEmbedder(64), settings=ChunkerSettings(64, 8), rebuild=rebuild)
    assert len(_lines(small_index)) == 1
