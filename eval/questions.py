"""Question sets in four formats, detected from the file; malformed lines are reported, not fatal.

- project JSONL: `{"id", "question", "answers", "answerable", "evidence": [{"doc", "quote"}], "history",
  "documents"}`; `documents` (optional) narrows the question's retrieval to those paths or globs
- SQuAD-style JSONL: `{"id", "question", "answers", "is_impossible", "gold_passage"}`
- BEIR: queries (`{"_id", "text"}` JSONL or TSV, or a folder holding them) plus qrels; retrieval only
- CSV: a `question` column, optional `answer` (several separated by `|`), `id`, `answerable`,
  `evidence` (a quote), `doc`, `passage` (a gold passage id), `documents` (paths or globs, `|`-separated)
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.beir import load_qrels


@dataclass(frozen=True)
class Evidence:
    """A quote that answers the question, found inside some chunk; `doc` narrows it to one document."""

    quote: str
    doc: str = ""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...] = ()
    answerable: bool = True
    evidence: tuple[Evidence, ...] = ()
    passages: tuple[str, ...] = ()  # gold passage ids: a chunk's record_id (BEIR `_id`) or document id
    history: tuple[str, ...] = ()  # earlier user questions, oldest first
    documents: tuple[str, ...] = ()  # retrieval searches only these documents (paths or globs; rag/documents.py)
    retrieval_only: bool = False
    line: int = 0
    split: str = ""  # "tune" or "report": which half of the set the question is in (see `split_of`)


@dataclass(frozen=True)
class LineProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(frozen=True)
class QuestionSet:
    path: str
    format: str
    questions: tuple[Question, ...]
    problems: tuple[LineProblem, ...] = ()


class BadLine(ValueError):
    """One line of a question file cannot be used; the message says why."""


def _json_lines(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                yield lineno, line


def _object(line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise BadLine(f"expected a JSON object, got {type(record).__name__}")
    return record


def _text(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadLine(f"'{key}' must be a non-empty string")
    return value.strip()


def _strings(record: dict[str, Any], key: str, item_key: str = "") -> tuple[str, ...]:
    value = record.get(key) or []
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list):
        raise BadLine(f"'{key}' must be a list of strings")
    out = []
    for item in value:
        if isinstance(item, dict) and item_key:
            item = item.get(item_key)
        if not isinstance(item, str):
            raise BadLine(f"'{key}' must be a list of strings, found {item!r}")
        out.append(item)
    return tuple(out)


def _evidence(record: dict[str, Any]) -> tuple[Evidence, ...]:
    items = record.get("evidence") or []
    if not isinstance(items, list):
        raise BadLine('\'evidence\' must be a list of {"doc", "quote"} objects')
    out = []
    for item in items:
        if isinstance(item, str):
            item = {"quote": item}
        if not isinstance(item, dict) or not isinstance(item.get("quote"), str) or not item["quote"].strip():
            raise BadLine(f"each evidence item needs a non-empty 'quote', found {item!r}")
        out.append(Evidence(item["quote"], str(item.get("doc") or "")))
    return tuple(out)


def _flag(record: dict[str, Any], key: str, default: bool) -> bool:
    value = record.get(key, default)
    if not isinstance(value, bool):
        raise BadLine(f"'{key}' must be true or false, found {value!r}")
    return value


def _project(record: dict[str, Any], lineno: int) -> Question:
    answers = _strings(record, "answers")
    return Question(
        id=str(record.get("id") or f"line-{lineno}"),
        question=_text(record, "question"),
        answers=answers,
        answerable=_flag(record, "answerable", bool(answers)),
        evidence=_evidence(record),
        passages=_strings(record, "passages"),
        history=_strings(record, "history", item_key="question"),
        documents=_documents(record),
        line=lineno,
        split=str(record.get("split") or ""),
    )


def _documents(record: dict[str, Any]) -> tuple[str, ...]:
    found = _strings(record, "documents")
    if any(not d.strip() for d in found):
        raise BadLine(f"'documents' must be paths or globs of indexed documents, found {list(found)!r}")
    return tuple(d.strip() for d in found)


SPLITS = ("tune", "report")


def split_of(question: Question) -> str:
    """The half a question belongs to: its own `split` field, else a fixed hash of its id, so any set
    (SQuAD2, BEIR, news dev) splits the same way on every machine: defaults are tuned on one half and
    reported on the other."""
    if question.split:
        return question.split
    return SPLITS[hashlib.sha1(question.id.encode()).digest()[0] % 2]


def _squad(record: dict[str, Any], lineno: int) -> Question:
    impossible = _flag(record, "is_impossible", False)
    answers = tuple(dict.fromkeys(_strings(record, "answers") + _strings(record, "all_answers")))
    if not impossible and not answers:
        raise BadLine("an answerable question (is_impossible false) needs at least one answer")
    return Question(
        id=str(record.get("id") or f"line-{lineno}"),
        question=_text(record, "question"),
        answers=() if impossible else answers,
        answerable=not impossible,
        passages=_strings(record, "gold_passage"),
        line=lineno,
    )


def _read_jsonl(
    path: Path, parse: Callable[[dict[str, Any], int], Question]
) -> tuple[list[Question], list[LineProblem]]:
    questions: list[Question] = []
    problems: list[LineProblem] = []
    for lineno, line in _json_lines(path):
        try:
            questions.append(parse(_object(line), lineno))
        except BadLine as exc:
            problems.append(LineProblem(lineno, str(exc)))
    return questions, problems


_TRUE, _FALSE = {"true", "yes", "1", "y"}, {"false", "no", "0", "n"}


def _csv_row(row: dict[str, str], lineno: int) -> Question:
    question = (row.get("question") or "").strip()
    if not question:
        raise BadLine("the 'question' cell is empty")
    answers = tuple(a.strip() for a in (row.get("answer") or row.get("answers") or "").split("|") if a.strip())
    flag = (row.get("answerable") or "").strip().lower()
    if flag and flag not in _TRUE | _FALSE:
        raise BadLine(f"'answerable' must be true or false, found {flag!r}")
    quote = (row.get("evidence") or "").strip()
    passage = (row.get("passage") or "").strip()
    return Question(
        id=(row.get("id") or "").strip() or f"line-{lineno}",
        question=question,
        answers=answers,
        answerable=flag in _TRUE if flag else bool(answers),
        evidence=(Evidence(quote, (row.get("doc") or "").strip()),) if quote else (),
        passages=(passage,) if passage else (),
        documents=tuple(d.strip() for d in (row.get("documents") or "").split("|") if d.strip()),
        line=lineno,
    )


def _read_csv(path: Path) -> tuple[list[Question], list[LineProblem]]:
    questions: list[Question] = []
    problems: list[LineProblem] = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip().lower() for c in reader.fieldnames or []]
        if "question" not in columns:
            raise ValueError(f"{path}: a CSV question set needs a 'question' column; found {columns or 'no header'}")
        for raw in reader:
            row = {str(k).strip().lower(): v or "" for k, v in raw.items() if k is not None}
            try:
                questions.append(_csv_row(row, reader.line_num))
            except BadLine as exc:
                problems.append(LineProblem(reader.line_num, str(exc)))
    return questions, problems


def _beir_files(path: Path, qrels: Path | None) -> tuple[Path, Path]:
    """The queries file and its qrels: given, or found beside it (`qrels/SPLIT.tsv` for `queries_SPLIT`)."""
    if path.is_dir():
        found = sorted(path.glob("queries*.jsonl")) or sorted(path.glob("queries*.tsv"))
        if len(found) != 1:
            raise ValueError(f"{path}: expected one queries*.jsonl file in the folder, found {len(found)}")
        path = found[0]
    if qrels is not None:
        return path, qrels
    folder = path.parent / "qrels"
    tsvs = sorted(folder.glob("*.tsv")) if folder.is_dir() else []
    split = path.stem.partition("_")[2]
    chosen = [t for t in tsvs if t.stem == split] or (tsvs if len(tsvs) == 1 else [])
    if not chosen:
        raise ValueError(f"{path}: BEIR queries need qrels; pass --qrels FILE (found {[t.name for t in tsvs]})")
    return path, chosen[0]


def _read_beir(path: Path, qrels_path: Path | None) -> tuple[list[Question], list[LineProblem]]:
    queries_path, qrels_file = _beir_files(path, qrels_path)
    qrels = load_qrels(qrels_file)
    questions: list[Question] = []
    problems: list[LineProblem] = []
    tsv = queries_path.suffix.lower() == ".tsv"
    for lineno, line in _json_lines(queries_path):
        try:
            if tsv:
                if lineno == 1:
                    continue  # the header
                qid, _, text = line.rstrip("\n").partition("\t")
                if not text.strip():
                    raise BadLine("expected 'query-id<TAB>text'")
            else:
                record = _object(line)
                qid, text = str(record.get("_id") or ""), _text(record, "text")
            relevant = tuple(doc for doc, grade in qrels.get(qid, {}).items() if grade > 0)
            if not relevant:
                raise BadLine(f"query {qid!r} has no relevant document in {qrels_file.name}; skipped")
            questions.append(Question(qid, text.strip(), passages=relevant, retrieval_only=True, line=lineno))
        except BadLine as exc:
            problems.append(LineProblem(lineno, str(exc)))
    return questions, problems


def detect_format(path: Path) -> str:
    """`beir` for a folder or `_id` lines, `csv` by suffix, else `squad` or `project` by the first object's keys."""
    if path.is_dir() or path.suffix.lower() == ".tsv":
        return "beir"
    if path.suffix.lower() == ".csv":
        return "csv"
    for _, line in _json_lines(path):
        try:
            record = _object(line)
        except BadLine:
            continue
        if "_id" in record and "question" not in record:
            return "beir"
        if "is_impossible" in record or "gold_passage" in record:
            return "squad"
        if "question" in record:
            return "project"
    raise ValueError(f"{path}: cannot tell the format; no line is a JSON object with a 'question' or '_id'")


FORMATS = ("project", "squad", "beir", "csv")


def load_questions(path: str | Path, *, format: str | None = None, qrels: str | Path | None = None) -> QuestionSet:
    """Every usable question of the file in file order, and a problem per line that could not be used."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"No question file at {p}; give the path of a .jsonl, .csv or BEIR queries file.")
    fmt = format or detect_format(p)
    if fmt not in FORMATS:
        raise ValueError(f"Unknown question format {fmt!r}. Choose one of: {', '.join(FORMATS)}.")
    if fmt == "beir":
        questions, problems = _read_beir(p, Path(qrels) if qrels else None)
    elif fmt == "csv":
        questions, problems = _read_csv(p)
    else:
        questions, problems = _read_jsonl(p, _squad if fmt == "squad" else _project)
    seen: set[str] = set()
    unique = []
    for q in questions:
        if q.id in seen:
            problems.append(LineProblem(q.line, f"id {q.id!r} repeats an earlier question; skipped"))
            continue
        seen.add(q.id)
        unique.append(q)
    if not unique:
        raise ValueError(f"{p}: no usable question ({len(problems)} malformed lines; first: {problems[:1]})")
    problems.sort(key=lambda pr: pr.line)
    return QuestionSet(str(p), fmt, tuple(unique), tuple(problems))
