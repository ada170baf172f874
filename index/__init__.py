"""The index layer: documents, chunks, embeddings, FAISS + BM25 on disk. Knows nothing of LLMs."""

from index.types import Chunk, Document, IndexReport, SearchResult, SkippedFile

__all__ = ["Chunk", "Document", "IndexReport", "SearchResult", "SkippedFile"]
