"""Which documents a question may draw on: `documents=[...]` resolved against the index's own list.

A pattern is a document's path relative to the indexed folder (`guide/install.md`; a `.jsonl` or
`.csv` file stands for all its records), a document id (`corpus.jsonl#42`), a folder ending in `/`,
or a glob (`*.md`, `licences/*`). A pattern that names no indexed document is an error that lists
some of those there are: a misspelt filter would otherwise answer from nothing, or from everything.

The resolved ids become store rows for retrieval. A build appends each document's chunks together,
in the manifest's order of documents, so the rows come from the chunk counts without reading a record
(checked on the first and last row of each document; a store that breaks the rule is read instead).
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from index.embedding import Vectors
from index.store import IndexStore
from index.types import Chunk, Manifest, SearchResult

# A filter leaving at most this many rows is searched exactly over those rows (their vectors and their
# BM25 postings, a few milliseconds); a larger one over-fetches from the whole index and filters.
EXACT_FILTER_ROWS = 8192
_SHOWN = 8  # documents an error lists
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class IndexedDocument:
    """One document of an index, as a picker lists it."""

    id: str
    path: str  # the file it was read from, relative to the indexed folder
    title: str
    chunks: int


class UnknownDocuments(ValueError):
    """Some `documents` patterns name no indexed document; `patterns` holds them."""

    def __init__(self, message: str, patterns: tuple[str, ...]) -> None:
        super().__init__(message)
        self.patterns = patterns


def check_patterns(documents: str | Sequence[str] | None) -> tuple[str, ...]:
    """The patterns, tidied (`./a.md` -> `a.md`, `dir/` -> `dir/*`); () for None or an empty list."""
    if documents is None:
        return ()
    items = [documents] if isinstance(documents, str) else documents
    if not isinstance(items, Sequence) or not all(isinstance(p, str) and p.strip() for p in items):
        raise ValueError(
            f"documents={documents!r} is invalid: give a list of document paths or globs, e.g. ['guide/*.md']"
        )
    out = []
    for pattern in items:
        tidy = pattern.strip().replace("\\", "/")
        tidy = tidy[2:] if tidy.startswith("./") else tidy
        out.append(f"{tidy}*" if tidy.endswith("/") else tidy)
    return tuple(dict.fromkeys(out))


class DocumentCatalog:
    """The documents of one index version, in the order their chunks are stored."""

    def __init__(self, documents: Sequence[IndexedDocument], chunks: Sequence[Chunk] | None = None) -> None:
        self.documents = tuple(documents)
        self._by_id = {d.id: d for d in self.documents}
        self._by_path: dict[str, list[str]] = {}
        for d in self.documents:
            self._by_path.setdefault(d.path, []).append(d.id)
        self._chunks = chunks
        self._first: dict[str, int] = {}
        row = 0
        for d in self.documents:
            self._first[d.id], row = row, row + d.chunks
        self._counted = chunks is not None and row == len(chunks)
        self._scanned: dict[str, list[int]] | None = None
        self._rows: dict[tuple[str, ...], frozenset[int]] = {}
        self._globs: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._lock = threading.Lock()

    @classmethod
    def of(cls, manifest: Manifest, chunks: Sequence[Chunk] | None = None) -> DocumentCatalog:
        """From the manifest; from the chunk records when it lists no documents (hand-made indexes)."""
        paths = {doc_id: rel for rel, entry in manifest.files.items() for doc_id in entry.documents}
        docs = [
            IndexedDocument(doc_id, paths.get(doc_id, doc_id.split("#", 1)[0]), entry.title, entry.chunks)
            for doc_id, entry in manifest.documents.items()
        ]
        if not docs and chunks is not None and len(chunks):
            found: dict[str, IndexedDocument] = {}
            for c in chunks:
                seen = found.get(c.doc_id)
                found[c.doc_id] = IndexedDocument(c.doc_id, c.path, c.title, seen.chunks + 1 if seen else 1)
            docs = list(found.values())
        return cls(docs, chunks)

    def listing(self) -> list[IndexedDocument]:
        """Every document, by id (paths sort folders together)."""
        return sorted(self.documents, key=lambda d: d.id)

    def resolve(self, documents: str | Sequence[str] | None) -> tuple[str, ...]:
        """The ids the patterns name, in index order; () for no filter. UnknownDocuments names the misses."""
        patterns = check_patterns(documents)
        chosen: set[str] = set()
        missing = []
        for pattern in patterns:
            found = self._match(pattern)
            chosen.update(found)
            if not found:
                missing.append(pattern)
        if missing:
            raise UnknownDocuments(self._unknown_message(missing), tuple(missing))
        return tuple(d.id for d in self.documents if d.id in chosen)

    def _match(self, pattern: str) -> list[str]:
        if pattern in self._by_id:
            return [pattern]
        if pattern in self._by_path:
            return self._by_path[pattern]
        if not _GLOB.search(pattern):
            return []
        match = fnmatch.fnmatchcase
        return [d.id for d in self.documents if match(d.id, pattern) or match(d.path, pattern)]

    def _unknown_message(self, missing: Sequence[str]) -> str:
        names = sorted(self._by_path)
        hints: list[str] = []
        for pattern in missing:
            same_name = [n for n in names if n.rsplit("/", 1)[-1] == pattern]
            hints += same_name or difflib.get_close_matches(pattern, names, 2)
        said = ", ".join(repr(p) for p in missing)
        message = f"documents: {said} {'matches' if len(missing) == 1 else 'match'} no indexed document. "
        if hints:
            message += f"Did you mean {', '.join(repr(h) for h in dict.fromkeys(hints))}? "
        more = f" (and {len(names) - _SHOWN} more)" if len(names) > _SHOWN else ""
        message += f"The index holds {', '.join(names[:_SHOWN])}{more}. " if names else "The index holds none. "
        return message + "Give paths relative to the indexed folder, or globs such as '*.md' or 'guide/*'."

    def allowed_rows(self, globs: Sequence[str], documents: Sequence[str]) -> frozenset[int]:
        """The rows of the documents whose path or id matches one of `globs` (if any; matching none is no error)
        and that `documents` names (if any; resolved as by `resolve`)."""
        rows = self._ids_rows(self._globbed(tuple(globs))) if globs else None
        if documents:
            chosen = self.rows(documents)
            rows = chosen if rows is None else rows & chosen
        return rows if rows is not None else frozenset(range(len(self._chunks or ())))

    def _globbed(self, globs: tuple[str, ...]) -> tuple[str, ...]:
        with self._lock:
            if globs not in self._globs:
                match = fnmatch.fnmatchcase
                found = (d.id for d in self.documents if any(match(d.path, g) or match(d.id, g) for g in globs))
                self._globs = {} if len(self._globs) > 64 else self._globs
                self._globs[globs] = tuple(found)
            return self._globs[globs]

    def rows(self, documents: str | Sequence[str]) -> frozenset[int]:
        """The store rows of the documents the patterns name (resolved as by `resolve`)."""
        return self._ids_rows(self.resolve(documents))

    def _ids_rows(self, ids: tuple[str, ...]) -> frozenset[int]:
        with self._lock:
            if ids not in self._rows:
                if len(self._rows) > 64:
                    self._rows.clear()
                self._rows[ids] = frozenset(r for doc_id in ids for r in self._rows_of(doc_id))
            return self._rows[ids]

    def _rows_of(self, doc_id: str) -> Sequence[int]:
        chunks = self._chunks
        if chunks is None:
            raise ValueError("this catalog was made from a manifest alone; give the store's chunks to find rows")
        if self._counted and self._scanned is None:
            start, n = self._first[doc_id], self._by_id[doc_id].chunks
            if n == 0 or (chunks[start].doc_id == doc_id and chunks[start + n - 1].doc_id == doc_id):
                return range(start, start + n)
        if self._scanned is None:  # rows are not where the counts put them: read every record once
            self._scanned = {}
            for row, chunk in enumerate(chunks):
                self._scanned.setdefault(chunk.doc_id, []).append(row)
        return self._scanned.get(doc_id, [])


_CATALOGS: weakref.WeakKeyDictionary[IndexStore, DocumentCatalog] = weakref.WeakKeyDictionary()
_CATALOGS_LOCK = threading.Lock()


def catalog(store: IndexStore) -> DocumentCatalog:
    """The documents of an open index version, made once per store."""
    with _CATALOGS_LOCK:
        found = _CATALOGS.get(store)
        if found is None:
            found = _CATALOGS[store] = DocumentCatalog.of(store.manifest, store.chunks)
        return found


def resolve_documents(manifest: Manifest | None, documents: str | Sequence[str] | None) -> tuple[str, ...]:
    """Check `documents` against an index's manifest before anything loads (ids, in index order).

    A missing index, or a manifest listing no documents, is left for opening the index to report.
    """
    patterns = check_patterns(documents)
    if not patterns or manifest is None or not manifest.documents:
        return ()
    return DocumentCatalog.of(manifest).resolve(patterns)


def search_rows(store: IndexStore, query: str | Vectors, want: int, rows: frozenset[int]) -> SearchResult:
    """The exact top `want` of `rows`: by cosine over their stored vectors (a vector query), or by BM25
    over their postings (a text query). Cheap for the few rows a document filter leaves."""
    ordered = np.fromiter(sorted(rows), dtype=np.int64, count=len(rows))
    if isinstance(query, str):
        return store.lexical.search_rows(query, ordered, want)
    scores: Any = store.vectors(ordered.tolist()) @ np.asarray(query, dtype=np.float32).reshape(-1)
    top = np.lexsort((ordered, -scores))[:want]
    return SearchResult(tuple(int(r) for r in ordered[top]), tuple(float(s) for s in scores[top]))
