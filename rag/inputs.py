"""Checks of what a caller passes to `ask()`: made before any model loads, with errors that name the fix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rag.conversation import Conversation
from rag.settings import MAX_TOP_K

History = Sequence[str] | Sequence[Mapping[str, str]] | Conversation | None
HISTORY_FORMS = (
    "a list of earlier questions (strings), a list of OpenAI-style {'role', 'content'} messages, "
    "a Conversation, or None"
)


def check_question(question: object) -> str:
    """The question, stripped; a clear error for anything that is not a non-empty string."""
    if not isinstance(question, str):
        raise TypeError(f"The question must be a string, not {type(question).__name__}: {question!r:.80}")
    question = question.strip()
    if not question:
        raise ValueError("The question is empty; type a question.")
    return question


def check_top_k(top_k: object) -> int | None:
    """`top_k` when given (an integer from 1 to MAX_TOP_K); None means the settings' default."""
    if top_k is None:
        return None
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= MAX_TOP_K:
        raise ValueError(f"top_k={top_k!r} is invalid: give a whole number of passages from 1 to {MAX_TOP_K}")
    return top_k


def history_turns(history: object) -> tuple[list[str], list[str]]:
    """(earlier questions, earlier answers) from any accepted form of `history`."""
    if history is None:
        return [], []
    if isinstance(history, Conversation):
        return history.questions, [a.text for _, a in history.turns]
    if isinstance(history, str | bytes) or not isinstance(history, Sequence):
        raise TypeError(f"history={history!r:.80} is invalid: give {HISTORY_FORMS}")
    if all(isinstance(q, str) for q in history):
        return [q for q in history if q.strip()], []
    if all(isinstance(m, Mapping) for m in history):
        return _message_turns(history)
    raise TypeError(f"history mixes or holds invalid items ({history!r:.80}): give {HISTORY_FORMS}")


def _message_turns(messages: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    questions, answers = [], []
    for m in messages:
        role, content = m.get("role"), m.get("content")
        if not isinstance(content, str) or role not in ("user", "assistant", "system"):
            raise TypeError(f"history message {dict(m)!r:.80} is invalid: each needs a role and a string content")
        if role == "user" and content.strip():
            questions.append(content)
        elif role == "assistant":
            answers.append(content)
    return questions, answers
