"""Backends by name, each built once per (name, options) and then reused.

Factories import their module only when called, so `import rag.llm` stays cheap and never
loads llama_cpp or a model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from rag.llm.base import LLMBackend

DEFAULT_BACKEND = "llama-cpp"


def _llama_cpp(**options: Any) -> LLMBackend:
    from rag.llm.llama_cpp import LlamaCppBackend

    return LlamaCppBackend(**options)


def _openai(**options: Any) -> LLMBackend:
    from rag.llm.openai import OpenAICompatibleBackend

    return OpenAICompatibleBackend(**options)


def _llama_server(**options: Any) -> LLMBackend:
    from rag.llm.openai import LlamaServerBackend

    return LlamaServerBackend(**options)


def _ollama(**options: Any) -> LLMBackend:
    from rag.llm.openai import OllamaBackend

    return OllamaBackend(**options)


def _scripted(**options: Any) -> LLMBackend:
    from rag.llm.scripted import ScriptedBackend

    return ScriptedBackend(**options)


BACKENDS: dict[str, Callable[..., LLMBackend]] = {
    DEFAULT_BACKEND: _llama_cpp,
    "openai": _openai,
    "llama-server": _llama_server,
    "ollama": _ollama,
    "scripted": _scripted,
}
_LOADED: dict[tuple[str, Hashable], LLMBackend] = {}
# Held while building, so two threads asking for the same model at once load it once.
_LOCK = threading.RLock()


def get_backend(name: str | None = None, **options: Any) -> LLMBackend:
    """The backend `name` (None: DEFAULT_BACKEND) built with `options`; the same object for the same arguments.

    Options that cannot be hashed (e.g. a dict inside a list) still work but are not cached.
    """
    name = name or DEFAULT_BACKEND
    if name not in BACKENDS:
        raise ValueError(f"Unknown LLM backend {name!r}. Choose one of: {', '.join(sorted(BACKENDS))}.")
    key = (name, _freeze(options))
    try:
        hash(key)
    except TypeError:
        return BACKENDS[name](**options)
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = BACKENDS[name](**options)
        return _LOADED[key]


def clear_backends() -> None:
    """Forget (and close, where they can be closed) every cached backend, freeing their models."""
    with _LOCK:
        for backend in _LOADED.values():
            close = getattr(backend, "close", None)
            if callable(close):
                close()
        _LOADED.clear()


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(_freeze(v) for v in value)
    return value
