"""One contract, every embedder: the same assertions for `hash`, `minilm` (torch) and the ONNX `minilm-onnx`
and `minilm-onnx-int8`, each built by its registry factory.

The ONNX models are exported into a folder private to this module (a few seconds, once: the int8 file
is quantized from the fp32 export), never into the user's cache.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.embedding import EMBEDDERS, Embedder, HashEmbedder
from index.onnx_embedding import INT8_RECIPE

SENTENCES = [
    "The cat sat on the mat.",
    "A feline rested on the rug.",
    "Quarterly revenue rose by four percent.",
    "short",
    "A much longer sentence that goes on and on about the weather in the mountains during a cold winter, with snow.",
    "Ünïcödé text — with dashes and 日本語.",
]
ATOL = 1e-5
# Dynamic int8 quantization scales activations per batch, so a text's vector depends slightly on its
# batch-mates: measured cosine 0.988-0.996 between a sentence alone and in a batch (test_onnx_embedding.py).
INT8_BATCH_COSINE = 0.98


@dataclass(frozen=True)
class Case:
    key: str
    embedder: Embedder
    real: bool  # a trained model, so similarity means something
    batch_cosine: float | None = None  # None: batched rows equal single ones within ATOL


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(
    scope="module",
    params=[
        "hash",
        pytest.param("minilm", marks=pytest.mark.slow),
        pytest.param("minilm-onnx", marks=pytest.mark.slow),  # before int8: the int8 file is made from this export
        pytest.param("minilm-onnx-int8", marks=pytest.mark.slow),
    ],
)
def case(request: pytest.FixtureRequest, onnx_cache: Path) -> Iterator[Case]:
    key: str = request.param
    if key == "hash":
        yield Case(key, EMBEDDERS[key](), real=False)
    elif key == "minilm":
        yield Case(key, request.getfixturevalue("minilm"), real=True)  # the session's, shared with other tests
    else:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("RAG_MODEL_CACHE", str(onnx_cache))
            embedder = EMBEDDERS[key]()
        yield Case(key, embedder, real=True, batch_cosine=INT8_BATCH_COSINE if key.endswith("int8") else None)


def _unit_rows(vectors: Any) -> None:
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=ATOL)


def _agree(case: Case, got: Any, want: Any) -> None:
    if case.batch_cosine is None:
        np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)
    else:
        cosines = (got * want).sum(axis=1)
        assert cosines.min() >= case.batch_cosine, cosines


def _filler(case: Case, tokens: int) -> str:
    """'word word ...' counting exactly `tokens` by the embedder's own count_tokens."""
    count = case.embedder.count_tokens
    words = max(tokens - count(""), 0)
    text = " ".join(["word"] * words)
    assert count(text) == tokens, f"{case.key}: 'word' x{words} counts {count(text)}, expected {tokens}"
    return text


def test_has_what_the_protocol_promises(case: Case) -> None:
    e = case.embedder
    assert isinstance(e, Embedder)
    assert isinstance(e.name, str) and e.name.strip()
    assert type(e.dim) is int and e.dim > 0
    assert type(e.max_tokens) is int and e.max_tokens > 0
    # Indexes record `name` in their manifest and reopen with get_embedder(name): it must resolve.
    assert e.name in EMBEDDERS or re.fullmatch(r"hash-\d+", e.name), e.name


def test_encode_gives_float32_unit_rows(case: Case) -> None:
    vectors = case.embedder.encode(SENTENCES)
    assert isinstance(vectors, np.ndarray) and vectors.dtype == np.float32
    assert vectors.shape == (len(SENTENCES), case.embedder.dim)
    assert np.isfinite(vectors).all()
    _unit_rows(vectors)


def test_text_without_words_still_gets_a_unit_row(case: Case, request: pytest.FixtureRequest) -> None:
    if case.key == "hash":
        request.applymarker(
            pytest.mark.xfail(
                reason="HashEmbedder leaves a text without \\w+ words ('', '!!!') as an all-zero row, "
                "not L2-normalized as the Embedder protocol says",
                strict=True,
            )
        )
    vectors = case.embedder.encode(["", "!!!", "   "])
    assert vectors.shape == (3, case.embedder.dim)
    _unit_rows(vectors)


def test_encode_is_deterministic(case: Case) -> None:
    first = case.embedder.encode(SENTENCES)
    np.testing.assert_allclose(case.embedder.encode(SENTENCES), first, rtol=0, atol=1e-6)


def test_batches_agree_with_one_at_a_time(case: Case) -> None:
    batched = case.embedder.encode(SENTENCES)
    alone = np.stack([case.embedder.encode([text])[0] for text in SENTENCES])
    _agree(case, alone, batched)
    _agree(case, case.embedder.encode(SENTENCES, batch_size=2), batched)


def test_empty_list_gives_zero_rows(case: Case) -> None:
    vectors = case.embedder.encode([])
    assert vectors.shape == (0, case.embedder.dim) and vectors.dtype == np.float32


def test_count_tokens(case: Case) -> None:
    count = case.embedder.count_tokens
    assert type(count("")) is int and 0 <= count("") <= 2  # special tokens at most
    assert count("short") > count("")
    assert count(SENTENCES[0]) < count(SENTENCES[0] + " It purred.")
    assert 100 <= count("word " * 100) <= 110


def test_text_longer_than_max_tokens_is_encoded_not_refused(case: Case) -> None:
    e = case.embedder
    text = _filler(case, e.max_tokens) + " and the rest of a long story" * (e.max_tokens // 4)
    assert e.count_tokens(text) > e.max_tokens
    vectors = e.encode([text, SENTENCES[0]])
    assert vectors.shape == (2, e.dim)
    _unit_rows(vectors)


def test_tokens_past_max_tokens_are_ignored(case: Case, request: pytest.FixtureRequest) -> None:
    if case.key == "hash":
        request.applymarker(
            pytest.mark.xfail(
                reason="HashEmbedder embeds every word: max_tokens is only the limit it reports to the chunker",
                strict=True,
            )
        )
    full = _filler(case, case.embedder.max_tokens)
    vectors = case.embedder.encode([full, full + " rocket launch"])
    np.testing.assert_allclose(vectors[1], vectors[0], rtol=0, atol=ATOL)


def test_the_last_token_within_max_tokens_still_counts(case: Case) -> None:
    # With the test above: max_tokens counts in count_tokens' units, special tokens included (no off-by-one).
    almost = _filler(case, case.embedder.max_tokens - 1)
    vectors = case.embedder.encode([almost, almost + " rocket"])
    assert np.abs(vectors[1] - vectors[0]).max() > 1e-4


def test_a_paraphrase_is_nearer_than_an_unrelated_sentence(case: Case) -> None:
    if not case.real:
        pytest.skip(f"{case.key} hashes words: it has no notion of meaning")
    query, paraphrase, unrelated = case.embedder.encode(
        [
            "How do I reset my password?",
            "What are the steps to change a forgotten login password?",
            "The stock market closed higher on Friday.",
        ]
    )
    assert float(query @ paraphrase) > float(query @ unrelated) + 0.2


def test_every_registered_embedder_is_covered_by_this_suite() -> None:
    # Aliases (the models' full names) build the same embedders as the short names this suite runs.
    covered = {
        "hash": "hash",
        "minilm": "minilm",
        "all-MiniLM-L6-v2": "minilm",
        "minilm-onnx": "minilm-onnx",
        "all-MiniLM-L6-v2-onnx": "minilm-onnx",
        "minilm-onnx-int8": "minilm-onnx-int8",
        "all-MiniLM-L6-v2-onnx-int8": "minilm-onnx-int8",
        f"all-MiniLM-L6-v2-onnx-int8-r{INT8_RECIPE}": "minilm-onnx-int8",
    }
    assert set(EMBEDDERS) == set(covered), "a new embedder: add it to the `case` fixture above"
    assert EMBEDDERS["hash"] is HashEmbedder
    assert EMBEDDERS["all-MiniLM-L6-v2"] is EMBEDDERS["minilm"]
