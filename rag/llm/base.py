"""The seam every LLM backend fits: messages in, streamed text pieces out, errors that say what to do."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant")


@dataclass(frozen=True)
class Message:
    """One chat turn; backends render these with the model's or the server's own chat template."""

    role: Role
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"Message role must be one of {', '.join(ROLES)}, not {self.role!r}")


@runtime_checkable
class LLMBackend(Protocol):
    """A chat model, local or remote.

    `context_size` is the prompt-plus-answer budget in tokens as `count_tokens` counts them,
    so callers can trim retrieved passages before asking.
    """

    name: str

    @property
    def context_size(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Iterator[str]:
        """Stream the answer as text pieces; joined, they are the whole answer.

        Work (and so any error) starts at the first `next()`, not at the call.
        """
        ...


class LLMError(RuntimeError):
    """Base of every backend failure; the message says what to do about it."""


class LLMUnavailable(LLMError):
    """The model cannot be reached or loaded: server down, package or model files missing."""


class LLMTimeout(LLMError):
    """The backend did not answer in time."""


class LLMAuthError(LLMError):
    """The server refused the credentials (HTTP 401/403)."""


class LLMProtocolError(LLMError):
    """The server answered something that is not the OpenAI chat-completions wire format."""


class LLMServerError(LLMError):
    """The server kept failing or rejected the request; `status` is the last HTTP status."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class LLMContextOverflow(LLMError):
    """The prompt does not fit the model's context window."""


class ModelIntegrityError(LLMError):
    """A model file's sha256 differs from the pinned one: corrupt download or wrong version."""
