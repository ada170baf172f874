"""One folder per index: versioned, atomically switched, checked against its manifest.

INDEX_DIR/current -> vNNNN          the commit point, switched by an atomic rename
INDEX_DIR/vNNNN/manifest.json      format, embedder, chunker, counts, fingerprints
INDEX_DIR/vNNNN/vectors.faiss      inner product on normalized vectors
INDEX_DIR/vNNNN/chunks.jsonl       chunk records, row i = FAISS id i = BM25 doc i
INDEX_DIR/vNNNN/bm25/              bm25s files
INDEX_DIR/embeddings-cache/        vectors by model + text hash
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from index.embedding import Vectors
from index.lexical import LexicalIndex
from index.types import Chunk, SearchResult

FORMAT_VERSION = 1
FAISS_KINDS = ("flat", "hnsw")
_VERSION_RE = re.compile(r"^v(\d{4,})$")


class StoreError(Exception):
    """Base for index problems; the message says how to fix them."""


class IndexNotFound(StoreError):
    pass


class IndexMismatch(StoreError):
    pass


def _faiss() -> Any:
    # OpenBLAS misdetects this CPU family and picks a slow kernel (perf-notes.md).
    os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX")
    import faiss

    return faiss


def current_version(index_dir: Path) -> Path | None:
    link = index_dir / "current"
    if not link.is_symlink() and not link.exists():
        return None
    target = index_dir / os.readlink(link) if link.is_symlink() else link
    return target if (target / "manifest.json").is_file() else None


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    version = current_version(index_dir)
    if version is None:
        return None
    data: dict[str, Any] = json.loads((version / "manifest.json").read_text("utf-8"))
    return data


def build_faiss(vectors: Vectors, kind: str) -> Any:
    faiss = _faiss()
    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 200
    else:
        raise ValueError(f"Unknown FAISS index kind '{kind}'. Choose one of: {', '.join(FAISS_KINDS)}")
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def write_version(
    index_dir: Path, chunks: Sequence[Chunk], vectors: Vectors, manifest: dict[str, Any], kind: str
) -> str:
    """Write a complete new version beside the old one, then switch `current` to it."""
    index_dir.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in index_dir.iterdir() if (m := _VERSION_RE.match(p.name))]
    name = f"v{max(numbers, default=0) + 1:04d}"
    tmp = index_dir / f".tmp-{name}-{os.getpid()}"
    tmp.mkdir()
    with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
    _faiss().write_index(build_faiss(vectors, kind), str(tmp / "vectors.faiss"))
    LexicalIndex.build([c.indexed_text for c in chunks]).save(tmp / "bm25")
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False), "utf-8")
    _fsync_tree(tmp)
    os.rename(tmp, index_dir / name)
    link_tmp = index_dir / f".current-{os.getpid()}"
    if link_tmp.is_symlink():
        link_tmp.unlink()
    os.symlink(name, link_tmp)
    os.replace(link_tmp, index_dir / "current")
    _fsync_dir(index_dir)
    prune_versions(index_dir, keep=(name,))
    return name


def prune_versions(index_dir: Path, keep: Sequence[str]) -> None:
    """Remove superseded versions and leftovers of crashed builds."""
    for path in index_dir.iterdir():
        if path.name.startswith(".tmp-") or (_VERSION_RE.match(path.name) and path.name not in keep):
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


def check_compatible(manifest: dict[str, Any], index_dir: Path, embedder: str | None, dim: int | None) -> None:
    fmt = manifest.get("format_version")
    if fmt != FORMAT_VERSION:
        raise IndexMismatch(
            f"Index at {index_dir} has format version {fmt}; this version reads {FORMAT_VERSION}. "
            f"Rebuild it: rag index SOURCE --index {index_dir} --rebuild"
        )
    built = manifest["embedder"]
    if (embedder and embedder != built["name"]) or (dim and dim != built["dim"]):
        raise IndexMismatch(
            f"Index at {index_dir} was built with embedder '{built['name']}' (dim {built['dim']}), "
            f"not '{embedder or built['name']}' (dim {dim or built['dim']}). Either use embedder "
            f"'{built['name']}', or rebuild: rag index SOURCE --index {index_dir} --embedder "
            f"{embedder or built['name']} --rebuild"
        )


class IndexStore:
    """A loaded index version: chunk records, FAISS vectors and BM25, read-only."""

    def __init__(self, index_dir: Path, version: Path, manifest: dict[str, Any]) -> None:
        self.index_dir = index_dir
        self.version = version.name
        self.manifest = manifest
        self.chunks: list[Chunk] = read_chunks(version / "chunks.jsonl")
        self._faiss = _faiss().read_index(str(version / "vectors.faiss"))
        if manifest["faiss"]["kind"] == "hnsw":
            self._faiss.hnsw.efSearch = int(manifest["faiss"].get("ef_search", 128))
        self.lexical = LexicalIndex.load(version / "bm25", len(self.chunks))
        if self._faiss.ntotal != len(self.chunks):
            raise IndexMismatch(
                f"Index at {index_dir} is inconsistent ({self._faiss.ntotal} vectors, {len(self.chunks)} "
                f"chunks). Rebuild it: rag index SOURCE --index {index_dir} --rebuild"
            )

    @classmethod
    def open(cls, index_dir: str | Path, *, embedder: str | None = None, dim: int | None = None) -> IndexStore:
        path = Path(index_dir)
        version = current_version(path)
        if version is None:
            raise IndexNotFound(f"No index at {path}. Build one first: rag index PATH/TO/DOCS --index {path}")
        manifest = json.loads((version / "manifest.json").read_text("utf-8"))
        check_compatible(manifest, path, embedder, dim)
        return cls(path, version, manifest)

    @property
    def embedder_name(self) -> str:
        return str(self.manifest["embedder"]["name"])

    @property
    def dim(self) -> int:
        return int(self.manifest["embedder"]["dim"])

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

    def vectors(self) -> Vectors:
        """All stored vectors (row order); exact for the flat and HNSW-flat kinds."""
        n = self._faiss.ntotal
        return np.asarray(self._faiss.reconstruct_n(0, n), dtype=np.float32).reshape(n, self.dim)


def read_chunks(path: Path) -> list[Chunk]:
    with open(path, encoding="utf-8") as fh:
        return [Chunk(**json.loads(line)) for line in fh if line.strip()]
