"""Retrieval, prompting, LLM backends, citations and `ask()`; builds on `index`.

Importing this package loads no model: models load on the first question.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.answer import Answer, Assistant, ask

__all__ = ["Answer", "Assistant", "ask"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        import rag.answer

        return getattr(rag.answer, name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
