"""Multi-turn conversations: follow-ups are rewritten into standalone queries before retrieval."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rag.llm.base import LLMBackend, LLMError, Message
from rag.text import STOPWORDS, content_terms

if TYPE_CHECKING:
    from rag.retrieval import Retriever
    from rag.types import Answer

REWRITE_PROMPT = """Rewrite the last question so it can be understood without the conversation.
Replace pronouns such as he, she, it, they, this with the names they refer to.
Reply with the rewritten question only."""

# Third-person personal pronouns point at something named elsewhere. Demonstratives ("that", "this",
# "there") and "one" are left out: in a question they are mostly a relative pronoun or a determiner
# ("the ship that crossed", "this year"), and on the conversation set (eval/sets/conversations.jsonl)
# they marked standalone questions as follow-ups without finding a follow-up the rest missed.
_PRONOUNS = frozenset("he him his she her hers it its they them their theirs".split())
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# The question's own words find a passage at least this close (MiniLM cosine, the scale of
# MIN_EVIDENCE): it is about something, and carrying the earlier topic would only pull retrieval
# back there. Chosen on the tune half of the conversation set (docs/evaluation.md).
STANDALONE_SIMILARITY = 0.40
# How many passages the question alone is retrieved for; its names must be in the top few, as
# the prompt shows few (settings.TOP_K).
PROBE_HITS = 6
NAME_HITS = 3


@dataclass
class Conversation:
    """The turns of one chat; `ask(..., history=conversation.questions)` continues it."""

    turns: list[tuple[str, Answer]] = field(default_factory=list)

    @property
    def questions(self) -> list[str]:
        return [q for q, _ in self.turns]

    def add(self, question: str, answer: Answer) -> None:
        self.turns.append((question, answer))

    def clear(self) -> None:
        self.turns.clear()


def unresolved_reference(question: str) -> bool:
    """A personal pronoun with no name before it in the question ("When did he start?") points at
    an earlier turn; "What did Sarah Dzafce do in the video that ended her career?" names its own."""
    named = False
    for i, word in enumerate(_TOKEN.findall(question)):
        if word.lower() in _PRONOUNS and not named:
            return True
        named = named or (i > 0 and word[:1].isupper() and word != "I")
    return False


def named_terms(question: str) -> set[str]:
    """Content terms of the capitalised words after the first: what the question names, in a form
    that matches "Normans" to "Norman" (rare names embed poorly, so the dense score misses them)."""
    words = _TOKEN.findall(question)[1:]
    return content_terms(" ".join(w for w in words if w[:1].isupper()))


def stands_alone(question: str, retriever: Retriever | None) -> bool:
    """Whether the question needs no earlier turn: it refers to nothing outside itself, and what it
    retrieves alone is about something, by a close passage or by a passage holding every name it
    gives. Without a retriever, naming something is enough. Retrieves only when the words leave
    it open, so a "When did he start?" costs no search."""
    if unresolved_reference(question) or not content_terms(question):
        return False
    names = named_terms(question)
    if retriever is None:
        return bool(names)
    hits = retriever.retrieve(question, PROBE_HITS)
    if max((h.scores.get("dense", 0.0) for h in hits), default=0.0) >= STANDALONE_SIMILARITY:
        return True
    return bool(names) and any(names <= content_terms(h.chunk.text) for h in hits[:NAME_HITS])


def carried_terms(question: str, previous: str) -> list[str]:
    """Key words of the previous turn that this question does not already contain."""
    mine = content_terms(question)
    words = dict.fromkeys(re.findall(r"[^\W_]+", previous))
    return [w for w in words if content_terms(w) and not content_terms(w) <= mine]


_NAME = re.compile(r"\b[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*")


def answer_names(answer: str, question: str) -> list[str]:
    """Capitalised names in the previous answer: what "he" or "it" points at.

    A capitalised stop word ("The", "He") only starts a sentence, so it is dropped.
    """
    mine = content_terms(question)
    found = (m.group(0).split(maxsplit=1) for m in _NAME.finditer(answer.split("\n")[0]))
    names = [" ".join(p[1:] if p[0].lower() in STOPWORDS else p) for p in found]
    return [n for n in dict.fromkeys(names) if n and content_terms(n) and not content_terms(n) <= mine]


def keyword_rewrite(question: str, history: Sequence[str], answers: Sequence[str] = ()) -> str:
    """Carry the previous question's key terms, and the names its answer gave, into this one.

    The cheap rewrite: no model call, so a follow-up costs no more time to first token.
    """
    carried = carried_terms(question, history[-1])
    if len(answers) >= len(history) and answers[len(history) - 1]:
        seen = content_terms(" ".join([question, *carried]))
        carried += [n for n in answer_names(answers[len(history) - 1], question) if not content_terms(n) <= seen]
    return f"{question} {' '.join(carried)}" if carried else question


def rewrite_query(
    question: str,
    history: Sequence[str],
    backend: LLMBackend | None,
    answers: Sequence[str] = (),
    retriever: Retriever | None = None,
) -> str:
    """A standalone query for retrieval: the question as asked when it `stands_alone` (judged by
    retrieving it from `retriever`), else the model's rewrite plus the previous turn's key terms.

    `answers` are the earlier answers, when known; they let the model resolve "he" to a name.
    """
    if not history or stands_alone(question, retriever):
        return question
    fallback = keyword_rewrite(question, history, answers)
    return fallback if backend is None else _model_rewrite(question, history, backend, answers, fallback)


def _model_rewrite(
    question: str, history: Sequence[str], backend: LLMBackend, answers: Sequence[str], fallback: str
) -> str:
    lines = []
    for i, q in enumerate(history[-3:]):
        lines.append(f"User: {q}")
        j = len(history) - len(history[-3:]) + i
        if j < len(answers) and answers[j]:
            lines.append(f"Assistant: {answers[j][:300]}")
    messages = [
        Message("system", REWRITE_PROMPT),
        Message("user", "Conversation:\n" + "\n".join(lines) + f"\n\nLast question: {question}\n\nRewritten question:"),
    ]
    try:
        rewritten = "".join(backend.complete(messages, max_tokens=48, temperature=0.0, stop=["\n"])).strip(" \"'")
    except LLMError:
        return fallback
    # A weak model may echo the question, answer it, or ramble: then the fallback alone is safer.
    if not rewritten or len(rewritten) > 300 or content_terms(rewritten) <= content_terms(question):
        return fallback
    extra = carried_terms(rewritten, history[-1])
    return f"{rewritten} {' '.join(extra)}" if extra else rewritten
