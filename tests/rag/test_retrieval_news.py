"""The real model on the reference corpus: every answerable dev question finds its evidence in the top 5."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.store import IndexStore
from rag.retrieval import HybridRetriever
from tests.conftest import NEWS_DEV, need

_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})


def normalize(text: str) -> str:
    return " ".join(text.translate(_QUOTES).split())


def query_of(item: dict[str, object]) -> str:
    """A follow-up ('When was it published?') only makes sense after the previous user turn."""
    history = item.get("history") or []
    assert isinstance(history, list)
    return " ".join([*history[-1:], str(item["question"])])


@pytest.mark.slow
def test_hybrid_top5_holds_the_evidence_quote_for_every_answerable_question(news_index: Path) -> None:
    items = [json.loads(line) for line in need(NEWS_DEV).read_text("utf-8").splitlines() if line.strip()]
    answerable = [item for item in items if item["answerable"]]
    assert answerable
    retriever = HybridRetriever(IndexStore.open(news_index), k=5)
    misses = []
    for item in answerable:
        hits = retriever.retrieve(query_of(item))
        texts = [(h.chunk.path, normalize(h.chunk.text)) for h in hits]
        for evidence in item["evidence"]:
            quote = normalize(evidence["quote"])
            if not any(path == evidence["doc"] and quote in text for path, text in texts):
                misses.append(f"{item['id']}: {evidence['quote']!r} not in top 5 for {query_of(item)!r}")
    assert not misses, "\n".join(misses)
