"""Typed records that cross the index layer's seams."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    """One loaded document.

    `id` is unique inside an index: the file's path relative to the indexed root,
    or `path#record_id` for one record of a BEIR-style `.jsonl` corpus.
    `page_starts` holds the character offset where each PDF page begins.
    """

    id: str
    path: str
    title: str
    text: str
    page_starts: tuple[int, ...] = ()

    @property
    def record_id(self) -> str:
        """The id a corpus file gave this document (the part after `#`), else the id."""
        return self.id.split("#", 1)[1] if "#" in self.id else self.id

    def page_at(self, offset: int) -> int | None:
        """1-based page number holding `offset`, or None for paginated-less text."""
        if not self.page_starts:
            return None
        return max(1, bisect.bisect_right(self.page_starts, offset))


@dataclass(frozen=True)
class Chunk:
    """A span of a document: `text == document.text[start:end]`."""

    id: str
    doc_id: str
    path: str
    title: str
    text: str
    start: int
    end: int
    page: int | None = None

    @property
    def record_id(self) -> str:
        return self.doc_id.split("#", 1)[1] if "#" in self.doc_id else self.doc_id

    @property
    def indexed_text(self) -> str:
        """What is embedded and BM25-indexed: the title gives short passages context."""
        if self.title and not self.text.startswith(self.title):
            return f"{self.title}\n{self.text}"
        return self.text


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass(frozen=True)
class IndexReport:
    """What one `rag index` run did."""

    index_dir: str
    version: str
    documents: int
    chunks: int
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    skipped: tuple[SkippedFile, ...] = ()
    embedded_chunks: int = 0
    cached_chunks: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    full_rebuild_reason: str = ""

    @property
    def chunks_per_second(self) -> float:
        """Chunks over the time spent after the embedder was loaded."""
        work = self.seconds - self.stage_seconds.get("model", 0.0)
        return self.chunks / work if work > 0 else 0.0


@dataclass(frozen=True)
class SearchResult:
    """Raw scores from one side of the store, best first; rows index the chunk list."""

    rows: tuple[int, ...]
    scores: tuple[float, ...]
