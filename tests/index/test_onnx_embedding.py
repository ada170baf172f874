"""The ONNX Runtime embedder against the torch one, on real texts, with a private export cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index import onnx_embedding
from index.chunking import Chunker
from index.documents import iter_files, load_file
from index.embedding import EMBEDDERS, get_embedder, minilm_path
from index.onnx_embedding import OnnxEmbedder
from tests.conftest import NEWS, ROOT, SCIFACT, need

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def int8(cache: Path) -> OnnxEmbedder:
    return OnnxEmbedder(minilm_path(), name="test-int8", int8=True, cache=cache)


def real_texts(minilm: Any) -> list[str]:
    """Every chunk of the reference corpus and the first 150 SciFact abstracts, as indexed."""
    chunker = Chunker(limit_counter=minilm.count_tokens, limit=minilm.max_tokens)
    texts = [
        c.indexed_text for f in iter_files(need(NEWS)) for d in load_file(f, NEWS).documents for c in chunker.chunk(d)
    ]
    corpus = need(SCIFACT / "corpus.jsonl")
    docs = load_file(corpus, corpus.parent).documents[:150]
    return texts + [c.indexed_text for d in docs for c in chunker.chunk(d)]


def test_int8_and_fp32_vectors_match_torch(int8: OnnxEmbedder, cache: Path, minilm: Any) -> None:
    texts = real_texts(minilm)
    assert len(texts) > 200
    reference = minilm.encode(texts)
    fp32 = OnnxEmbedder(minilm_path(), name="test-fp32", int8=False, cache=cache)
    for embedder, floor in ((int8, 0.99), (fp32, 0.9999)):
        vectors = embedder.encode(texts, batch_size=32)
        assert vectors.shape == reference.shape and vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        cosines = (vectors * reference).sum(axis=1)
        assert cosines.min() >= floor, f"{embedder.name}: min cosine {cosines.min():.4f} < {floor}"
    # One text alone (the serving path, one thread) and the same text among 64 (two sessions side by
    # side): each text runs alone through the model, so int8's per-call activation scale cannot make a
    # text's vector depend on its neighbours; a query embedded at ask time is the vector indexed.
    for embedder in (int8, fp32):
        among = embedder.encode(texts[:64])
        for pos in (0, 1, 63):
            np.testing.assert_array_equal(embedder.encode([texts[pos]])[0], among[pos])


def test_thread_count_follows_the_process_setting(int8: OnnxEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [f"sentence number {i} about a refinery" for i in range(12)]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    one = int8.encode(texts)
    assert len(int8._sessions) >= 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    three = int8.encode(texts)
    assert len(int8._sessions) >= 3
    np.testing.assert_array_equal(one, three)


def test_same_token_counts_and_limit_as_torch(int8: OnnxEmbedder, minilm: Any) -> None:
    assert (int8.dim, int8.max_tokens) == (minilm.dim, minilm.max_tokens) == (384, 256)
    for text in [*real_texts(minilm)[:50], "", "word " * 400]:
        assert int8.count_tokens(text) == minilm.count_tokens(text)


def test_export_happens_once(int8: OnnxEmbedder, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stamp = int8.model_file.stat().st_mtime_ns

    def no_export(*args: Any) -> None:
        raise AssertionError("exported again although the cached file exists")

    monkeypatch.setattr(onnx_embedding, "_export", no_export)
    monkeypatch.setattr(onnx_embedding, "_quantize", no_export)
    again = OnnxEmbedder(minilm_path(), name="again", int8=True, cache=cache)
    assert again.model_file == int8.model_file and again.model_file.stat().st_mtime_ns == stamp
    assert not [p for p in again.model_file.parent.iterdir() if p.name.startswith(".tmp-")]


def test_runs_offline_without_torch_once_exported(int8: OnnxEmbedder, cache: Path) -> None:
    """A fresh interpreter with the hub disabled encodes from the cached file and never imports torch."""
    code = (
        "import sys; from pathlib import Path; from index.embedding import minilm_path; "
        "from index.onnx_embedding import OnnxEmbedder; "
        f"e = OnnxEmbedder(minilm_path(), name='x', cache=Path({str(cache)!r})); "
        "v = e.encode(['offline question']); "
        "print(v.shape, 'torch' in sys.modules, 'transformers' in sys.modules)"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    assert out.stdout.strip() == "(1, 384) False False"


def test_registered_under_names_of_their_own() -> None:
    # The embedding cache is keyed by name: int8 vectors must never be served as torch ones.
    assert {"minilm-onnx-int8", "minilm-onnx", "all-MiniLM-L6-v2-onnx-int8"} <= set(EMBEDDERS)
    # The manifest name carries the quantization recipe, and resolves back to the embedder.
    assert get_embedder("minilm-onnx-int8").name == f"all-MiniLM-L6-v2-onnx-int8-r{onnx_embedding.INT8_RECIPE}"
    assert get_embedder(get_embedder("minilm-onnx-int8").name) is not None
    with pytest.raises(ValueError, match="minilm-onnx-int8"):
        get_embedder("no-such-embedder")


def test_a_folder_without_tokenizer_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"tokenizer\.json"):
        OnnxEmbedder(tmp_path, name="x", cache=tmp_path)
