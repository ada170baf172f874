"""What a build indexes: each listed file either reused from the previous version or read (loaded, and
its new or changed documents chunked), assembled in listing order.

The local build reads files one after the other in this process; the Ray engine (index/ray_engine.py)
reads the same `PendingFile`s in cluster tasks with the same `read_file`. Both are assembled by
`plan_files`, so chunk ids, order and texts, and the manifest's fingerprints, cannot differ between them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from index.chunking import Chunker
from index.documents import load_file
from index.types import Chunk, Document, DocumentEntry, FileEntry, SkippedFile
from index.walk import relative_id

Progress = Callable[[str, int, int], None]  # (stage, done, total)
# A file over this many chunks gets a warning with its embedding time, at the rate the torch
# MiniLM embedder measured on this 2-core box (docs/benchmarks.md, indexing: about 24 chunks/s).
LARGE_FILE_CHUNKS = 20_000
EMBED_CHUNKS_PER_SECOND = 24.0
# Chunking runs at about 3-4 MB of text a second here (a one-line 12 MB file: 3.2 s); a document longer
# than this shows a bar of its own while it is cut.
CHUNK_PROGRESS_CHARS = 1_000_000


@dataclass(frozen=True)
class PendingFile:
    """A listed file that must be read. `known` maps document ids to the fingerprints the previous
    version holds chunks for: such a document, unchanged, is not chunked again."""

    position: int  # in the listing
    path: str
    base: str  # document ids are relative to it
    boundary: str | None  # the folder it must stay inside (None: links are followed on purpose)
    known: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadDocument:
    id: str
    title: str
    sha256: str
    ocr_pages: tuple[int, ...]
    chunks: tuple[Chunk, ...] | None  # None: its fingerprint is `known`, the previous chunks stand


@dataclass(frozen=True)
class FileRead:
    """What reading one `PendingFile` gave."""

    position: int
    documents: tuple[ReadDocument, ...]
    skipped: tuple[SkippedFile, ...]
    notes: tuple[str, ...]
    load_seconds: float
    chunk_seconds: float


# Reads `pending` (in listing order) and yields one FileRead for each, in the same order.
Reader = Callable[[Sequence[PendingFile]], Iterable[FileRead]]


def fingerprint(doc: Document) -> str:
    return hashlib.sha256(f"{doc.title}\x00{doc.text}".encode()).hexdigest()


def read_file(file: PendingFile, chunker: Chunker, max_file_bytes: int, progress: Progress | None = None) -> FileRead:
    """Load one file and chunk its documents whose fingerprint is not `known`."""
    t0 = time.perf_counter()
    boundary = None if file.boundary is None else Path(file.boundary)
    loaded = load_file(Path(file.path), Path(file.base), max_file_bytes, boundary=boundary)
    load_s, t0 = time.perf_counter() - t0, time.perf_counter()
    documents = []
    for doc in loaded.documents:
        fp = fingerprint(doc)
        chunks = None
        if file.known.get(doc.id) != fp:
            chunks = tuple(chunker.chunk(doc, chunk_progress(progress, len(doc.text))))
        documents.append(ReadDocument(doc.id, doc.title, fp, doc.ocr_pages, chunks))
    chunk_s = time.perf_counter() - t0
    return FileRead(file.position, tuple(documents), tuple(loaded.skipped), tuple(loaded.notes), load_s, chunk_s)


def chunk_progress(progress: Progress | None, chars: int) -> Callable[[int, int], None] | None:
    if progress is None or chars < CHUNK_PROGRESS_CHARS:
        return None
    return lambda done, total: progress("chunk", done, total)


@dataclass
class Plan:
    chunks: list[Chunk] = field(default_factory=list)
    files: dict[str, FileEntry] = field(default_factory=dict)
    documents: dict[str, DocumentEntry] = field(default_factory=dict)
    skipped: list[SkippedFile] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)
    large_file_chunks: int = 0  # a file yielding more chunks than this gets a warning (0: never)
    on_warning: Callable[[str], None] | None = None

    def warn_if_large(self, rel: str, new_chunks: int) -> None:
        if not self.large_file_chunks or new_chunks <= self.large_file_chunks:
            return
        minutes = new_chunks / EMBED_CHUNKS_PER_SECOND / 60
        message = (
            f"{rel} yields {new_chunks:,} chunks (over {self.large_file_chunks:,}): embedding them takes about "
            f"{minutes:.0f} minutes on a 2-core CPU. Press Ctrl-C to stop (vectors embedded so far are cached), "
            "or split the file, or index only what you need."
        )
        self.warnings.append(message)
        if self.on_warning:
            self.on_warning(message)


@dataclass(frozen=True)
class Previous:
    """The previous version's manifest entries and chunks that this build may reuse (empty: none)."""

    files: Mapping[str, FileEntry]
    documents: Mapping[str, DocumentEntry]
    chunks: Mapping[str, list[Chunk]]  # by document id

    def known(self, rel: str | None = None) -> Mapping[str, str]:
        """Fingerprints of the reusable documents: of file `rel` only (what a cluster task is sent), or all."""
        ids = self.documents if rel is None else self.files[rel].documents if rel in self.files else ()
        return {d: self.documents[d].sha256 for d in ids if d in self.chunks and d in self.documents}


def plan_files(
    plan: Plan,
    files: Sequence[tuple[Path, Path, Path | None]],
    previous: Previous,
    read: Reader,
    stages: dict[str, float],
    progress: Progress | None,
    local: Callable[[PendingFile], FileRead],
) -> Plan:
    """Assemble `files` (file, id base, boundary), in order: a file whose size and time are as before
    keeps its documents; the others are read by `read` (all at once) or, when reuse fails late, `local`."""
    stats: list[FileEntry | SkippedFile] = []  # FileEntry without documents: the size and time seen now
    pending: dict[int, PendingFile] = {}
    for n, (path, base, boundary) in enumerate(files):
        rel = relative_id(path, base)
        try:
            stat = path.stat() if boundary is None else path.lstat()
        except OSError as exc:  # removed between the listing and now
            stats.append(SkippedFile(rel, f"unreadable: {exc.strerror or exc}"))
            continue
        stats.append(FileEntry(stat.st_size, stat.st_mtime_ns, ()))
        seen = previous.files.get(rel)
        if seen is None or (seen.size, seen.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
            pending[n] = _pending(n, files[n], previous.known(rel))
    # The local reader is lazy: each file is read just before it is assembled, so warnings come in order.
    reads = iter(read(list(pending.values())))
    load_s = chunk_s = 0.0
    for n, entry in enumerate(stats):
        if isinstance(entry, SkippedFile):
            plan.skipped.append(entry)
            continue
        rel = relative_id(files[n][0], files[n][1])
        if n not in pending and _reuse_file(plan, rel, previous):
            continue
        got = next(reads) if n in pending else local(_pending(n, files[n], previous.known(rel)))
        if got.position != n:  # a reader that lost or reordered a file must not shift every chunk after it
            raise RuntimeError(f"files were read out of order: expected file {n}, got {got.position}")
        _add_read(plan, rel, entry, got, previous)
        load_s, chunk_s = load_s + got.load_seconds, chunk_s + got.chunk_seconds
        if progress:
            progress("load", n + 1, len(files))
    stages["load"], stages["chunk"] = load_s, chunk_s
    return plan


def _pending(n: int, file: tuple[Path, Path, Path | None], known: Mapping[str, str]) -> PendingFile:
    path, base, boundary = file
    return PendingFile(n, str(path), str(base), None if boundary is None else str(boundary), known)


def _add_read(plan: Plan, rel: str, stat: FileEntry, got: FileRead, previous: Previous) -> None:
    plan.skipped.extend(got.skipped)
    plan.warnings.extend(got.notes)
    doc_ids: list[str] = []
    new_chunks = 0
    for doc in got.documents:
        if doc.id in plan.documents:
            plan.skipped.append(SkippedFile(doc.id, "duplicate document id"))
            continue
        doc_ids.append(doc.id)
        before = previous.documents.get(doc.id)
        if before and before.sha256 == doc.sha256 and doc.id in previous.chunks:
            chunks: Sequence[Chunk] = previous.chunks[doc.id]
            plan.unchanged += 1
        elif doc.chunks is None:
            raise RuntimeError(f"{doc.id} was read as unchanged, but the previous version has no chunks for it")
        else:
            chunks = doc.chunks
            new_chunks += len(chunks)
            (plan.updated if before else plan.added).append(doc.id)
        plan.chunks.extend(chunks)
        plan.documents[doc.id] = DocumentEntry(doc.sha256, len(chunks), doc.title, doc.ocr_pages)
    plan.warn_if_large(rel, new_chunks)
    if doc_ids:
        plan.files[rel] = FileEntry(stat.size, stat.mtime_ns, tuple(doc_ids))


def _reuse_file(plan: Plan, rel: str, previous: Previous) -> bool:
    seen = previous.files.get(rel)
    if seen is None:
        return False
    doc_ids = seen.documents
    if not all(d in previous.chunks and d in previous.documents and d not in plan.documents for d in doc_ids):
        return False
    for doc_id in doc_ids:
        plan.chunks.extend(previous.chunks[doc_id])
        plan.documents[doc_id] = previous.documents[doc_id]
    plan.files[rel] = seen
    plan.unchanged += len(doc_ids)
    return True


def local_reader(chunker: Chunker, max_file_bytes: int, progress: Progress | None) -> Callable[[PendingFile], FileRead]:
    """Reads one file in this process (what the local build does for every file)."""
    return lambda file: read_file(file, chunker, max_file_bytes, progress)


def read_in_order(one: Callable[[PendingFile], FileRead]) -> Reader:
    def read(pending: Sequence[PendingFile]) -> Iterator[FileRead]:
        return (one(file) for file in pending)

    return read
