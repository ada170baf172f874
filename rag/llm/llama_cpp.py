"""`llama-cpp` backend: a GGUF model run in this process by llama-cpp-python."""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.llm.base import LLMContextOverflow, LLMUnavailable, Message
from rag.llm.catalogue import DEFAULT_MODEL, MODELS, resolve_model

if TYPE_CHECKING:
    from llama_cpp import Llama

# llama-cpp-python's create_chat_completion defaults to 1.0, no penalty, and a small model at temperature 0
# can then fall into a loop and write one phrase until max_tokens (one answer said a phrase ~20 times in 62 s).
# 1.1, llama.cpp's long-standing CLI default, is mild: it damps the tokens of the last 64 (last_n_tokens_size)
# rather than forbidding them, so a name can still be repeated; rag/repetition.py stops loops that still happen.
REPEAT_PENALTY = 1.1


class LlamaCppBackend:
    """Chat with a local GGUF model through its own chat template and tokenizer.

    `model` is a catalogue name (see `rag.llm.catalogue.MODELS`) or a path to a .gguf file.
    `n_ctx` is capped at the context the model was trained with; `seed` makes sampling at
    temperature > 0 repeatable, and temperature 0 is greedy.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        n_ctx: int = 4096,
        n_threads: int = 2,
        seed: int = 0,
        flash_attn: bool = True,
        verbose: bool = False,
        cache_dir: Path | None = None,
    ) -> None:
        if n_ctx < 64:
            raise ValueError(
                f"n_ctx={n_ctx} leaves no room for a prompt and an answer; use 64 or more (4096 suits RAG prompts)"
            )
        path = resolve_model(model, cache_dir=cache_dir)
        if model in MODELS:
            n_ctx = min(n_ctx, MODELS[model].context_length)
        self.name = f"llama-cpp:{model}"
        self.model_path = path
        self.seed = seed
        # Flash attention read prompts about 15% faster on this 2-core CPU (80 -> 96 tokens/s,
        # 1.5B model), and reading the prompt is most of the time to first token.
        # use_mmap is llama.cpp's default, said here so nothing turns it off: the GGUF is mapped, not read,
        # so loading takes the kernel's page cache (warm after the first run) instead of copying a
        # gigabyte, and a cold `rag ask` pays that while its embedder loads (rag/loading.py).
        self._settings: dict[str, Any] = {
            "n_threads": n_threads,
            "seed": seed,
            "flash_attn": flash_attn,
            "verbose": verbose,
            "use_mmap": True,
        }
        self._llm = self._load(n_ctx)
        trained = self._trained_context()
        if 0 < trained < n_ctx:
            # Only reached for user files; llama.cpp merely warns past the trained context and then degrades.
            self._llm.close()
            self._llm = self._load(trained)
        # One Llama holds one KV cache: concurrent generations (e.g. two UI sessions) would corrupt it.
        self._lock = threading.Lock()
        self._closed = False
        # Freed before interpreter shutdown: llama-cpp-python's own __del__ then fails noisily.
        atexit.register(self.close)

    def _load(self, n_ctx: int) -> Llama:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LLMUnavailable(
                "The llama-cpp backend needs llama-cpp-python: pip install 'llama-cpp-python[server]>=0.3.16'"
            ) from exc
        try:
            # n_threads defaults to 1 in llama-cpp-python, halving speed on a 2-core machine: always pass it.
            return Llama(model_path=str(self.model_path), n_ctx=n_ctx, **self._settings)
        except ValueError as exc:
            raise LLMUnavailable(
                f"llama.cpp could not load {self.model_path}: {exc}. Is it a complete GGUF file?"
            ) from exc

    def _trained_context(self) -> int:
        metadata: dict[str, str] = self._llm.metadata
        arch = metadata.get("general.architecture", "")
        return int(metadata.get(f"{arch}.context_length", 0))

    @property
    def context_size(self) -> int:
        return int(self._llm.n_ctx())

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Iterator[str]:
        chat = [{"role": m.role, "content": m.content} for m in messages]
        with self._lock:
            try:
                # stream=True makes this an iterator of chunk dicts; the stubs type it as a union with the whole answer.
                chunks: Iterator[dict[str, Any]] = self._llm.create_chat_completion(  # type: ignore[assignment]
                    messages=chat,  # type: ignore[arg-type]  # plain dicts are what the TypedDicts describe
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stop=[s for s in stop if s] or None if stop else None,  # "" would match at once
                    seed=self.seed,
                    repeat_penalty=REPEAT_PENALTY,
                    stream=True,
                )
                for chunk in chunks:
                    piece = chunk["choices"][0]["delta"].get("content")
                    if isinstance(piece, str) and piece:
                        yield piece
            except ValueError as exc:
                if "context window" not in str(exc):
                    raise
                raise LLMContextOverflow(
                    f"{exc}. Shorten the prompt (fewer or shorter passages) or raise n_ctx "
                    f"(now {self.context_size}) up to the model's trained context."
                ) from exc

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._llm.close()
