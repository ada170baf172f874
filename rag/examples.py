"""Example questions drawn from the corpus: the model writes a question that one passage answers, and
the question is kept only if it reads as a question and retrieval finds that passage's document again.

The pure parts (prompt, filter, choice of passages, drafting against any backend and retriever) are
apart from the file cache, so they are tested with the scripted backend and no model.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.types import Chunk
from rag.answer import evidence
from rag.llm.base import LLMBackend, Message
from rag.prompting import neutralize
from rag.text import MARKER, sentence_spans

if TYPE_CHECKING:
    from index.store import IndexStore
    from rag.answer import Assistant
    from rag.retrieval import Retriever

log = logging.getLogger(__name__)

CACHE_FILE = "examples.json"  # in the index folder, beside `current`: one file for the index, not per version
PASSAGES = 6  # model calls at most: each costs a few seconds of a CPU model, once per index version
EXAMPLES = 4
DEPTH = 3  # the passage's document must be among this many hits for the question to be kept
_PASSAGE_CHARS = 700  # the opening sentences are enough to ask about, and prompt reading is the slow part
_MIN_WORDS = 30

SYSTEM = (
    "Write one short question that a reader could ask and that the passage answers. The question must "
    "stand on its own: name its subject (a person, place, event, product or setting) instead of referring "
    "to the passage, the text or the document. Reply with the question only."
)
_PREFIX = re.compile(r"^\s*(?:[-*#>\d.)]+\s*)?(?:\*\*)?(?:question|q)\s*\d*\s*[:.)-]\s*|^\s*[-*>\d.)]+\s+", re.I)
# "the source" and "the context" are left out: "What is the source of the Nile?" is a fine question.
_DEICTIC = re.compile(
    r"\b(?:the|this|that|given|above|following) (?:passage|text|excerpt|article|document|paragraph)s?\b", re.I
)


def question_messages(passage: str) -> tuple[Message, ...]:
    """The prompt: the passage's opening sentences, with any orders to an AI model removed."""
    return (Message("system", SYSTEM), Message("user", f"Passage:\n{opening(neutralize(passage))}\n\nQuestion:"))


def opening(text: str, limit: int = _PASSAGE_CHARS) -> str:
    """The first whole sentences of `text` that fit in `limit` characters (at least the first one, cut)."""
    end = 0
    for _, stop in sentence_spans(text):
        if stop > limit:
            break
        end = stop
    return (text[:end] if end else text[:limit]).strip()


def clean_question(raw: str) -> str | None:
    """The model's reply as one example question, or None when it is not a usable one.

    Usable: a single question ending with '?', 4 to 20 words, no [n] source markers, and no
    reference to "the passage" (a user clicking it has no passage in front of them).
    """
    line = next((x for x in raw.strip().splitlines() if x.strip()), "")
    text = _PREFIX.sub("", line).strip().strip("*\"'“”‘’` ").strip()
    if "?" not in text:
        return None
    text = " ".join(text[: text.index("?") + 1].split())
    words = len(text.split())
    if not 4 <= words <= 20 or len(text) > 140 or not text[0].isalpha():
        return None
    if MARKER.search(text) or "[" in text or _DEICTIC.search(text):
        return None
    return text[0].upper() + text[1:]


def substantive(chunk: Chunk) -> bool:
    """Prose worth asking about: enough words, mostly letters (not a table, a code block or a list of links)."""
    text = chunk.text
    letters = sum(c.isalpha() or c.isspace() for c in text)
    return len(text.split()) >= _MIN_WORDS and letters >= 0.75 * len(text)


def pick_passages(chunks: Sequence[Chunk], limit: int = PASSAGES) -> list[Chunk]:
    """Up to `limit` substantive passages spread evenly over the index, each the first of its document
    where that document was not picked yet (a small corpus gives several passages of one document)."""
    n = len(chunks)
    picked: list[Chunk] = []
    seen: set[str] = set()
    for i in range(limit if n else 0):
        row = int((i + 0.5) * n / limit)
        doc_id = chunks[row].doc_id
        if doc_id not in seen:
            # Rows of one document are contiguous; the walk back is capped so a huge document costs little.
            for _ in range(200):
                if row == 0 or chunks[row - 1].doc_id != doc_id:
                    break
                row -= 1
        found = _next_substantive(chunks, row, doc_id, {c.id for c in picked})
        if found is not None:
            picked.append(found)
            seen.add(found.doc_id)
    return picked


def _next_substantive(chunks: Sequence[Chunk], row: int, doc_id: str, taken: set[str]) -> Chunk | None:
    for r in range(row, min(row + 20, len(chunks))):
        chunk = chunks[r]
        if chunk.doc_id != doc_id:
            return None
        if chunk.id not in taken and substantive(chunk):
            return chunk
    return None


def draft_questions(
    passages: Sequence[Chunk],
    backend: LLMBackend,
    retriever: Retriever,
    *,
    limit: int = EXAMPLES,
    min_evidence: float = 0.0,
    stop: threading.Event | None = None,
) -> list[str]:
    """One question per passage from `backend`, kept when usable and answered from its own document.

    `min_evidence` is the answer gate's threshold: a kept question is never one the chat would decline.
    `stop`, once set, ends the drafting before the next passage (a closing chat does not wait for all).
    """
    kept: list[str] = []
    for chunk in passages:
        if stop is not None and stop.is_set():
            raise Stopped("drafting example questions was stopped")
        reply = "".join(backend.complete(question_messages(chunk.text), max_tokens=48, temperature=0.0))
        question = clean_question(reply)
        if question is None or question.lower() in {q.lower() for q in kept}:
            continue
        hits = retriever.retrieve(question, DEPTH)
        if any(h.chunk.doc_id == chunk.doc_id for h in hits) and evidence(question, hits) >= min_evidence:
            kept.append(question)
            if len(kept) >= limit:
                break
    return kept


def cache_key(store: IndexStore) -> str:
    """The version's name and build time: version numbers restart when the folder is deleted and rebuilt."""
    return f"{store.version}@{store.manifest.created}"


def read_cache(index_dir: Path, key: str) -> list[str] | None:
    """The questions cached for `key`, or None when there are none for it (or the file is unreadable)."""
    try:
        data: Any = json.loads((index_dir / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    questions = data.get("questions") if isinstance(data, dict) and data.get("key") == key else None
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        return None
    return questions


def write_cache(index_dir: Path, key: str, questions: Sequence[str], model: str) -> None:
    """Replace the cache file whole (written aside, then renamed), so a reader never sees half of it."""
    path = index_dir / CACHE_FILE
    tmp = path.with_name(f".{CACHE_FILE}.{os.getpid()}.tmp")
    data = {"key": key, "model": model, "questions": list(questions)}
    try:
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:  # a read-only index still answers; the examples are drafted again next time
        log.warning("could not cache example questions in %s: %s", path, exc)
        tmp.unlink(missing_ok=True)


class Stopped(Exception):
    """Drafting ended early on request: nothing is cached, so the next start drafts again."""


def corpus_examples(assistant: Assistant, limit: int = EXAMPLES, stop: threading.Event | None = None) -> list[str]:
    """Example questions for the assistant's index version: cached, else drafted by its model and cached.

    A model error is raised and nothing is cached, so the next start tries again; a model that
    drafted no usable question caches [] (at temperature 0 it would draft the same again).
    """
    store = assistant.store
    key = cache_key(store)
    cached = read_cache(store.index_dir, key)
    if cached is not None:
        return cached[:limit]
    passages = pick_passages(store.chunks)
    questions = draft_questions(
        passages,
        assistant.backend,
        assistant.retriever,
        limit=limit,
        min_evidence=assistant.settings.min_evidence,
        stop=stop,
    )
    write_cache(store.index_dir, key, questions, str(getattr(assistant.backend, "name", "")))
    return questions

