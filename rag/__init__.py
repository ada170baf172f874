"""Retrieval, prompting, LLM backends, citations and `ask()`; builds on `index`.

Importing this package loads no model: models load on the first question.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.answer import Assistant, ask
    from rag.settings import AnswerSettings
    from rag.types import Answer, AnswerStream

__all__ = ["Answer", "AnswerSettings", "AnswerStream", "Assistant", "ask"]
_HOMES = {"Answer": "rag.types", "AnswerStream": "rag.types", "AnswerSettings": "rag.settings"}


def __getattr__(name: str) -> Any:
    if name in __all__:
        import importlib

        return getattr(importlib.import_module(_HOMES.get(name, "rag.answer")), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
