"""One folder per index: versioned, atomically switched, checked against its manifest.

INDEX_DIR/current -> vNNNN          the commit point, switched by an atomic rename
INDEX_DIR/vNNNN/manifest.json      format, embedder, chunker, counts, fingerprints
INDEX_DIR/vNNNN/vectors.faiss      inner product on normalized vectors (flat, IVF or HNSW: manifest "faiss")
INDEX_DIR/vNNNN/chunks.jsonl       chunk records, one JSON object a line, row i = FAISS id i = BM25 doc i
INDEX_DIR/vNNNN/chunks.offsets.npy uint64[rows + 1]: byte offset where line i starts, then the file size
INDEX_DIR/vNNNN/bm25/              bm25s files, term bounds, each row's term ids and text digest
INDEX_DIR/embeddings-cache/        vectors by model + text hash
INDEX_DIR/logs/                    the question log (rag/question_log.py); pruning never touches it
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from index import leases, space

# read_chunks is re-exported: index.build reads the previous version's records through it.
from index.chunk_table import ChunkTable, write_chunks
from index.chunk_table import read_chunks as read_chunks
from index.embedding import Vectors
from index.leases import VersionLease
from index.lexical import LEXICAL_SETTINGS, LexicalIndex
from index.types import Chunk, FaissSettings, Manifest, SearchResult

# 2: chunk records are looked up through chunks.offsets.npy instead of parsed at open.
FORMAT_VERSION = 2
FAISS_KINDS = ("auto", "flat", "ivf", "hnsw")
# "auto" thresholds, measured in docs/benchmarks.md (section scale): exact search costs
# ~130-190 ms per query per million chunks on one thread of this box, so up to
# FLAT_MAX_CHUNKS it stays at a few ms with recall 1. Above, IVF (2 sqrt(n) lists, nprobe
# IVF_NPROBE) answers in ~1-3 ms at 1M with recall@10 >= 0.99 on clustered synthetic vectors
# (0.96 on real MiniLM vectors at 11k chunks, where 16 probes are 7.6% of the lists).
# HNSW builds far slower (minutes per million) and perf-notes measured lower recall, so
# auto never picks it; it stays selectable.
FLAT_MAX_CHUNKS = 50_000
IVF_NPROBE = 16
_OPEN_ATTEMPTS = 5
_VERSION_RE = re.compile(r"^v(\d{4,})$")


class StoreError(Exception):
    """Base for index problems; the message says how to fix them."""


class IndexNotFound(StoreError):
    pass


class IndexMismatch(StoreError):
    pass


class DiskFull(StoreError):
    """A write ran out of room; nothing half-written is left behind and the previous version stays current."""


def _faiss() -> Any:
    """faiss, imported on first use. Which OpenBLAS kernel and how many threads it uses are the
    process's choice, made by its entry point before this loads (index.runtime.configure_process)."""
    import faiss

    return faiss


def current_version(index_dir: Path) -> Path | None:
    link = index_dir / "current"
    if not link.is_symlink() and not link.exists():
        return None
    target = index_dir / os.readlink(link) if link.is_symlink() else link
    return target if (target / "manifest.json").is_file() else None


def current_name(index_dir: Path) -> str | None:
    """The name of the version `current` points at (no file is read), or None."""
    try:
        return os.readlink(index_dir / "current")
    except OSError:
        return None


def read_manifest(index_dir: Path) -> Manifest | None:
    version = current_version(index_dir)
    return None if version is None else _load_manifest(version)


def _load_manifest(version: Path) -> Manifest:
    return Manifest.from_json(json.loads((version / "manifest.json").read_text("utf-8")))


def faiss_settings(kind: str, rows: int) -> FaissSettings:
    """The manifest's "faiss" entry for `kind` over `rows` vectors; "auto" resolved by size."""
    if kind not in FAISS_KINDS:
        raise ValueError(f"Unknown FAISS index kind '{kind}'. Choose one of: {', '.join(FAISS_KINDS)}")
    resolved = ("flat" if rows <= FLAT_MAX_CHUNKS else "ivf") if kind == "auto" else kind
    if resolved == "hnsw":
        return FaissSettings(resolved, kind, m=32, ef_construction=200, ef_search=128)
    if resolved == "ivf":
        # 2 sqrt(n) lists (2,000 at 1M): 4 sqrt(n) trains 3x slower for no recall we need;
        # k-means wants a few dozen points per list, 40 is enough.
        nlist = max(1, min(rows // 39, round(2 * math.sqrt(rows))))
        nprobe, train_rows = min(nlist, IVF_NPROBE), min(rows, 40 * nlist)
        return FaissSettings(resolved, kind, nlist=nlist, nprobe=nprobe, train_rows=train_rows)
    return FaissSettings(resolved, kind)


def build_faiss(vectors: Vectors, kind: str | FaissSettings) -> Any:
    """A FAISS index over `vectors` (inner product): a kind name or a `faiss_settings` entry."""
    settings = faiss_settings(kind, len(vectors)) if isinstance(kind, str) else kind
    index = trained_faiss(vectors, settings)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def trained_faiss(vectors: Vectors, settings: FaissSettings) -> Any:
    """The empty index `build_faiss` fills: IVF's quantizer trained on its fixed sample of `vectors`.
    Shards (index/shards.py) each fill a copy and are merged into one."""
    faiss = _faiss()
    rows, dim = vectors.shape
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    if settings.kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif settings.kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, settings.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings.ef_construction
        index.hnsw.efSearch = settings.ef_search
    else:
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, settings.nlist, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).choice(rows, settings.train_rows, replace=False)
        index.train(data[np.sort(sample)])
        index.nprobe = settings.nprobe
    return index


@dataclass(frozen=True)
class VersionParts:
    """A version's FAISS index and BM25, built by the caller (merged from shards) instead of by `write_version`."""

    faiss: Any
    lexical: LexicalIndex


def read_faiss(path: Path, settings: FaissSettings) -> Any:
    """Memory-mapped: IVF lists (IO_FLAG_MMAP) or flat codes (IO_FLAG_MMAP_IFC) page in on demand."""
    faiss = _faiss()
    kind = settings.kind
    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP if kind == "ivf" else faiss.IO_FLAG_MMAP_IFC)
    if kind == "hnsw":
        index.hnsw.efSearch = 128 if settings.ef_search is None else settings.ef_search
    elif kind == "ivf":
        index.nprobe = settings.nprobe
    return index


def write_version(
    index_dir: Path,
    chunks: Sequence[Chunk],
    vectors: Vectors,
    manifest: Manifest,
    kind: str,
    stage_seconds: dict[str, float] | None = None,
    *,
    parts: VersionParts | None = None,
) -> str:
    """Write a complete new version beside the old one, then switch `current` to it.

    `kind` is resolved by size ("auto") and recorded as the manifest's `faiss`; `format_version` is stamped.
    `stage_seconds`, when given, receives the time of each part (records, faiss, bm25, sync).
    `parts`, when given, are written as they are (they must be built with the manifest's FAISS settings).
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    settings = faiss_settings(kind, len(vectors))
    manifest = replace(manifest, format_version=FORMAT_VERSION, faiss=settings)
    numbers = [int(m.group(1)) for p in index_dir.iterdir() if (m := _VERSION_RE.match(p.name))]
    name = f"v{max(numbers, default=0) + 1:04d}"
    tmp = index_dir / f".tmp-{name}-{os.getpid()}"
    need = space.version_bytes(chunks, manifest.embedder.dim)
    if space.free_bytes(index_dir) < need:
        raise DiskFull(_full_message(index_dir, need))
    times = stage_seconds if stage_seconds is not None else {}
    try:
        tmp.mkdir()
        _write_files(tmp, index_dir, chunks, vectors, manifest, times, parts)
    except BaseException as exc:  # an unfinished version must not hold the space it took
        shutil.rmtree(tmp, ignore_errors=True)
        if space.is_disk_full(exc):
            raise DiskFull(_full_message(index_dir, need)) from None
        raise
    os.rename(tmp, index_dir / name)
    link_tmp = index_dir / f".current-{os.getpid()}"
    if link_tmp.is_symlink():
        link_tmp.unlink()
    os.symlink(name, link_tmp)
    os.replace(link_tmp, index_dir / "current")
    _fsync_dir(index_dir)
    prune_versions(index_dir, keep=(name,))
    return name


def _write_files(
    tmp: Path,
    index_dir: Path,
    chunks: Sequence[Chunk],
    vectors: Vectors,
    manifest: Manifest,
    times: dict[str, float],
    parts: VersionParts | None,
) -> None:
    t0 = time.perf_counter()
    write_chunks(tmp, chunks)
    times["records"], t0 = time.perf_counter() - t0, time.perf_counter()
    vector_index = parts.faiss if parts else build_faiss(vectors, manifest.faiss)
    _faiss().write_index(vector_index, str(tmp / "vectors.faiss"))
    times["faiss"], t0 = time.perf_counter() - t0, time.perf_counter()
    texts = [c.indexed_text for c in chunks]
    lexical = parts.lexical if parts else LexicalIndex.build(texts, reuse=_reusable_lexical(index_dir))
    lexical.save(tmp / "bm25")
    times["bm25"], t0 = time.perf_counter() - t0, time.perf_counter()
    (tmp / "manifest.json").write_text(json.dumps(manifest.to_json(), indent=1, ensure_ascii=False), "utf-8")
    _fsync_tree(tmp)
    times["sync"] = time.perf_counter() - t0


def _full_message(index_dir: Path, need: int) -> str:
    return (
        f"The disk holding {index_dir} is full: this version needs about {space.megabytes(need)} and "
        f"{space.megabytes(space.free_bytes(index_dir))} is free. Free some space, or index into a folder on "
        "another disk with --index; the previous version is unchanged and still answers."
    )


def _reusable_lexical(index_dir: Path) -> Path | None:
    """The current version's BM25 folder, when its term ids were made with today's lexical settings."""
    manifest = read_manifest(index_dir)
    version = current_version(index_dir)
    if manifest is None or version is None or manifest.lexical != LEXICAL_SETTINGS:
        return None
    return version / "bm25"


def prune_versions(index_dir: Path, keep: Sequence[str]) -> None:
    """Remove superseded versions and leftovers of crashed builds; a version some process still
    has open (a running chat) stays until a later prune finds it free."""
    for path in index_dir.iterdir():
        if path.name.startswith(".tmp-") or (_VERSION_RE.match(path.name) and path.name not in keep):
            with leases.unused(path) as free:
                if free:
                    shutil.rmtree(path, ignore_errors=True)
        elif path.name.startswith(".current-") and path.is_symlink():
            path.unlink()


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_compatible(manifest: Manifest, index_dir: Path, embedder: str | None, dim: int | None) -> None:
    fmt = manifest.format_version
    if fmt != FORMAT_VERSION:
        raise IndexMismatch(
            f"Index at {index_dir} has format version {fmt}; this version reads {FORMAT_VERSION}. "
            f"Rebuild it: rag index SOURCE --index {index_dir} --rebuild"
        )
    built = manifest.embedder
    if (embedder and embedder != built.name) or (dim and dim != built.dim):
        raise IndexMismatch(
            f"Index at {index_dir} was built with embedder '{built.name}' (dim {built.dim}), "
            f"not '{embedder or built.name}' (dim {dim or built.dim}). Either use embedder "
            f"'{built.name}', or rebuild: rag index SOURCE --index {index_dir} --embedder "
            f"{embedder or built.name} --rebuild"
        )


class IndexStore:
    """A loaded index version: chunk records, FAISS vectors and BM25, read-only.

    Opening reads the manifest and maps the files; chunk records are parsed on access
    (`chunks` is a lazy sequence) and vectors page in as searches touch them.
    """

    def __init__(self, index_dir: Path, version: Path, manifest: Manifest, lease: VersionLease | None = None) -> None:
        self.index_dir = index_dir
        self.version = version.name
        self.manifest = manifest
        self._lease = lease  # keeps `version` from being pruned while this store is open
        self.chunks: Sequence[Chunk] = ChunkTable(version)
        self._faiss = read_faiss(version / "vectors.faiss", manifest.faiss)
        self._direct_map = False
        self.lexical = LexicalIndex.load(version / "bm25", len(self.chunks))
        if self._faiss.ntotal != len(self.chunks):
            raise IndexMismatch(
                f"Index at {index_dir} is inconsistent ({self._faiss.ntotal} vectors, {len(self.chunks)} "
                f"chunks). Rebuild it: rag index SOURCE --index {index_dir} --rebuild"
            )

    @classmethod
    def open(cls, index_dir: str | Path, *, embedder: str | None = None, dim: int | None = None) -> IndexStore:
        path = Path(index_dir)
        for _ in range(_OPEN_ATTEMPTS):  # a build may switch `current` and prune between our two steps
            version = current_version(path)
            if version is None:
                raise IndexNotFound(f"No index at {path}. Build one first: rag index PATH/TO/DOCS --index {path}")
            lease = leases.acquire(version)
            if lease is not None:
                break
        else:
            raise StoreError(f"The index at {path} kept changing while it was opened; try again.")
        manifest = _load_manifest(version)
        check_compatible(manifest, path, embedder, dim)
        return cls(path, version, manifest, lease)

    def is_current(self) -> bool:
        """Whether this store still is the index's `current` version (a cheap link read)."""
        return current_name(self.index_dir) == self.version

    def close(self) -> None:
        """Let a later build delete this version; searches after closing may fail."""
        if self._lease is not None:
            self._lease.release()

    @property
    def embedder_name(self) -> str:
        return self.manifest.embedder.name

    @property
    def dim(self) -> int:
        return self.manifest.embedder.dim

    @property
    def faiss_kind(self) -> str:
        """The FAISS index type in use: flat, ivf or hnsw."""
        return self.manifest.faiss.kind

    def __len__(self) -> int:
        return len(self.chunks)

    def search_dense(self, queries: Vectors, k: int) -> list[SearchResult]:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if queries.shape[1] != self.dim:
            raise ValueError(f"query vectors have dim {queries.shape[1]}, the index has {self.dim}")
        k = min(k, len(self.chunks))
        if k <= 0:
            return [SearchResult((), ()) for _ in range(len(queries))]
        scores, rows = self._faiss.search(queries, k)
        return [
            SearchResult(tuple(int(r) for r in row if r >= 0), tuple(float(s) for s, r in zip(srow, row) if r >= 0))
            for srow, row in zip(scores, rows)
        ]

    def search_lexical(self, queries: Sequence[str], k: int) -> list[SearchResult]:
        return self.lexical.search(queries, k)

    def vectors(self, rows: Sequence[int] | None = None) -> Vectors:
        """Stored vectors of `rows` (all rows when None), exact for every kind; at a
        million chunks ask for the rows you need: all of them are 1.5 GB."""
        if self.faiss_kind == "ivf" and not self._direct_map:
            self._faiss.make_direct_map()  # row -> list position, for reconstruct
            self._direct_map = True
        if rows is None:
            n = self._faiss.ntotal
            return np.asarray(self._faiss.reconstruct_n(0, n), dtype=np.float32).reshape(n, self.dim)
        wanted = np.asarray(rows, dtype=np.int64).reshape(-1)
        if not len(wanted):
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._faiss.reconstruct_batch(wanted), dtype=np.float32).reshape(len(wanted), self.dim)
