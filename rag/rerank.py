"""Re-rankers (a Protocol, a registry): score (query, passage) pairs after first-stage retrieval."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from index import env


@runtime_checkable
class Reranker(Protocol):
    """Scores passages against a query; higher is more relevant. One score per passage, in order."""

    name: str

    def score(self, query: str, passages: Sequence[str]) -> list[float]: ...


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder loaded from a local folder, never from a hub.

    Any folder written by `CrossEncoder.save()` works, e.g. a fine-tuned MS MARCO
    MiniLM cross-encoder copied onto this machine.
    """

    def __init__(self, model_path: str | Path, *, batch_size: int = 32, max_length: int | None = 512) -> None:
        path = Path(model_path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"No cross-encoder model in {path}: expected a folder holding config.json and the weights, "
                "as written by sentence_transformers.CrossEncoder.save(). Copy one onto this machine and "
                "pass its folder (models are never downloaded)."
            )
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be 1 or more")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import CrossEncoder
        from transformers.utils import logging

        hf_logging: Any = logging  # untyped; its load reports are noise for a model we chose
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        self._model = CrossEncoder(str(path), device="cpu", local_files_only=True, max_length=max_length)
        self.name = f"cross-encoder:{path.name}"
        self._batch_size = batch_size

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        scores = self._model.predict(
            [(query, p) for p in passages], batch_size=self._batch_size, show_progress_bar=False
        )
        return [float(s) for s in scores]


RERANKERS: dict[str, Callable[..., Reranker]] = {
    "cross-encoder": CrossEncoderReranker,
}


def get_reranker(name: str, **options: Any) -> Reranker:
    """A re-ranker by registry name, e.g. `get_reranker("cross-encoder", model_path="models/ce")`."""
    if name not in RERANKERS:
        raise ValueError(f"Unknown reranker '{name}'. Choose one of: {', '.join(sorted(RERANKERS))}")
    return RERANKERS[name](**options)


@dataclass(frozen=True)
class RerankStatus:
    available: bool
    reason: str
    model_path: str = ""


def rerank_status() -> RerankStatus:
    """Re-ranking needs a local cross-encoder folder; none ships in a package, so it is off unless one is given."""
    path = env.get("RAG_RERANKER")
    if not path:
        return RerankStatus(
            False,
            "unavailable: no cross-encoder is installed (none ships offline). Set RAG_RERANKER=FOLDER "
            "to a saved sentence-transformers CrossEncoder to enable it.",
        )
    if not (Path(path) / "config.json").is_file():
        return RerankStatus(False, f"unavailable: RAG_RERANKER={path} holds no config.json (not a model folder).")
    return RerankStatus(True, f"cross-encoder from {path}", path)
