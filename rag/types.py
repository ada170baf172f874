"""Typed records that cross the rag layer's seams."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from index.types import Chunk


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk.

    `score` is the number the final order was decided by (fused, re-ranked or, with
    MMR, the marginal relevance at selection time); `rank` is 1-based. `scores` keeps
    each stage's own score by name ("dense", "lexical", "fused", "rerank", "mmr") so
    prompts, citations and the UI can show where a hit came from.
    """

    chunk: Chunk
    score: float
    rank: int
    scores: Mapping[str, float] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ValueError(f"rank={self.rank} must be 1 or more (ranks are 1-based)")
        # A read-only copy: a Hit handed to several consumers cannot be edited by one of them.
        object.__setattr__(self, "scores", MappingProxyType(dict(self.scores)))
