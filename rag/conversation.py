"""Multi-turn conversations: follow-ups are rewritten into standalone queries before retrieval."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rag.llm.base import LLMBackend, LLMError, Message
from rag.text import STOPWORDS, content_terms

if TYPE_CHECKING:
    from rag.types import Answer

REWRITE_PROMPT = """Rewrite the last question so it can be understood without the conversation.
Replace pronouns such as he, she, it, they, this with the names they refer to.
Reply with the rewritten question only."""

_FOLLOW_UP_WORDS = frozenset(
    [
        "he",
        "him",
        "his",
        "she",
        "her",
        "hers",
        "it",
        "its",
        "they",
        "them",
        "their",
        "theirs",
        "this",
        "that",
        "these",
        "those",
        "there",
        "then",
        "one",
        "ones",
    ]
)
_QUESTION_WORD = re.compile(r"^(who|what|when|where|which|why|how|until|and|but|so)\b", re.I)


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


def needs_context(question: str) -> bool:
    """A short question, or one that points back with a pronoun, depends on earlier turns."""
    words = re.findall(r"[a-z']+", question.lower())
    return len(words) <= 5 or any(w in _FOLLOW_UP_WORDS for w in words)


def carried_terms(question: str, previous: str) -> list[str]:
    """Key words of the previous turn that this question does not already contain."""
    mine = content_terms(question)
    words = [w for w in dict.fromkeys(re.findall(r"[^\W_]+", previous)) if not _QUESTION_WORD.match(w)]
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
    question: str, history: Sequence[str], backend: LLMBackend | None, answers: Sequence[str] = ()
) -> str:
    """A standalone query for retrieval: the model's rewrite plus the previous turn's key terms.

    `answers` are the earlier answers, when known; they let the model resolve "he" to a name.
    """
    if not history or not needs_context(question):
        return question
    fallback = keyword_rewrite(question, history, answers)
    if backend is None:
        return fallback
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
