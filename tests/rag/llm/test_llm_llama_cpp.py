"""The in-process llama.cpp backend with the real packaged SmolLM2 (94 MB, loads in well under a second)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.llm import LLMBackend, LLMContextOverflow, LLMUnavailable, Message, get_backend
from rag.llm.catalogue import MODELS, part_path, resolve_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2() -> LLMBackend:
    model = MODELS["smollm2-135m"]
    try:
        part_path(model, model.parts[0])
    except Exception as exc:  # noqa: BLE001 - any reason the model is missing is a skip, with the reason
        pytest.skip(f"{exc}")
    return get_backend("llama-cpp", model="smollm2-135m")


def test_streams_a_short_answer(smollm2: LLMBackend) -> None:
    pieces = list(smollm2.complete([Message("user", "Name three colours.")], max_tokens=16))
    assert len(pieces) > 1 and "".join(pieces).strip()


def test_greedy_answers_repeat(smollm2: LLMBackend) -> None:
    ask = [Message("system", "Answer briefly."), Message("user", "What is the capital of France?")]
    first = "".join(smollm2.complete(ask, max_tokens=12))
    assert "".join(smollm2.complete(ask, max_tokens=12)) == first


def test_stop_sequence_ends_the_answer(smollm2: LLMBackend) -> None:
    ask = [Message("user", "Count from 1 to 10, separated by commas.")]
    assert "5" not in "".join(smollm2.complete(ask, max_tokens=40, stop=["4"]))


def test_tokens_context_and_reuse(smollm2: LLMBackend) -> None:
    assert smollm2.count_tokens("The quick brown fox.") > 0
    assert smollm2.context_size == 4096
    assert smollm2.name == "llama-cpp:smollm2-135m"
    assert get_backend("llama-cpp", model="smollm2-135m") is smollm2


def test_the_model_file_is_memory_mapped(smollm2: LLMBackend) -> None:
    """Mapped, the GGUF loads from the page cache instead of being read whole: a cold `rag ask` relies on it."""
    import llama_cpp

    mapped = (llama_cpp.LLAMA_LOAD_MODE_MMAP, llama_cpp.LLAMA_LOAD_MODE_MMAP_MLOCK)
    assert smollm2._llm.model_params.load_mode in mapped  # type: ignore[attr-defined]


def test_context_is_capped_at_the_trained_length(smollm2: LLMBackend) -> None:
    from rag.llm.llama_cpp import LlamaCppBackend

    backend = LlamaCppBackend("smollm2-135m", n_ctx=100_000)
    try:
        assert backend.context_size == MODELS["smollm2-135m"].context_length
    finally:
        backend.close()


def test_prompt_longer_than_the_context_says_what_to_do(smollm2: LLMBackend) -> None:
    from rag.llm.llama_cpp import LlamaCppBackend

    backend = LlamaCppBackend("smollm2-135m", n_ctx=128)
    try:
        with pytest.raises(LLMContextOverflow, match="Shorten the prompt"):
            list(backend.complete([Message("user", "word " * 300)], max_tokens=8))
    finally:
        backend.close()


def test_truncated_gguf_is_reported_not_crashed(smollm2: LLMBackend, tmp_path: Path) -> None:
    from rag.llm.llama_cpp import LlamaCppBackend

    broken = tmp_path / "broken.gguf"
    with resolve_model("smollm2-135m").open("rb") as f:
        broken.write_bytes(f.read(5_000_000))
    with pytest.raises(LLMUnavailable, match="Is it a complete GGUF file"):
        LlamaCppBackend(str(broken))
