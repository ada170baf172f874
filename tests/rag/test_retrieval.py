"""Retrievers over a small hash-embedded index: filters, overrides, validation, rerank, MMR, dedup."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest

from index.build import build_index
from index.chunking import ChunkerSettings
from index.embedding import HashEmbedder
from index.runtime import configure_process
from index.store import IndexStore
from index.types import Chunk
from rag.retrieval import (
    DEFAULT_FUSION,
    DenseRetriever,
    HybridRetriever,
    LexicalRetriever,
    RetrievalSettings,
    Retriever,
    get_retriever,
)
from rag.types import Hit

EMB = HashEmbedder(64)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> IndexStore:
    src = tmp_path_factory.mktemp("src")
    (src / "reports").mkdir()
    (src / "notes").mkdir()
    for i in range(10):
        (src / "reports" / f"r{i}.txt").write_text(
            f"Report {i}\n\nZebra zebra zebra sightings in district {i}. Zebra herds grow.", "utf-8"
        )
    (src / "notes" / "n0.txt").write_text("Note\n\nOne zebra was seen near the river bank.", "utf-8")
    (src / "notes" / "copy.txt").write_text("Note\n\nOne zebra was seen near the river bank.", "utf-8")
    long = " ".join(f"Giraffe fact {j}: giraffes eat acacia leaves in the savanna." for j in range(40))
    (src / "notes" / "giraffes.md").write_text(f"# Giraffes\n\n{long}", "utf-8")
    idx = tmp_path_factory.mktemp("idx")
    build_index(src, idx, embedder=EMB, settings=ChunkerSettings(chunk_tokens=60, overlap_tokens=20))
    return IndexStore.open(idx)


def paths(hits: Sequence[Hit]) -> list[str]:
    return [h.chunk.path for h in hits]


def test_every_retriever_returns_ranked_hits(store: IndexStore) -> None:
    for name in ("dense", "lexical", "hybrid"):
        retriever = get_retriever(name, store, embedder=EMB, k=3)
        assert isinstance(retriever, Retriever)
        hits = retriever.retrieve("zebra sightings")
        assert [h.rank for h in hits] == [1, 2, 3]
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert all(isinstance(h.chunk, Chunk) for h in hits)
    hybrid = HybridRetriever(store, embedder=EMB).retrieve("zebra sightings", k=2)
    assert set(hybrid[0].scores) >= {"fused"} and set(hybrid[0].scores) & {"dense", "lexical"}


def test_path_filter_applies_before_truncating_to_k(store: IndexStore) -> None:
    # Ten reports outrank the one note for 'zebra'; a 2-deep pool alone would hold no note.
    lexical = LexicalRetriever(store, candidates=2, k=1)
    assert paths(lexical.retrieve("zebra"))[0].startswith("reports/")
    hits = lexical.retrieve("zebra", paths="notes/n*.txt")
    assert paths(hits) == ["notes/n0.txt"]
    hybrid = HybridRetriever(store, embedder=EMB, candidates=2, k=3, paths=["notes/*"])
    assert paths(hybrid.retrieve("zebra sightings"))
    assert all(p.startswith("notes/") for p in paths(hybrid.retrieve("zebra sightings")))
    assert paths(hybrid.retrieve("zebra", paths="reports/r3.txt")) == ["reports/r3.txt"]
    assert hybrid.retrieve("zebra", paths="nowhere/*") == []
    assert len(hybrid.retrieve("zebra", paths=[])) == 3  # an empty list switches the default filter off


def test_per_call_overrides_and_none_means_default(store: IndexStore) -> None:
    retriever = HybridRetriever(store, embedder=EMB, k=4)
    assert len(retriever.retrieve("zebra")) == 4
    assert len(retriever.retrieve("zebra", k=None, mmr=None, fusion=None)) == 4
    assert len(retriever.retrieve("zebra", k=2)) == 2
    minmax = retriever.retrieve("zebra", fusion="minmax", dense_weight=0.0)
    assert all(0.0 <= h.score <= 1.0 for h in minmax)
    assert minmax[0].score == pytest.approx(1.0)  # lexical alone, min-max scaled: the best is 1
    assert retriever.settings.k == 4 and retriever.settings.fusion == DEFAULT_FUSION  # calls never change defaults


def test_validation_names_the_bad_value(store: IndexStore) -> None:
    with pytest.raises(ValueError, match=r"k=0 is invalid"):
        HybridRetriever(store, embedder=EMB, k=0)
    with pytest.raises(ValueError, match=r"fusion='max' is invalid.*rrf, minmax, zscore"):
        HybridRetriever(store, embedder=EMB, fusion="max")
    with pytest.raises(ValueError, match=r"dense_weight=1.5"):
        HybridRetriever(store, embedder=EMB, dense_weight=1.5)
    with pytest.raises(ValueError, match=r"mmr_lambda=-0.1"):
        HybridRetriever(store, embedder=EMB).retrieve("zebra", mmr_lambda=-0.1)
    with pytest.raises(ValueError, match=r"paths=\('',\)"):
        LexicalRetriever(store, paths="")
    with pytest.raises(ValueError, match=r"candidates=True"):
        LexicalRetriever(store, candidates=True)
    with pytest.raises(TypeError, match=r"colour.*Valid:.*candidates"):
        LexicalRetriever(store).retrieve("zebra", colour="red")
    with pytest.raises(TypeError, match=r"fusion"):
        DenseRetriever(store, embedder=EMB, fusion="rrf")  # a dense retriever fuses nothing
    with pytest.raises(ValueError, match=r"Unknown retriever 'sparse'.*hybrid, dense, lexical"):
        get_retriever("sparse", store)
    with pytest.raises(ValueError, match=r"hash-32.*hash-64"):
        DenseRetriever(store, embedder=HashEmbedder(32))
    with pytest.raises(ValueError, match=r"rerank=True needs a reranker"):
        LexicalRetriever(store, rerank=True)


def test_settings_are_validated_on_their_own() -> None:
    assert RetrievalSettings().with_overrides({"paths": "docs/*"}).paths == ("docs/*",)
    with pytest.raises(ValueError, match=r"rrf_k=-1"):
        RetrievalSettings(rrf_k=-1)


class Reverse:
    """A fake reranker: the later a passage arrives, the higher its score."""

    name = "reverse"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        self.calls.append(len(passages))
        return [float(i) for i in range(len(passages))]


def test_reranker_reorders_its_window_and_keeps_the_tail(store: IndexStore) -> None:
    plain = LexicalRetriever(store, k=6, dedup=False).retrieve("zebra")
    fake = Reverse()
    reranked = LexicalRetriever(store, k=6, dedup=False, reranker=fake, rerank_candidates=3).retrieve("zebra")
    assert fake.calls == [3]
    ids = [h.chunk.id for h in plain]
    assert [h.chunk.id for h in reranked] == [ids[2], ids[1], ids[0], *ids[3:]]
    assert [h.score for h in reranked[:3]] == [2.0, 1.0, 0.0]
    assert reranked[0].scores["rerank"] == 2.0 and "lexical" in reranked[0].scores
    assert "rerank" not in reranked[3].scores
    off = LexicalRetriever(store, k=6, dedup=False, reranker=fake).retrieve("zebra", rerank=False)
    assert [h.chunk.id for h in off] == ids and fake.calls == [3]


def test_mmr_is_switchable_and_diversifies(store: IndexStore) -> None:
    retriever = DenseRetriever(store, embedder=EMB, k=4, dedup=False)
    plain = retriever.retrieve("giraffes eat acacia leaves")
    diverse = retriever.retrieve("giraffes eat acacia leaves", mmr=True, mmr_lambda=0.3)
    assert "mmr" not in plain[0].scores and diverse[0].scores["mmr"] == diverse[0].score
    assert diverse[0].chunk.id == plain[0].chunk.id  # the most relevant is always taken first
    assert len({h.chunk.doc_id for h in diverse}) > len({h.chunk.doc_id for h in plain})


def test_duplicates_collapse_unless_switched_off(store: IndexStore) -> None:
    retriever = LexicalRetriever(store, k=20)
    texts = [h.chunk.text for h in retriever.retrieve("zebra river bank")]
    assert len(texts) == len(set(texts))
    both = LexicalRetriever(store, k=20, dedup=False).retrieve("zebra river bank")
    assert {"notes/n0.txt", "notes/copy.txt"} <= set(paths(both))
    # The giraffe chunks share a third of their text with their neighbours: not duplicates,
    # each holds sentences the others lack. But their words differ only in numbers.
    every = LexicalRetriever(store, k=20, dedup=False).retrieve("giraffes acacia")
    assert len(every) > 2
    assert LexicalRetriever(store, k=20, dedup_threshold=1.0).retrieve("giraffes acacia") == every
    assert len(LexicalRetriever(store, k=20).retrieve("giraffes acacia")) == 1  # near-identical vectors


def test_empty_query_and_hit_invariants(store: IndexStore) -> None:
    assert HybridRetriever(store, embedder=EMB).retrieve("   ") == []
    hit = LexicalRetriever(store).retrieve("zebra")[0]
    with pytest.raises(TypeError):
        hit.scores["lexical"] = 0.0  # type: ignore[index]
    assert hash(hit) == hash(Hit(hit.chunk, hit.score, hit.rank, {"other": 1.0}))
    with pytest.raises(ValueError, match=r"rank=0"):
        Hit(hit.chunk, 1.0, 0)


def test_retrieve_leaves_threads_and_environment_alone(store: IndexStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Thread counts are the process's choice (index.runtime.configure_process), never a retrieval call's."""
    import faiss

    calls: list[int] = []
    monkeypatch.setattr(faiss, "omp_set_num_threads", calls.append)
    environ = dict(os.environ)
    for name in ("hybrid", "dense", "lexical"):
        assert get_retriever(name, store, embedder=EMB).retrieve("zebra sightings")
    assert calls == [] and dict(os.environ) == environ


def test_serving_process_pins_one_thread_a_query_and_batch_restores(
    store: IndexStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import faiss

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = faiss.omp_get_max_threads()
    try:
        configure_process(serving=True)
        assert faiss.omp_get_max_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
        assert HybridRetriever(store, embedder=EMB).retrieve("zebra sightings")
        assert faiss.omp_get_max_threads() == 1
        configure_process(serving=True)  # the same choice again changes nothing
    finally:
        configure_process(serving=False)
    assert faiss.omp_get_max_threads() == before and "OMP_NUM_THREADS" not in os.environ


def test_hybrid_from_many_threads_matches_one_at_a_time(store: IndexStore) -> None:
    """BM25 runs on worker threads beside the dense side; concurrent callers (chat sessions)
    must each get exactly the hits a lone call gets."""
    from concurrent.futures import ThreadPoolExecutor

    retriever = HybridRetriever(store, embedder=EMB)
    queries = ["zebra sightings", "giraffes eat acacia", "river bank", "district 3 herds"] * 5
    alone = [[(h.chunk.id, h.score) for h in retriever.retrieve(q, k=4)] for q in queries]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda q: [(h.chunk.id, h.score) for h in retriever.retrieve(q, k=4)], queries))
    assert together == alone
