"""Every environment variable the project reads, in one place (listed in docs/guide/configuration.md).

Modules ask `env.get(NAME)` instead of reading `os.environ` themselves, so this table is the whole
list and a misspelt name fails loudly instead of silently reading nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

VARIABLES: dict[str, str] = {
    "RAG_INDEX": "default index folder (default .rag/index)",
    "RAG_MODEL_CACHE": "where assembled GGUF models and ONNX exports are kept (default ~/.cache/rag/models)",
    "RAG_BACKEND": "default LLM backend (default llama-cpp)",
    "RAG_MODEL": "default model for the backend: catalogue name, GGUF path or server model",
    "RAG_RETRIEVER": "default retriever: hybrid, dense or lexical (default hybrid)",
    "RAG_TOP_K": "default number of passages given to the model",
    "RAG_RERANKER": "folder of a saved sentence-transformers CrossEncoder; enables re-ranking",
    "RAG_QUESTION_LOG": "0 turns off the question log (INDEX/logs/questions.jsonl); on by default",
    "RAG_OPENAI_BASE_URL": "base URL of an OpenAI-compatible server (…/v1)",
    "RAG_OPENAI_MODEL": "model name on that server",
    "OPENAI_API_KEY": "API key for that server (never logged)",
    "RAG_UI_USER": "chat login user (set with RAG_UI_PASSWORD)",
    "RAG_UI_PASSWORD": "chat login password (set with RAG_UI_USER)",
    "RAG_API_KEY": "bearer key `rag serve` requires of every request; without it, it listens on 127.0.0.1 only",
    "RAG_SERVER": "URL of a running `rag serve` that `rag ask` sends its questions to instead of loading models",
    "RAG_SHARED": "benchmarks: the shared data folder (default ../shared)",
    "RAG_BENCH_SCIFACT_DOCS": "benchmarks: SciFact documents in the sub-corpus (default 600)",
    "RAG_BENCH_LLAMAINDEX": "benchmarks: 'cached' reuses the last LlamaIndex result",
    "RAG_SCALE_SIZES": "benchmarks: chunk counts of the scale section (default 100000,1000000)",
}
DEFAULT_INDEX_DIR = ".rag/index"


def get(name: str, default: str = "", environ: Mapping[str, str] | None = None) -> str:
    """The variable's value, `default` when unset or empty; `name` must be in `VARIABLES`."""
    if name not in VARIABLES:
        raise KeyError(f"{name} is not a known setting; add it to index.env.VARIABLES with its meaning")
    value = (os.environ if environ is None else environ).get(name, "")
    return value or default


def index_dir() -> str:
    """The index folder used when none is given: $RAG_INDEX, else .rag/index."""
    return get("RAG_INDEX", DEFAULT_INDEX_DIR)


def model_cache() -> Path:
    """Where derived model files go: $RAG_MODEL_CACHE, else ~/.cache/rag/models."""
    return Path(get("RAG_MODEL_CACHE") or Path.home() / ".cache" / "rag" / "models")
