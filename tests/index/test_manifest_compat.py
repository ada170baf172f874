"""An index written before the manifest was typed opens, round-trips and updates unchanged."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import FrozenInstanceError, replace
from pathlib import Path
from typing import Any

import pytest

from index.build import build_index
from index.chunking import ChunkerSettings
from index.embedding import HashEmbedder
from index.lexical import LEXICAL_SETTINGS
from index.sections import CHUNK_CONTEXT
from index.store import FORMAT_VERSION, IndexStore, read_manifest
from index.types import Counts, DocumentEntry, EmbedderInfo, FaissSettings, FileEntry, Manifest

FIXTURE = Path(__file__).resolve().parent.parent / "data" / "index_v2"
FIXTURE_MTIME_NS = 1_700_000_000_000_000_000
SETTINGS = ChunkerSettings(chunk_tokens=40, overlap_tokens=8)

# The documents tests/data/index_v2 was built from (HashEmbedder(64), chunks of 40 tokens, overlap 8).
DOCS = {
    "alaska.txt": (
        "Alaska summit\n\n"
        "The Alaska summit met in Anchorage in August. Delegates discussed fishing quotas and the "
        "northern shipping lanes. The talks ended without a joint statement, but both sides agreed "
        "to meet again in the spring.\n"
    ),
    "guide/indexing.md": (
        "# Indexing a folder\n\n"
        "Run rag index PATH --index INDEX to mirror a folder. Only changed files are embedded again; "
        "unchanged documents keep their chunks and vectors. The new version becomes visible once it "
        "is completely written.\n"
    ),
    "facts.jsonl": (
        json.dumps(
            {"_id": "c1", "title": "Café au lait", "text": "Café au lait is coffee with hot milk, served in a bowl."},
            ensure_ascii=False,
        )
        + "\n"
        + json.dumps(
            {"_id": "c2", "title": "Glacier", "text": "A glacier is dense ice that moves under its own weight."}
        )
        + "\n"
    ),
}


def write_docs(folder: Path, mtime_ns: int = FIXTURE_MTIME_NS) -> Path:
    for rel, text in DOCS.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return folder


def _copy(tmp_path: Path) -> tuple[Path, Path]:
    """The fixture index and its documents under tmp_path; the copy's manifest names the copied folder."""
    docs, index = write_docs(tmp_path / "docs"), tmp_path / "index"
    shutil.copytree(FIXTURE, index, symlinks=True)
    link = index / "current"
    if not link.is_symlink():  # a checkout without symlinks holds the link as a file naming its target
        target = link.read_text().strip()
        link.unlink()
        link.symlink_to(target)
    path = index / "current" / "manifest.json"
    raw = json.loads(path.read_text("utf-8"))
    raw["source"] = str(docs.resolve())
    path.write_text(json.dumps(raw, indent=1, ensure_ascii=False), "utf-8")
    return docs, index


def _raw_manifest() -> tuple[str, dict[str, Any]]:
    text = (FIXTURE / "v0001" / "manifest.json").read_text("utf-8")
    return text, json.loads(text)


def test_checked_in_manifest_round_trips_byte_for_byte() -> None:
    text, raw = _raw_manifest()
    manifest = Manifest.from_json(raw)
    assert manifest.to_json() == raw
    assert json.dumps(manifest.to_json(), indent=1, ensure_ascii=False) == text
    assert Manifest.from_json(manifest.to_json()) == manifest


def test_typed_fields_of_a_version_2_index(tmp_path: Path) -> None:
    docs, index = _copy(tmp_path)
    manifest = read_manifest(index)
    assert manifest is not None
    assert manifest.format_version == FORMAT_VERSION == 2
    assert manifest.source == str(docs.resolve()) and manifest.created
    assert manifest.embedder == EmbedderInfo("hash-64", 64, 512)
    assert manifest.chunker == SETTINGS and manifest.lexical == LEXICAL_SETTINGS
    assert manifest.faiss == FaissSettings("flat", "auto", "inner_product")
    assert manifest.counts == Counts(files=3, documents=4, chunks=6)
    assert manifest.extra_roots == ()
    assert set(manifest.files) == set(DOCS)
    jsonl = manifest.files["facts.jsonl"]
    assert jsonl == FileEntry(len(DOCS["facts.jsonl"].encode()), FIXTURE_MTIME_NS, ("facts.jsonl#c1", "facts.jsonl#c2"))
    cafe = manifest.documents["facts.jsonl#c1"]
    assert isinstance(cafe, DocumentEntry) and cafe.title == "Café au lait" and cafe.chunks == 1
    assert sum(d.chunks for d in manifest.documents.values()) == manifest.counts.chunks
    with pytest.raises(FrozenInstanceError):
        manifest.source = "elsewhere"  # type: ignore[misc]
    with pytest.raises(TypeError):
        manifest.documents["new"] = cafe  # type: ignore[index]


def test_version_2_index_opens_and_searches(tmp_path: Path) -> None:
    _, index = _copy(tmp_path)
    store = IndexStore.open(index, embedder="hash-64", dim=64)
    assert (store.embedder_name, store.dim, store.faiss_kind, len(store)) == ("hash-64", 64, "flat", 6)
    assert store.manifest == read_manifest(index)
    emb = HashEmbedder(64)
    [dense] = store.search_dense(emb.encode(["glacier ice weight"]), 3)
    assert store.chunks[dense.rows[0]].doc_id == "facts.jsonl#c2"
    [lexical] = store.search_lexical(["Anchorage fishing quotas"], 3)
    assert store.chunks[lexical.rows[0]].doc_id == "alaska.txt"


def test_incremental_build_over_a_version_2_index_upgrades_once_then_reuses_everything(tmp_path: Path) -> None:
    docs, index = _copy(tmp_path)
    # Built before chunks carried their section heading: the first update re-chunks (the fixture has no
    # embedding cache, so all six are embedded again), and records that chunks now carry it.
    first = build_index(docs, index, embedder=HashEmbedder(64), settings=SETTINGS)
    assert (first.version, first.documents, first.chunks) == ("v0002", 4, 6)
    assert first.full_rebuild_reason == "chunks now carry their section heading" and first.embedded_chunks == 6
    manifest = read_manifest(index)
    assert manifest is not None and manifest.chunk_context == CHUNK_CONTEXT
    report = build_index(docs, index, embedder=HashEmbedder(64), settings=SETTINGS)
    assert (report.version, report.documents, report.chunks) == ("v0002", 4, 6)
    assert report.embedded_chunks == 0 and report.unchanged == 4 and not report.full_rebuild_reason
    assert not (report.added or report.updated or report.removed)


def test_touched_files_write_a_new_version_with_the_same_manifest(tmp_path: Path) -> None:
    docs, index = _copy(tmp_path)
    old = read_manifest(index)
    build_index(docs, index, embedder=HashEmbedder(64), settings=SETTINGS)  # the one upgrade (test above)
    write_docs(docs, FIXTURE_MTIME_NS + 1)  # same text, new mtime: read again, chunks reused
    report = build_index(docs, index, embedder=HashEmbedder(64), settings=SETTINGS)
    assert report.version == "v0003" and report.unchanged == 4 and not (report.added or report.updated)
    new = read_manifest(index)
    assert old is not None and new is not None
    assert new.documents == old.documents and new.counts == old.counts and new.faiss == old.faiss
    moved = {rel: replace(f, mtime_ns=FIXTURE_MTIME_NS + 1) for rel, f in old.files.items()}
    assert replace(new, created=old.created) == replace(old, files=moved, chunk_context=CHUNK_CONTEXT)
    raw = json.loads((index / "current" / "manifest.json").read_text("utf-8"))
    keys = list(_raw_manifest()[1])
    assert list(raw) == [*keys[: keys.index("lexical") + 1], "chunk_context", *keys[keys.index("lexical") + 1 :]]


def test_keys_older_manifests_lack_get_todays_defaults() -> None:
    _, raw = _raw_manifest()
    # Format 1 wrote no "requested" (the kind was the choice) and no "extra_roots"; hand-made
    # manifests (benches, tests) lack the chunker, lexical settings, counts and max_tokens.
    old = {key: value for key, value in raw.items() if key not in ("extra_roots", "chunker", "lexical", "counts")}
    old["format_version"] = 1
    old["faiss"] = {"kind": "hnsw", "metric": "inner_product", "ef_search": 64}
    old["embedder"] = {"name": "hash-64", "dim": 64}
    manifest = Manifest.from_json(old)
    assert manifest.faiss == FaissSettings("hnsw", "hnsw", ef_search=64)
    assert manifest.extra_roots == () and manifest.chunker is None and manifest.lexical is None
    assert manifest.counts == Counts() and manifest.embedder.max_tokens is None
    assert "chunker" not in manifest.to_json() and manifest.to_json()["faiss"]["requested"] == "hnsw"
    assert manifest.files == Manifest.from_json(raw).files
