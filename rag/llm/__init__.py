"""Pluggable LLM backends: a Protocol, a registry, and local (llama.cpp) and remote (OpenAI-compatible) kinds.

Importing this package loads no model and imports neither llama_cpp nor httpx.
"""

from rag.llm.base import (
    LLMAuthError,
    LLMBackend,
    LLMContextOverflow,
    LLMError,
    LLMProtocolError,
    LLMServerError,
    LLMTimeout,
    LLMUnavailable,
    Message,
    ModelIntegrityError,
)
from rag.llm.registry import BACKENDS, DEFAULT_BACKEND, clear_backends, get_backend

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "LLMAuthError",
    "LLMBackend",
    "LLMContextOverflow",
    "LLMError",
    "LLMProtocolError",
    "LLMServerError",
    "LLMTimeout",
    "LLMUnavailable",
    "Message",
    "ModelIntegrityError",
    "clear_backends",
    "get_backend",
]
