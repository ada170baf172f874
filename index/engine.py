"""Where a build's heavy steps run. `build_index` runs them in its own process unless given an engine:
the Ray engine (index/ray_engine.py) runs them on a cluster, and the build around them is the same."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from index.chunking import ChunkerSettings
from index.embedding import Embedder, EncodeMissing, Vectors
from index.planning import Reader
from index.store import VersionParts
from index.types import Chunk, FaissSettings


class BuildEngine(Protocol):
    def reader(self, embedder: Embedder, settings: ChunkerSettings, max_file_bytes: int) -> Reader:
        """Loads and chunks the files that must be read (as `index.planning.read_file` does)."""
        ...

    def encoder(self, embedder: Embedder) -> EncodeMissing:
        """Embeds the texts the cache does not hold."""
        ...

    def parts(self, chunks: Sequence[Chunk], vectors: Vectors, faiss: FaissSettings) -> VersionParts:
        """The FAISS index and BM25 of the new version (rows in `chunks` order)."""
        ...
