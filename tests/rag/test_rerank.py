"""The re-ranking seam: registry errors, and a real CrossEncoder saved here and loaded back."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.build import build_index
from index.embedding import HashEmbedder, minilm_path
from index.store import IndexStore
from rag.rerank import RERANKERS, CrossEncoderReranker, Reranker, get_reranker
from rag.retrieval import LexicalRetriever


def test_unknown_reranker_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown reranker 'colbert'. Choose one of: cross-encoder"):
        get_reranker("colbert")
    assert "cross-encoder" in RERANKERS


def test_missing_model_folder_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"No cross-encoder model in .*CrossEncoder.save"):
        get_reranker("cross-encoder", model_path=tmp_path)


@pytest.fixture(scope="module")
def random_head_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MiniLM's encoder with a fresh 1-label head: real code path, meaningless scores."""
    from sentence_transformers import CrossEncoder

    out = tmp_path_factory.mktemp("cross-encoder")
    CrossEncoder(str(minilm_path()), num_labels=1, device="cpu", local_files_only=True).save(str(out))
    return out


@pytest.mark.slow
def test_real_cross_encoder_loads_from_a_local_folder_and_reranks(
    random_head_cross_encoder: Path, tmp_path: Path
) -> None:
    reranker = get_reranker("cross-encoder", model_path=random_head_cross_encoder, batch_size=4)
    assert isinstance(reranker, CrossEncoderReranker) and isinstance(reranker, Reranker)
    passages = ["Zebras live in Africa.", "The stock market fell.", "Zebras have stripes."]
    scores = reranker.score("zebra stripes", passages)
    assert len(scores) == 3 and all(isinstance(s, float) for s in scores)
    assert scores == pytest.approx(reranker.score("zebra stripes", passages))  # deterministic
    assert reranker.score("zebra", []) == []

    src = tmp_path / "docs"
    src.mkdir()
    for i, text in enumerate(passages):
        (src / f"d{i}.txt").write_text(text, "utf-8")
    build_index(src, tmp_path / "idx", embedder=HashEmbedder(64))
    hits = LexicalRetriever(IndexStore.open(tmp_path / "idx"), reranker=reranker, k=2).retrieve("zebra stripes")
    assert len(hits) == 2 and all("rerank" in h.scores and "lexical" in h.scores for h in hits)
    assert hits[0].score == hits[0].scores["rerank"] >= hits[1].score
