"""The store at scale: FAISS kind chosen by size, lazy chunk records, mapped files, BM25 kernel."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.build import build_index
from index.chunk_table import ChunkTable, write_chunks
from index.embedding import HashEmbedder
from index.lexical import LexicalIndex
from index.store import (
    FLAT_MAX_CHUNKS,
    IndexMismatch,
    IndexStore,
    build_faiss,
    faiss_settings,
    read_faiss,
    write_version,
)
from index.types import Chunk, EmbedderInfo, Manifest


def clustered(n: int, dim: int, seed: int, topics: int = 200) -> np.ndarray:
    """Unit vectors around topic and sub-topic centres (the bench's shape, smaller)."""
    shared = np.random.default_rng(99)
    centres = shared.normal(size=(topics, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    subs = shared.normal(scale=0.8 / np.sqrt(dim), size=(topics, 10, dim))
    rng = np.random.default_rng(seed)
    t, s = rng.integers(0, topics, n), rng.integers(0, 10, n)
    v = centres[t] + subs[t, s] + rng.normal(scale=1.0 / np.sqrt(dim), size=(n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_auto_picks_flat_up_to_the_threshold_and_ivf_above() -> None:
    assert faiss_settings("auto", FLAT_MAX_CHUNKS).kind == "flat"
    above = faiss_settings("auto", FLAT_MAX_CHUNKS + 1)
    assert (above.kind, above.requested) == ("ivf", "auto")
    assert above.nlist is not None and above.nprobe is not None
    assert above.nlist * 39 <= FLAT_MAX_CHUNKS + 1 and 1 <= above.nprobe <= above.nlist
    with pytest.raises(ValueError, match="auto, flat, ivf, hnsw"):
        faiss_settings("ivfpq", 10)


def test_auto_approximate_index_reaches_recall_095_against_numpy(tmp_path: Path) -> None:
    n = FLAT_MAX_CHUNKS + 10_000
    vectors, queries = clustered(n, 64, seed=1), clustered(200, 64, seed=2)
    settings = faiss_settings("auto", n)
    assert settings.kind == "ivf"
    import faiss

    faiss.write_index(build_faiss(vectors, settings), str(tmp_path / "v.faiss"))
    index = read_faiss(tmp_path / "v.faiss", settings)  # memory-mapped, as served
    _, rows = index.search(queries, 10)
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows.tolist(), truth.tolist())])
    assert recall >= 0.95, recall
    assert settings.nlist is not None and index.nprobe == settings.nprobe < settings.nlist  # it really is approximate


TEXTS = ["Zürich café — naïve 東京 🚀", 'quotes " and \\ backslash', "line\nbreak\u2028separator", "", "plain"]


def test_chunk_table_returns_exactly_what_was_written(tmp_path: Path) -> None:
    chunks = [
        Chunk(f"d{i}.txt#{i}", f"d{i}.txt", f"sub/d{i}.txt", f"Titel {i} ü", text, i, i + len(text), i or None)
        for i, text in enumerate(TEXTS)
    ]
    write_chunks(tmp_path, chunks)
    table = ChunkTable(tmp_path)
    assert len(table) == len(chunks) and table.parsed == 0
    assert [table[i] for i in range(len(chunks))] == chunks
    assert table[-1] == chunks[-1] and table[1:3] == chunks[1:3] and list(table) == chunks
    with pytest.raises(IndexError, match="out of range"):
        table[len(chunks)]
    offsets = np.load(tmp_path / "chunks.offsets.npy")
    raw = (tmp_path / "chunks.jsonl").read_bytes()
    assert offsets[-1] == len(raw) and json.loads(raw[offsets[2] : offsets[3]])["text"] == TEXTS[2]


def test_empty_chunk_table(tmp_path: Path) -> None:
    write_chunks(tmp_path, [])
    assert len(ChunkTable(tmp_path)) == 0 and list(ChunkTable(tmp_path)) == []


def _synthetic_store(tmp_path: Path, n: int, kind: str = "auto") -> Path:
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(300)]
    chunks = [Chunk(f"doc{i}#0", f"doc{i}", f"doc{i}.txt", "", " ".join(rng.choice(words, 12)), 0, 1) for i in range(n)]
    manifest = Manifest(source="synthetic", embedder=EmbedderInfo("test-16", 16), faiss=faiss_settings(kind, n))
    write_version(tmp_path / "idx", chunks, clustered(n, 16, seed=5, topics=20), manifest, kind)
    return tmp_path / "idx"


def test_opening_parses_no_chunk_record(tmp_path: Path) -> None:
    store = IndexStore.open(_synthetic_store(tmp_path, 3000))
    assert isinstance(store.chunks, ChunkTable)
    assert store.chunks.parsed == 0, "opening must not decode chunk records"
    [found] = store.search_lexical(["w7 w8"], 3)
    assert store.chunks[found.rows[0]].doc_id == f"doc{found.rows[0]}"
    assert store.chunks.parsed == 1


def test_ivf_store_searches_and_returns_exact_vectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("index.store.FLAT_MAX_CHUNKS", 1000)
    store = IndexStore.open(_synthetic_store(tmp_path, 3000))
    assert store.faiss_kind == "ivf" and store.manifest.faiss.requested == "auto"
    expected = clustered(3000, 16, seed=5, topics=20)
    np.testing.assert_allclose(store.vectors([5, 2999, 0]), expected[[5, 2999, 0]], atol=1e-6)
    np.testing.assert_allclose(store.vectors(), expected, atol=1e-6)
    [hit] = store.search_dense(expected[42], 1)
    assert hit.rows == (42,)


def test_old_format_index_asks_for_a_rebuild(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("Alpha beta gamma. " * 20, encoding="utf-8")
    idx = tmp_path / "idx"
    build_index(src, idx, embedder=HashEmbedder(64))
    manifest_path = idx / "current" / "manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8"))
    manifest["format_version"] = 1
    manifest_path.write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(IndexMismatch, match=r"format version 1; this version reads 2\. Rebuild it: .*--rebuild"):
        IndexStore.open(idx)
    report = build_index(src, idx, embedder=HashEmbedder(64))  # the rebuild the message asks for
    assert report.full_rebuild_reason == "index format changed"
    assert IndexStore.open(idx).chunks[0].doc_id == "a.txt"


def test_bm25_kernel_matches_full_scoring_oracle() -> None:
    rng = np.random.default_rng(0)
    vocab = [f"t{i}x" for i in range(2000)]
    weights = 1 / np.arange(1, 2001)
    texts = [" ".join(rng.choice(vocab, 30, p=weights / weights.sum())) for _ in range(1500)]
    lexical = LexicalIndex.build(texts)
    checked = 0
    for _ in range(100):
        ids = lexical.query_ids(" ".join(rng.choice(vocab, 4, p=weights / weights.sum())))
        if not ids:
            continue
        # Oracle: bm25s's own dense scores, every positive one, ranked by score then row.
        scores = np.asarray(lexical._retriever.get_scores(ids), dtype=np.float32)
        rows = np.flatnonzero(scores > 0)
        expected = rows[np.lexsort((rows, -scores[rows]))]
        for k in (1, 10, 5000):
            got = lexical.search_ids(ids, k)
            assert got.rows == tuple(expected[:k].tolist())
            np.testing.assert_allclose(got.scores, scores[expected[:k]], rtol=1e-6)
        checked += 1
    assert checked > 50
    assert lexical.search_ids([], 5).rows == () and lexical.search(["zzz unknown"], 5)[0].rows == ()
