"""One browser session's chat: its turns, the conversation they form, the selected source, feedback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.conversation import Conversation
from rag.settings import AnswerSettings
from rag.types import Answer, Citation
from ui.engine import Engine, friendly_error
from ui.render import Selection, answer_markdown, error_markdown, sources_html

Messages = list[dict[str, str]]


@dataclass
class Turn:
    """One question and what came back: an `Answer`, or the error message shown instead."""

    question: str
    settings: AnswerSettings
    answer: Answer | None = None
    error: str = ""
    notice: str = ""  # said once above the answer, e.g. that the index was rebuilt since the last question


@dataclass
class ChatSession:
    """Everything one browser tab remembers; kept in a gr.State, so no tab sees another's."""

    turns: list[Turn] = field(default_factory=list)
    conversation: Conversation = field(default_factory=Conversation)
    selection: Selection | None = None
    index_version: str = ""  # the index version this tab last answered from

    def clear(self) -> None:
        self.turns.clear()
        self.conversation.clear()
        self.selection = None

    def messages(self) -> Messages:
        out: Messages = []
        for i, turn in enumerate(self.turns):
            out.append({"role": "user", "content": turn.question})
            text = answer_markdown(turn.answer, i) if turn.answer else error_markdown(turn.error)
            text = f"_{turn.notice}_\n\n{text}" if turn.notice else text
            out.append({"role": "assistant", "content": text})
        return out

    def panel(self) -> str:
        """The sources panel: the selected turn's passages, else the latest answer's."""
        if self.selection and self.selection.turn < len(self.turns):
            turn = self.turns[self.selection.turn]
            return sources_html(turn.answer, self.selection.turn, self.selection.marker)
        for i in range(len(self.turns) - 1, -1, -1):
            if self.turns[i].answer is not None:
                return sources_html(self.turns[i].answer, i)
        return sources_html(None, 0)

    def select(self, key: str) -> str:
        """Open the passage behind a clicked chip (`"turn:marker"`); unknown keys leave the panel as it is."""
        chosen = Selection.parse(key)
        if chosen and chosen.turn < len(self.turns) and self.turns[chosen.turn].answer is not None:
            self.selection = chosen
        return self.panel()


@dataclass(frozen=True)
class Update:
    """What the page shows after each streamed piece."""

    messages: Messages
    panel: str
    done: bool


def respond(
    engine: Engine, session: ChatSession, question: str, settings: AnswerSettings, documents: Sequence[str] = ()
) -> Iterator[Update]:
    """Stream one answer into the session: the partial text as it comes, then the checked answer.
    `documents` (paths or globs, the "Search only in" picker) narrows retrieval; () searches them all."""
    question = question.strip()
    if not question:
        yield Update(session.messages(), session.panel(), True)
        return
    turn = Turn(question, settings)
    session.turns.append(turn)
    session.selection = None
    before = session.messages()[:-1]
    partial = ""
    try:
        answer_stream = engine.stream(question, settings, session.conversation, documents)
        turn.notice = _index_notice(engine, session)
        for piece in answer_stream:
            partial += piece
            yield Update([*before, {"role": "assistant", "content": partial + " ▌"}], session.panel(), False)
        turn.answer = answer_stream.answer
    except Exception as exc:  # noqa: BLE001 - shown in the chat as a sentence; the trace goes to the server log
        turn.error = friendly_error(exc)
    if turn.answer is None and not turn.error:
        turn.error = "The model stopped without an answer. Try again."
    if turn.answer is not None:
        session.conversation.add(question, turn.answer)
    yield Update(session.messages(), session.panel(), True)


def _index_notice(engine: Engine, session: ChatSession) -> str:
    """'Index updated: N documents.' the first time this session answers from a new index version."""
    store = engine.store()
    seen, session.index_version = session.index_version, store.version
    if not seen or seen == store.version:
        return ""
    return f"Index updated: {store.manifest.counts.documents} documents."


class FeedbackLog:
    """Thumbs up/down, one JSON object per line, appended (a lock keeps concurrent writes whole)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def record(self, session: ChatSession, message_index: int, liked: bool, index_dir: str = "") -> dict[str, Any]:
        turn_no = message_index // 2
        if not 0 <= turn_no < len(session.turns):
            raise ValueError(f"No answer at message {message_index}; rate an answer shown in this chat.")
        turn = session.turns[turn_no]
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "rating": "up" if liked else "down",
            "question": turn.question,
            "answer": turn.answer.text if turn.answer else turn.error,
            "refused": turn.answer.refused if turn.answer else None,
            "citations": [_citation_json(c) for c in turn.answer.citations] if turn.answer else [],
            "settings": turn.settings.to_json(),
            "index": index_dir,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return entry


def _citation_json(c: Citation) -> dict[str, Any]:
    return {
        "marker": c.marker,
        "doc_id": c.chunk.doc_id,
        "path": c.chunk.path,
        "title": c.chunk.title,
        "page": c.chunk.page,
        "chunk_start": c.chunk.start,
        "chunk_end": c.chunk.end,
        "sentence": c.sentence,
        "evidence": c.evidence,
        "support": round(c.support, 4),
    }
