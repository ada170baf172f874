"""`scripted` backend: replays given answers, so the layers above can be tested without a model."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from rag.llm.base import LLMError, Message

Reply = Callable[[Sequence[Message]], str]
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class ScriptedCall:
    """What one `complete` call was asked."""

    messages: tuple[Message, ...]
    max_tokens: int
    temperature: float
    stop: tuple[str, ...]


class ScriptedBackend:
    """Answers with `replies`: one string for every call, a list used one per call, or a function of the messages.

    The answer is cut at the first stop string and after `max_tokens` tokens (words and
    punctuation marks, as `count_tokens` counts them), then streamed in `piece_size`-character pieces.
    Every call is recorded in `calls`.
    """

    def __init__(
        self,
        replies: str | Sequence[str] | Reply = "",
        *,
        piece_size: int = 4,
        context_size: int = 4096,
        name: str = "scripted",
    ) -> None:
        if piece_size < 1:
            raise ValueError(f"piece_size={piece_size}; use 1 or more characters")
        self.replies = replies
        self.piece_size = piece_size
        self.name = name
        self._context_size = context_size
        self.calls: list[ScriptedCall] = []

    @property
    def context_size(self) -> int:
        return self._context_size

    def count_tokens(self, text: str) -> int:
        return len(_TOKEN.findall(text))

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Iterator[str]:
        self.calls.append(ScriptedCall(tuple(messages), max_tokens, temperature, tuple(stop or ())))
        text = self._truncate(self._reply(messages), max_tokens, stop or ())
        for start in range(0, len(text), self.piece_size):
            yield text[start : start + self.piece_size]

    def _reply(self, messages: Sequence[Message]) -> str:
        if isinstance(self.replies, str):
            return self.replies
        if callable(self.replies):
            return self.replies(messages)
        index = len(self.calls) - 1
        if index >= len(self.replies):
            raise LLMError(
                f"Scripted backend ran out of replies: given {len(self.replies)}, asked for call {index + 1}. "
                "Pass more replies, one string for every call, or a function of the messages."
            )
        return self.replies[index]

    @staticmethod
    def _truncate(text: str, max_tokens: int, stop: Sequence[str]) -> str:
        cuts = [text.find(s) for s in stop if s and s in text]
        text = text[: min(cuts)] if cuts else text
        tokens = list(_TOKEN.finditer(text))
        return text[: tokens[max_tokens - 1].end()] if 0 < max_tokens < len(tokens) else text
