"""The question log: one JSON line per answered question in INDEX/logs/questions.jsonl, rotated by size.

The log sits in the index's root folder, beside the versions rather than inside one, so it outlives
re-indexing (index.store.prune_versions removes only `vNNNN` and `.tmp-*` folders). It records what
was asked and how it went: never the API key, the passages' texts or the answer's text, only ids,
counts, scores and timings. Several processes (a chat, `rag serve`, an evaluation) may answer from
one index at once: each line is one `write` on an O_APPEND descriptor, and rotation happens under
an exclusive flock, so lines are never interleaved or lost. Writing is best effort: a read-only
folder or a full disk costs the log line, never the answer (one warning per file).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from rag.types import Answer

log = logging.getLogger(__name__)

LOG_FOLDER = "logs"
LOG_NAME = "questions.jsonl"
MAX_BYTES = 10_000_000
KEEP = 3  # rotated files: questions.jsonl.1 (newest) ... questions.jsonl.3 (oldest)
SCHEMA = 1
# Questions are personal data: the log is readable by its owner only.
_MODE = 0o600

_warned: set[str] = set()
_warned_lock = threading.Lock()


@dataclass(frozen=True)
class LoggedCitation:
    marker: int
    doc_id: str
    chunk_id: str
    page: int | None
    support: float


@dataclass(frozen=True)
class QuestionLogRecord:
    """One line of the log. `sentences` and `unsupported` count the answer's sentences as
    `rag eval` does (eval.scoring.sentence_count), so `rag stats` computes the same rate."""

    time: str  # local time with its UTC offset, to the second
    index: str
    version: str
    backend: str
    model: str
    question: str
    query: str
    turns: int  # earlier turns of the conversation (their text is not logged)
    hits: tuple[str, ...]  # chunk ids of the ranked retrieval, best first
    prompt_tokens: int
    answer_tokens: int
    timings: dict[str, float]
    refused: bool
    refusal_reason: str
    sentences: int
    unsupported: int
    citations: tuple[LoggedCitation, ...]
    looped: bool = False  # the model repeated itself and was stopped (rag/repetition.py)
    schema: int = SCHEMA

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class LogContext:
    """What the answer itself does not say: where it was answered from, and by which model."""

    index: str
    version: str
    backend: str
    model: str
    turns: int = 0


def backend_and_model(backend_name: str, model: str) -> tuple[str, str]:
    """("llama-cpp", "qwen2.5-coder-1.5b") from a backend object's name "llama-cpp:qwen2.5-coder-1.5b"."""
    kind, _, named = backend_name.partition(":")
    return kind, named or model


def record_of(answer: Answer, context: LogContext, now: datetime | None = None) -> QuestionLogRecord:
    when = (now or datetime.now().astimezone()).isoformat(timespec="seconds")
    sentences = len({c.sentence for c in answer.citations}) + len(answer.unsupported_sentences)
    return QuestionLogRecord(
        time=when,
        index=context.index,
        version=context.version,
        backend=context.backend,
        model=context.model,
        question=answer.question,
        query=answer.query,
        turns=context.turns,
        hits=tuple(h.chunk.id for h in answer.hits),
        prompt_tokens=answer.usage.prompt_tokens,
        answer_tokens=answer.usage.answer_tokens,
        timings={k: round(v, 4) for k, v in asdict(answer.timings).items()},
        refused=answer.refused,
        refusal_reason=answer.refusal_reason,
        sentences=0 if answer.refused else sentences,
        unsupported=0 if answer.refused else len(answer.unsupported_sentences),
        citations=tuple(
            LoggedCitation(c.marker, c.doc_id, c.chunk.id, c.page, round(c.support, 4)) for c in answer.citations
        ),
        looped=answer.looped,
    )


def log_path(index_dir: str | Path) -> Path:
    return Path(index_dir) / LOG_FOLDER / LOG_NAME


def log_files(path: str | Path, keep: int = KEEP) -> list[Path]:
    """The log and its rotated files that exist, oldest first (the order the lines were written)."""
    base = Path(path)
    older = [base.with_name(f"{base.name}.{n}") for n in range(keep, 0, -1)]
    return [p for p in [*older, base] if p.is_file()]


class QuestionLog:
    """Appends records to one log file, rotating it when the next line would pass `max_bytes`."""

    def __init__(self, path: str | Path, *, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> None:
        if max_bytes < 1 or keep < 1:
            raise ValueError(f"max_bytes={max_bytes} and keep={keep} must be 1 or more")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep

    def append(self, record: QuestionLogRecord) -> bool:
        """Write one line; False (after one warning for this file) when it could not be written."""
        data = (record.to_json() + "\n").encode("utf-8")
        try:
            self._write(data)
        except OSError as exc:
            _warn_once(self.path, exc)
            return False
        return True

    def _write(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, _MODE)
        try:
            size = os.fstat(fd).st_size
            if size and size + len(data) > self.max_bytes:
                os.close(fd)
                fd = -1
                fd = self._rotate_and_open(len(data))
            # One write per line: O_APPEND places it whole at the end, whoever else is writing.
            if os.write(fd, data) != len(data):
                raise OSError(f"short write to {self.path} (is the disk full?)")
        finally:
            if fd >= 0:
                os.close(fd)

    def _rotate_and_open(self, incoming: int) -> int:
        """Under the lock, rotate unless another writer already did; the descriptor of the fresh file."""
        with open(self.path.with_name(f".{self.path.name}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            size = self.path.stat().st_size if self.path.exists() else 0
            if size and size + incoming > self.max_bytes:
                self._shift()
            # Opened before the lock is released, so no writer can rotate this file away first.
            return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, _MODE)

    def _shift(self) -> None:
        numbered = [self.path.with_name(f"{self.path.name}.{n}") for n in range(1, self.keep + 1)]
        numbered[-1].unlink(missing_ok=True)
        for older, newer in zip(reversed(numbered[1:]), reversed(numbered[:-1])):
            if newer.exists():
                os.replace(newer, older)
        os.replace(self.path, numbered[0])


def _warn_once(path: Path, exc: OSError) -> None:
    with _warned_lock:
        if str(path) in _warned:
            return
        _warned.add(str(path))
    log.warning(
        "Could not write the question log %s (%s); answers go on without it. "
        "Turn it off with RAG_QUESTION_LOG=0 or --no-log.",
        path,
        exc.strerror or exc,
    )


def logged(
    items: Iterator[str | Answer], question_log: QuestionLog, context: LogContext | Callable[[], LogContext]
) -> Iterator[str | Answer]:
    """`items` (an answer being written) passed through unchanged; the finished answer is logged on its way.

    `context` may be a function, asked once the answer is done: naming the model then does not make
    retrieval wait for a model still loading (rag/loading.py).
    """
    for item in items:
        if isinstance(item, Answer):
            question_log.append(record_of(item, context() if callable(context) else context))
        yield item
