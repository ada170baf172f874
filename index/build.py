"""Build or update an index folder from documents, re-embedding only what changed."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from index import space
from index.chunking import Chunker, ChunkerSettings
from index.documents import DEFAULT_MAX_FILE_BYTES, SUPPORTED_SUFFIXES
from index.embedding import (
    DEFAULT_EMBEDDER,
    Embedder,
    EmbeddingCache,
    EncodeMissing,
    Vectors,
    embed_with_cache,
    get_embedder,
)
from index.engine import BuildEngine
from index.lexical import LEXICAL_SETTINGS
from index.planning import LARGE_FILE_CHUNKS, Plan, Previous, Progress, local_reader, plan_files, read_in_order
from index.sections import CHUNK_CONTEXT
from index.store import (
    FAISS_KINDS,
    FORMAT_VERSION,
    DiskFull,
    IndexMismatch,
    StoreError,
    current_version,
    faiss_settings,
    prune_versions,
    read_chunks,
    read_manifest,
    write_version,
)
from index.types import Chunk, Counts, EmbedderInfo, IndexReport, Manifest
from index.walk import list_files

__all__ = ["LARGE_FILE_CHUNKS", "NothingToIndex", "Progress", "add_root", "build_index", "prune_unused"]


class NothingToIndex(ValueError):
    """No file of the source gave a document: no version is written, the current one stays."""


def _nothing_indexed(src: Path, out: Path, plan: Plan) -> str:
    shown = "; ".join(f"{s.path}: {s.reason}" for s in plan.skipped[:3])
    more = f"; and {len(plan.skipped) - 3} more" if len(plan.skipped) > 3 else ""
    found = f"every file was skipped ({shown}{more})" if plan.skipped else "there are no files"
    kept = "No index was written"
    if current_version(out):
        kept = f"No version was written; the index at {out} is unchanged"
    return (
        f"Nothing to index in {src}: {found}. Supported: {' '.join(SUPPORTED_SUFFIXES)}, and text files without "
        f"an extension. {kept}."
    )


@contextmanager
def _locked(index_dir: Path) -> Iterator[None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError(f"Another indexing run is writing to {index_dir}; wait for it to finish.") from None
        yield


def prune_unused(index_dir: str | Path) -> bool:
    """Delete superseded versions that no process has open; True when none is left.

    For long-lived readers (the chat) after they move to a new version: the version they
    let go of is removed now rather than at the next build. A running build prunes itself.
    """
    out = Path(index_dir)
    try:
        with _locked(out):
            current = os.readlink(out / "current") if (out / "current").is_symlink() else None
            prune_versions(out, keep=(current,) if current else ())
    except (StoreError, OSError):
        return False
    return not any(p.name[1:].isdigit() and p.name != current and p.is_dir() for p in out.iterdir())


def _previous_chunks(index_dir: Path) -> dict[str, list[Chunk]]:
    version = current_version(index_dir)
    by_doc: dict[str, list[Chunk]] = {}
    for chunk in read_chunks(version / "chunks.jsonl") if version else []:
        by_doc.setdefault(chunk.doc_id, []).append(chunk)
    return by_doc


def build_index(
    source: str | Path,
    index_dir: str | Path,
    *,
    embedder: Embedder | str | None = None,
    settings: ChunkerSettings | None = None,
    faiss_kind: str = "auto",
    rebuild: bool = False,
    replace: bool = False,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    progress: Progress | None = None,
    extra_roots: Sequence[str | Path] | None = None,
    follow_links: bool = False,
    large_file_chunks: int = LARGE_FILE_CHUNKS,
    on_warning: Callable[[str], None] | None = None,
    engine: BuildEngine | None = None,
) -> IndexReport:
    """Mirror `source` (a folder or one file) into `index_dir`, incrementally.

    Unchanged documents keep their chunks; only new text is embedded (cache by model
    and text hash). The new version becomes visible only once completely written.
    `extra_roots` are more folders mirrored beside `source` (e.g. a chat's uploads), their
    document ids prefixed with the folder's name; None keeps the ones the index records.
    A symbolic link leading outside its folder is skipped unless `follow_links` (see `list_files`).
    `engine` runs reading, embedding and the FAISS and BM25 build elsewhere (a Ray cluster:
    index/ray_engine.py); the same rules decide what is read and embedded, and the version is written here.
    """
    started = time.perf_counter()
    src, out = Path(source).resolve(), Path(index_dir)
    if not src.exists():
        raise FileNotFoundError(f"Nothing to index at {src}: give an existing folder or file.")
    if faiss_kind not in FAISS_KINDS:
        raise ValueError(f"faiss_kind='{faiss_kind}' is not one of: {', '.join(FAISS_KINDS)}")
    t0 = time.perf_counter()
    emb = get_embedder(embedder or _embedder_name(out, rebuild)) if isinstance(embedder, str | None) else embedder
    settings = settings or ChunkerSettings()
    stages: dict[str, float] = {"model": time.perf_counter() - t0}
    with _locked(out):
        _clean_leftovers(out)
        roots = _extra_roots(extra_roots, read_manifest(out))
        old = None if rebuild else read_manifest(out)
        reason = _reuse_blocker(old, emb, settings, src, out, replace)
        previous = Previous({}, {}, {})
        if old and not reason:
            previous = Previous(old.files, old.documents, _previous_chunks(out))
        chunker = Chunker(settings, limit_counter=emb.count_tokens, limit=emb.max_tokens)
        sources = [(src, src), *((r, r.parent) for r in roots)]
        plan = Plan(large_file_chunks=large_file_chunks, on_warning=on_warning)
        one = local_reader(chunker, max_file_bytes, progress)
        read = engine.reader(emb, settings, max_file_bytes) if engine else read_in_order(one)
        plan_files(plan, _listed(sources, plan, follow_links), previous, read, stages, progress, one)
        if not plan.documents:
            raise NothingToIndex(_nothing_indexed(src, out, plan))
        removed = sorted(set(old.documents) - set(plan.documents)) if old and not reason else []
        nothing_changed = (
            old is not None
            and not reason
            and not (plan.added or plan.updated or removed)
            and plan.files == old.files
            and old.faiss.requested == faiss_kind
            and old.extra_roots == tuple(str(r) for r in roots)
            and old.follow_links == follow_links
        )
        if nothing_changed:
            # The current version already is this index: writing a copy would only cost time.
            version, embedded = str(os.readlink(out / "current")), 0
        else:
            t0 = time.perf_counter()
            vectors, embedded = _embed(emb, plan.chunks, out, progress, engine.encoder(emb) if engine else None)
            stages["embed"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            manifest = _manifest(emb, settings, faiss_kind, src, roots, plan, follow_links)
            parts = engine.parts(plan.chunks, vectors, faiss_settings(faiss_kind, len(vectors))) if engine else None
            version = write_version(out, plan.chunks, vectors, manifest, faiss_kind, parts=parts)
            stages["write"] = time.perf_counter() - t0
    return IndexReport(
        index_dir=str(out),
        version=version,
        documents=len(plan.documents),
        chunks=len(plan.chunks),
        added=tuple(plan.added),
        updated=tuple(plan.updated),
        removed=tuple(removed),
        unchanged=plan.unchanged,
        skipped=tuple(plan.skipped),
        warnings=tuple(plan.warnings),
        embedded_chunks=embedded,
        cached_chunks=len(plan.chunks) - embedded,
        seconds=time.perf_counter() - started,
        stage_seconds=stages,
        full_rebuild_reason=reason if old else "",
    )


def _clean_leftovers(out: Path) -> None:
    """Partial versions of a crashed build; safe while holding the lock."""
    link = out / "current"
    prune_versions(out, keep=(os.readlink(link),) if link.is_symlink() else ())


def _listed(
    sources: Sequence[tuple[Path, Path]], plan: Plan, follow_links: bool
) -> list[tuple[Path, Path, Path | None]]:
    """Every file of `sources` as (file, the root its id is relative to, folder it must stay inside):
    an extra root's ids start with its folder name."""
    files: list[tuple[Path, Path, Path | None]] = []
    for folder, base in sources:
        found, skipped_links = list_files(folder, base, follow_links=follow_links)
        real = folder.resolve()
        boundary = None if follow_links else real if real.is_dir() else real.parent  # a file given alone
        files.extend((path, base, boundary) for path in found)
        plan.skipped.extend(skipped_links)
    return files


def _embed(
    emb: Embedder, chunks: list[Chunk], out: Path, progress: Progress | None, encode: EncodeMissing | None = None
) -> tuple[Vectors, int]:
    cache = EmbeddingCache(out / "embeddings-cache" / "cache.sqlite")
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress:
            progress("embed", done[0], len(chunks))

    try:
        return embed_with_cache(emb, [c.indexed_text for c in chunks], cache, progress=tick, encode_missing=encode)
    except sqlite3.OperationalError as exc:
        if not space.is_disk_full(exc):
            raise
        raise DiskFull(
            f"The disk holding the embedding cache ({out / 'embeddings-cache'}) is full "
            f"({space.megabytes(space.free_bytes(out))} free). The vectors embedded so far are kept; free some "
            "space and run again to go on from there. The previous version is unchanged."
        ) from None
    finally:
        cache.close()


def _embedder_name(out: Path, rebuild: bool) -> str:
    """An update keeps the index's own embedder, so a changed default never forces a re-embed;
    a rebuild (or a new index) takes the default."""
    old = None if rebuild else read_manifest(out)
    return old.embedder.name if old else DEFAULT_EMBEDDER


def _reuse_blocker(
    old: Manifest | None, emb: Embedder, settings: ChunkerSettings, src: Path, out: Path, replace: bool
) -> str:
    """Why the previous version's chunks cannot be reused ('' when they can)."""
    if old is None:
        return ""
    built = old.embedder
    if old.format_version != FORMAT_VERSION:
        return "index format changed"
    if (built.name, built.dim) != (emb.name, emb.dim):
        raise IndexMismatch(
            f"Index at {out} was built with embedder '{built.name}' (dim {built.dim}); "
            f"you asked for '{emb.name}' (dim {emb.dim}). Add --rebuild to re-embed everything with "
            f"'{emb.name}', or use another --index folder."
        )
    if old.source != str(src) and not replace:
        raise IndexMismatch(
            f"Index at {out} mirrors {old.source}, not {src}. Use another --index folder for "
            "this source, or add --replace to replace its contents."
        )
    if old.chunker != settings:
        return "chunker settings changed"
    if old.lexical != LEXICAL_SETTINGS:
        return "lexical settings changed"
    if old.chunk_context != CHUNK_CONTEXT:  # re-chunked once; the embedding cache keeps unchanged texts' vectors
        return "chunks now carry their section heading"
    return ""


def _extra_roots(given: Sequence[str | Path] | None, recorded: Manifest | None) -> list[Path]:
    """Extra folders to mirror: the given ones, else those recorded; a vanished folder's documents go."""
    names = given if given is not None else recorded.extra_roots if recorded else ()
    roots = list(dict.fromkeys(Path(r).resolve() for r in names))
    return [r for r in roots if r.is_dir()]


def add_root(
    index_dir: str | Path, root: str | Path, *, embedder: Embedder | None = None, progress: Progress | None = None
) -> IndexReport:
    """Mirror `root` too, keeping the index's source and settings (an absent index gets `root` as its source)."""
    out, folder = Path(index_dir), Path(root).resolve()
    old = read_manifest(out)
    if old is None:
        return build_index(folder, out, embedder=embedder, progress=progress)
    roots = [Path(r) for r in old.extra_roots]
    if folder != Path(old.source) and folder not in roots:
        roots.append(folder)
    return build_index(
        old.source,
        out,
        embedder=embedder or old.embedder.name,
        settings=old.chunker,
        faiss_kind=old.faiss.requested,
        progress=progress,
        extra_roots=roots,
        follow_links=old.follow_links,
    )


def _manifest(
    emb: Embedder,
    settings: ChunkerSettings,
    kind: str,
    src: Path,
    roots: Sequence[Path],
    plan: Plan,
    follow_links: bool,
) -> Manifest:
    return Manifest(
        format_version=FORMAT_VERSION,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        source=str(src),
        embedder=EmbedderInfo(emb.name, emb.dim, emb.max_tokens),
        chunker=settings,
        lexical=LEXICAL_SETTINGS,
        chunk_context=CHUNK_CONTEXT,
        faiss=faiss_settings(kind, len(plan.chunks)),
        counts=Counts(len(plan.files), len(plan.documents), len(plan.chunks)),
        files=plan.files,
        documents=plan.documents,
        extra_roots=tuple(str(r) for r in roots),
        follow_links=follow_links,
    )
