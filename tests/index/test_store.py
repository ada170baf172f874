from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from index.build import build_index
from index.chunking import ChunkerSettings
from index.embedding import EmbeddingCache, HashEmbedder
from index.store import IndexMismatch, IndexNotFound, IndexStore, build_faiss


def corpus(root: Path, n: int = 6) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        body = " ".join(f"Document {i} sentence {j} mentions keyword{i} and shared words." for j in range(30))
        (root / f"doc{i}.txt").write_text(f"Title {i}\n\n{body}", encoding="utf-8")
    return root


SMALL = ChunkerSettings(chunk_tokens=80, overlap_tokens=10)


def test_faiss_flat_matches_brute_force_numpy() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(2000, 48)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[rng.choice(2000, 25)] + 0.1 * rng.normal(size=(25, 48)).astype(np.float32)
    scores, rows = build_faiss(vectors, "flat").search(queries, 10)
    oracle = queries @ vectors.T
    expected = np.argsort(-oracle, axis=1, kind="stable")[:, :10]
    assert (rows == expected).all()
    np.testing.assert_allclose(scores, np.take_along_axis(oracle, expected, axis=1), rtol=1e-4, atol=1e-5)


def test_hnsw_recall_against_brute_force() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(5000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[:50] + 0.05 * rng.normal(size=(50, 32)).astype(np.float32)
    index = build_faiss(vectors, "hnsw")
    index.hnsw.efSearch = 128
    _, rows = index.search(queries, 10)
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows, truth)])
    assert recall >= 0.95


def test_store_search_matches_numpy_oracle(tmp_path: Path) -> None:
    emb = HashEmbedder(64)
    build_index(corpus(tmp_path / "src"), tmp_path / "idx", embedder=emb, settings=SMALL)
    store = IndexStore.open(tmp_path / "idx")
    vectors = emb.encode([c.indexed_text for c in store.chunks])
    np.testing.assert_allclose(store.vectors(), vectors, atol=1e-6)
    query = emb.encode(["keyword3 shared words"])
    [result] = store.search_dense(query, 5)
    oracle = np.argsort(-(vectors @ query[0]), kind="stable")[:5]
    assert list(result.rows) == list(oracle)
    [lex] = store.search_lexical(["keyword3"], 5)
    assert lex.rows and all(store.chunks[r].doc_id == "doc3.txt" for r in lex.rows)


def test_incremental_reindex_only_embeds_what_changed(tmp_path: Path) -> None:
    src, idx = corpus(tmp_path / "src"), tmp_path / "idx"
    emb = HashEmbedder(64)
    first = build_index(src, idx, embedder=emb, settings=SMALL)
    assert (len(first.added), first.embedded_chunks) == (6, first.chunks)

    again = build_index(src, idx, embedder=emb, settings=SMALL)
    assert (again.added, again.updated, again.removed, again.unchanged) == ((), (), (), 6)
    assert again.embedded_chunks == 0
    assert again.version == first.version, "an unchanged source writes no new version"

    (src / "doc1.txt").write_text("Title 1\n\nA completely new text about zebras.", encoding="utf-8")
    (src / "doc2.txt").unlink()
    (src / "new.md").write_text("# New\n\nFresh document about giraffes.", encoding="utf-8")
    (src / "junk.bin").write_bytes(b"\x00\x01")
    os.utime(src / "doc3.txt")  # touched, same content: must stay unchanged
    third = build_index(src, idx, embedder=emb, settings=SMALL)
    assert third.added == ("new.md",)
    assert third.updated == ("doc1.txt",)
    assert third.removed == ("doc2.txt",)
    assert third.unchanged == 4
    assert [s.path for s in third.skipped] == ["junk.bin"]
    assert third.embedded_chunks == 2
    store = IndexStore.open(idx)
    assert {c.doc_id for c in store.chunks} == {"doc0.txt", "doc1.txt", "doc3.txt", "doc4.txt", "doc5.txt", "new.md"}
    [hit] = store.search_lexical(["zebras"], 1)
    assert store.chunks[hit.rows[0]].doc_id == "doc1.txt"
    assert sorted(p.name for p in idx.iterdir() if p.name.startswith("v")) == [store.version]


def test_changed_chunker_settings_rechunk_everything(tmp_path: Path) -> None:
    src, idx = corpus(tmp_path / "src"), tmp_path / "idx"
    build_index(src, idx, embedder=HashEmbedder(64), settings=SMALL)
    report = build_index(src, idx, embedder=HashEmbedder(64), settings=ChunkerSettings(60, 5))
    assert report.full_rebuild_reason == "chunker settings changed"
    assert json.loads((idx / "current" / "manifest.json").read_text())["chunker"]["chunk_tokens"] == 60


def test_manifest_mismatch_says_how_to_rebuild(tmp_path: Path) -> None:
    src, idx = corpus(tmp_path / "src"), tmp_path / "idx"
    build_index(src, idx, embedder=HashEmbedder(64), settings=SMALL)
    with pytest.raises(IndexMismatch, match=r"hash-64.*dim 64.*--rebuild"):
        IndexStore.open(idx, embedder="hash-32", dim=32)
    with pytest.raises(IndexMismatch, match="--rebuild"):
        build_index(src, idx, embedder=HashEmbedder(32), settings=SMALL)
    assert IndexStore.open(idx).dim == 64, "a refused build leaves the index as it was"
    report = build_index(src, idx, embedder=HashEmbedder(32), settings=SMALL, rebuild=True)
    assert IndexStore.open(idx, embedder="hash-32", dim=32).dim == 32
    assert report.documents == 6


def test_an_update_without_an_embedder_keeps_the_index_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A changed default must not force a re-embed (or a mismatch error) on an existing index.
    monkeypatch.setattr("index.build.DEFAULT_EMBEDDER", "hash-32")
    src, idx = corpus(tmp_path / "src"), tmp_path / "idx"
    build_index(src, idx, embedder="hash-64", settings=SMALL)
    (src / "doc1.txt").write_text("Title 1\n\nA new text about zebras.", encoding="utf-8")
    update = build_index(src, idx, settings=SMALL)
    assert (update.updated, update.embedded_chunks) == (("doc1.txt",), 1)
    assert IndexStore.open(idx).embedder_name == "hash-64"
    rebuilt = build_index(src, idx, settings=SMALL, rebuild=True)
    assert IndexStore.open(idx).embedder_name == "hash-32", "a rebuild takes the default"
    assert rebuilt.embedded_chunks == rebuilt.chunks
    fresh = build_index(src, tmp_path / "new", settings=SMALL)
    assert IndexStore.open(tmp_path / "new").embedder_name == "hash-32" and fresh.documents == 6


def test_other_source_is_refused_unless_replace(tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    build_index(corpus(tmp_path / "a", 2), idx, embedder=HashEmbedder(64), settings=SMALL)
    with pytest.raises(IndexMismatch, match="--replace"):
        build_index(corpus(tmp_path / "b", 3), idx, embedder=HashEmbedder(64), settings=SMALL)
    assert len(IndexStore.open(idx).manifest.documents) == 2
    build_index(tmp_path / "b", idx, embedder=HashEmbedder(64), settings=SMALL, replace=True)
    assert len(IndexStore.open(idx).manifest.documents) == 3


def test_missing_index_and_bad_source(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound, match="rag index"):
        IndexStore.open(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="Nothing to index"):
        build_index(tmp_path / "absent", tmp_path / "idx", embedder=HashEmbedder(64))


def test_embedding_cache_round_trip(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    vec = np.arange(8, dtype=np.float32).reshape(2, 4)
    cache.put_many("m", ["a", "b"], vec)
    got = cache.get_many("m", ["a", "b", "zz"], 4)
    assert set(got) == {"a", "b"}
    np.testing.assert_array_equal(got["b"], vec[1])
    assert cache.get_many("other-model", ["a"], 4) == {}
    assert cache.get_many("m", ["a"], 8) == {}, "a vector of another dimension is not reused"
