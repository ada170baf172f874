"""What the MCP tools do, apart from the protocol: search, ask and list the documents of one index.

The results are pydantic models because the MCP SDK turns a tool's return type into the tool's
output schema, and their field descriptions are what an agent reads to use them. The index is
followed as the chat follows it (Assistant.follow_current): a rebuild is picked up at the next call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict

from pydantic import BaseModel, ConfigDict, Field

from index.types import Chunk, Manifest
from rag.answer import Assistant
from rag.inputs import check_question
from rag.settings import AnswerSettings
from rag.types import Answer, Citation, Hit

log = logging.getLogger(__name__)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Passage(_Frozen):
    id: str = Field(description="chunk id of the passage in this index")
    rank: int = Field(description="1 = best match")
    score: float = Field(description="retrieval score the ranking was decided by (higher is better)")
    document: str = Field(description="id of the document the passage is from (its path in the indexed folder)")
    title: str
    path: str
    page: int | None = Field(description="1-based page (PDF) or slide, None for unpaged text")
    start: int = Field(description="character offset of the passage in its document")
    end: int
    text: str = Field(description="the passage's full text")


class SearchResult(_Frozen):
    query: str
    passages: list[Passage] = Field(description="best first; empty when nothing matches")


class CitedSource(_Frozen):
    marker: int = Field(description="the number n of the [n] markers in the answer text")
    document: str
    title: str
    path: str
    page: int | None
    start: int = Field(description="character offsets of the cited passage in its document")
    end: int
    sentence: str = Field(description="the answer sentence this citation supports")
    support: float = Field(description="how well the passage supports the sentence, 0-1 (checked, not trusted)")
    evidence: str = Field(description="the sentence of the passage that supports it")


class AskResult(_Frozen):
    question: str
    answer: str = Field(description="the answer, with [n] markers pointing at `citations`")
    refused: bool = Field(description="true when the documents do not answer the question: then `answer` says so")
    refusal_reason: str = Field(description="why it was declined ('' when answered)")
    citations: list[CitedSource] = Field(description="one entry per (sentence, source) pair, in marker order")
    unsupported_sentences: list[str] = Field(description="answer sentences no passage supports: treat with care")
    sources: list[Passage] = Field(description="the passages the answer was drawn from (when declined: the closest)")


class DocumentInfo(_Frozen):
    id: str
    title: str
    path: str = Field(description="the file the document comes from, relative to the indexed folder")
    chunks: int = Field(description="passages the document was split into")


class DocumentList(_Frozen):
    index: str = Field(description="the index folder")
    source: str = Field(description="the folder or file the index was built from")
    version: str = Field(description="the index version answering now")
    total: int = Field(description="documents matching `contains` (all of them when it is empty)")
    documents: list[DocumentInfo] = Field(description="sorted by id, at most `limit` of them")


class Library:
    """One index and its Assistant, loaded on first use (or by `warm_up`) and shared by every tool call."""

    def __init__(self, index_dir: str | Path, settings: AnswerSettings) -> None:
        self.index_dir = Path(index_dir)
        self.settings = settings
        self._assistant: Assistant | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def assistant(self) -> Assistant:
        with self._lock:
            if self._assistant is None:
                self._assistant = Assistant(self.index_dir, self.settings)
        self._assistant.follow_current()
        return self._assistant

    def warm_up(self) -> None:
        """Load the embedder and the model now, so the first question does not wait for them."""
        try:
            self.assistant().retriever.retrieve("warm up the query embedder", 1)
            self.assistant().wait_for_model()
        except Exception:  # the tools report the same failure, with its fix, when called
            if not self._closed.is_set():  # a client that hangs up at once stops the process mid-load
                log.exception("loading the index or the model failed")
        else:
            log.info("ready: index %s, backend %s", self.index_dir, self.settings.backend)

    def close(self) -> None:
        """The server is stopping: a load still running is abandoned without complaint."""
        self._closed.set()


def search(library: Library, query: str, k: int, documents: Sequence[str] | None = None) -> SearchResult:
    query = check_question(query)
    hits = library.assistant().retriever.retrieve(query, k, documents=documents or None)
    return SearchResult(query=query, passages=[_passage(h) for h in hits])


def ask(library: Library, question: str, documents: Sequence[str] | None = None) -> AskResult:
    return _ask_result(library.assistant().ask(check_question(question), documents=documents))


def list_documents(library: Library, contains: str, limit: int) -> DocumentList:
    store = library.assistant().store
    manifest = store.manifest
    paths = _document_paths(manifest)
    needle = contains.strip().lower()
    found = [
        DocumentInfo(id=doc_id, title=entry.title, path=paths.get(doc_id, doc_id.split("#", 1)[0]), chunks=entry.chunks)
        for doc_id, entry in sorted(manifest.documents.items())
    ]
    if needle:
        found = [d for d in found if needle in f"{d.id}\n{d.title}\n{d.path}".lower()]
    return DocumentList(
        index=str(store.index_dir),
        source=manifest.source,
        version=store.version,
        total=len(found),
        documents=found[:limit],
    )


def _document_paths(manifest: Manifest) -> dict[str, str]:
    return {doc_id: rel for rel, entry in manifest.files.items() for doc_id in entry.documents}


def _passage(hit: Hit) -> Passage:
    chunk = hit.chunk
    return Passage(id=chunk.id, rank=hit.rank, score=round(hit.score, 4), text=chunk.text, **_where(chunk))


class _Where(TypedDict):
    document: str
    title: str
    path: str
    page: int | None
    start: int
    end: int


def _where(chunk: Chunk) -> _Where:
    return {
        "document": chunk.doc_id,
        "title": chunk.title,
        "path": chunk.path,
        "page": chunk.page,
        "start": chunk.start,
        "end": chunk.end,
    }


def _cited(citation: Citation) -> CitedSource:
    return CitedSource(
        marker=citation.marker,
        sentence=citation.sentence,
        support=round(citation.support, 4),
        evidence=citation.evidence,
        **_where(citation.chunk),
    )


def _ask_result(answer: Answer) -> AskResult:
    return AskResult(
        question=answer.question,
        answer=answer.text,
        refused=answer.refused,
        refusal_reason=answer.refusal_reason,
        citations=[_cited(c) for c in sorted(answer.citations, key=lambda c: c.marker)],
        unsupported_sentences=list(answer.unsupported_sentences),
        sources=[_passage(h) for h in answer.sources],
    )
