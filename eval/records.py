"""Per-question records: built from a question and its `Answer`, appended to records.jsonl one by one.

Each line is written, flushed and fsynced before the next question starts, so an
interrupted run loses at most the question in flight and resumes from the rest.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.questions import Question
from eval.scoring import Gold, Scores, answer_scores, citation_correct, citation_scores, retrieval_scores
from index.types import Chunk
from rag.types import Answer


@dataclass(frozen=True)
class CitedPassage:
    """One citation as the report shows it; `correct` says whether it holds the gold (None: no gold)."""

    marker: int
    doc_id: str
    record_id: str
    start: int
    end: int
    sentence: str
    evidence: str
    support: float
    correct: bool | None


@dataclass(frozen=True)
class QuestionRecord:
    """Everything measured for one question; one line of records.jsonl."""

    id: str
    question: str
    history: tuple[str, ...]
    answerable: bool
    gold_answers: tuple[str, ...]
    answer: str
    refused: bool
    correct: bool
    metrics: Mapping[str, float | None]
    refusal_reason: str = ""
    query: str = ""
    sources: tuple[str, ...] = ()  # document ids of the passages the model saw, in order
    citations: tuple[CitedPassage, ...] = ()
    unsupported_sentences: tuple[str, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    prompt_tokens: int = 0
    answer_tokens: int = 0
    looped: bool = False  # the model repeated itself and was stopped (rag/repetition.py)

    @property
    def multi_turn(self) -> bool:
        return bool(self.history)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuestionRecord:
        values = dict(data)
        for key in ("history", "gold_answers", "sources", "unsupported_sentences"):
            values[key] = tuple(values.get(key) or ())
        values["citations"] = tuple(CitedPassage(**c) for c in values.get("citations") or ())
        return cls(**values)


def _correct(question: Question, scores: Scores) -> bool:
    """Right = contains a gold answer, or declined an unanswerable question; retrieval only: a gold hit."""
    key = "hit@k" if question.retrieval_only else "contains"
    return scores.get(key) == 1.0


def retrieval_record(question: Question, ranked: Sequence[Chunk], k: int, seconds: float) -> QuestionRecord:
    """The record of a retrieval-only question (BEIR): no model call."""
    scores = dict(retrieval_scores(question, ranked, k))
    return QuestionRecord(
        id=question.id,
        question=question.question,
        history=question.history,
        answerable=True,
        gold_answers=(),
        answer="",
        refused=False,
        correct=_correct(question, scores),
        metrics=scores,
        sources=tuple(c.doc_id for c in ranked[:k]),
        timings={"retrieve": seconds, "total": seconds},
    )


def answer_record(question: Question, answer: Answer, ranked: Sequence[Chunk], k: int) -> QuestionRecord:
    """The record of one answered (or declined) question; `ranked` is the retrieval at depth for its metrics."""
    scores = {
        **retrieval_scores(question, ranked, k),
        **answer_scores(question, answer),
        **citation_scores(question, answer),
    }
    gold = Gold.of(question) if question.answerable else Gold((), ())
    cited = tuple(
        CitedPassage(
            c.marker,
            c.chunk.doc_id,
            c.chunk.record_id,
            c.chunk.start,
            c.chunk.end,
            c.sentence,
            c.evidence,
            round(c.support, 4),
            citation_correct(c, gold),
        )
        for c in answer.citations
    )
    return QuestionRecord(
        id=question.id,
        question=question.question,
        history=question.history,
        answerable=question.answerable,
        gold_answers=question.answers,
        answer=answer.text,
        refused=answer.refused,
        correct=_correct(question, scores),
        metrics=scores,
        refusal_reason=answer.refusal_reason,
        query=answer.query,
        sources=tuple(h.chunk.doc_id for h in answer.sources),
        citations=cited,
        unsupported_sentences=answer.unsupported_sentences,
        timings={k_: round(v, 4) for k_, v in asdict(answer.timings).items()},
        prompt_tokens=answer.usage.prompt_tokens,
        answer_tokens=answer.usage.answer_tokens,
        looped=answer.looped,
    )


class RecordLog:
    """records.jsonl: read what an earlier run wrote, append one fsynced line per question."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def read(self) -> dict[str, QuestionRecord]:
        """Records by question id; a torn last line (a crash mid-write) is ignored and rewritten later."""
        records: dict[str, QuestionRecord] = {}
        if not self.path.exists():
            return records
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    record = QuestionRecord.from_dict(json.loads(line))
                except (json.JSONDecodeError, TypeError, KeyError):
                    continue
                records[record.id] = record
        return records

    def append(self, record: QuestionRecord) -> None:
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(record.to_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def repair(self) -> None:
        """End the file with a newline, so a line torn by a crash does not swallow the next record."""
        if self.path.exists() and self.path.stat().st_size:
            with open(self.path, "rb+") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    fh.write(b"\n")
