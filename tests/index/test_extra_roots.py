"""Extra document roots (a chat's uploads folder) mirrored beside an index's source, incrementally."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.build import add_root, build_index
from index.chunking import ChunkerSettings
from index.embedding import HashEmbedder
from index.store import IndexStore, read_manifest

SETTINGS = ChunkerSettings(64, 8)


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("Alpha\n\nThe alpha document talks about apples.", encoding="utf-8")
    (src / "b.md").write_text("# Beta\n\nThe beta document talks about bananas.", encoding="utf-8")
    return src


def doc_ids(index_dir: Path) -> set[str]:
    return {c.doc_id for c in IndexStore.open(index_dir).chunks}


def test_add_root_indexes_uploads_with_prefixed_ids_and_keeps_settings(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "idx"
    build_index(corpus, out, embedder=HashEmbedder(64), settings=SETTINGS)
    uploads = out / "uploads"
    uploads.mkdir()
    (uploads / "a.txt").write_text("Uploaded\n\nThe zebra note mentions zebras only.", encoding="utf-8")
    report = add_root(out, uploads)
    assert report.added == ("uploads/a.txt",)
    assert report.unchanged == 2 and report.embedded_chunks == 1 and not report.full_rebuild_reason
    assert doc_ids(out) == {"a.txt", "b.md", "uploads/a.txt"}
    manifest = read_manifest(out)
    assert manifest is not None
    assert manifest.extra_roots == (str(uploads.resolve()),)
    assert manifest.chunker == SETTINGS and manifest.source == str(corpus.resolve())


def test_rebuilding_the_source_keeps_recorded_roots(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "idx"
    uploads = tmp_path / "up"
    uploads.mkdir()
    (uploads / "z.txt").write_text("Zebra\n\nZebras have stripes.", encoding="utf-8")
    build_index(corpus, out, embedder=HashEmbedder(64), settings=SETTINGS, extra_roots=[uploads])
    (corpus / "c.txt").write_text("Gamma\n\nThe gamma document is about grapes.", encoding="utf-8")
    report = build_index(corpus, out, embedder=HashEmbedder(64), settings=SETTINGS)  # as `rag index` would
    assert report.added == ("c.txt",) and report.removed == ()
    assert "up/z.txt" in doc_ids(out)
    again = build_index(corpus, out, embedder=HashEmbedder(64), settings=SETTINGS, rebuild=True)
    assert "up/z.txt" in doc_ids(out) and again.documents == 4


def test_nothing_changed_reuses_the_version_and_a_vanished_root_is_dropped(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "idx"
    uploads = out / "uploads"
    uploads.mkdir(parents=True)
    (uploads / "z.txt").write_text("Zebra\n\nZebras have stripes.", encoding="utf-8")
    first = build_index(corpus, out, embedder=HashEmbedder(64), settings=SETTINGS, extra_roots=[uploads])
    same = add_root(out, uploads)
    assert same.version == first.version and same.embedded_chunks == 0
    (uploads / "z.txt").unlink()
    uploads.rmdir()
    gone = build_index(corpus, out, embedder=HashEmbedder(64), settings=SETTINGS)
    assert gone.removed == ("uploads/z.txt",)
    manifest = read_manifest(out)
    assert manifest is not None and manifest.extra_roots == ()


def test_add_root_to_a_missing_index_makes_it_the_source(tmp_path: Path) -> None:
    uploads = tmp_path / "idx" / "uploads"
    uploads.mkdir(parents=True)
    (uploads / "note.txt").write_text("Note\n\nA note about kiwis.", encoding="utf-8")
    report = add_root(tmp_path / "idx", uploads, embedder=HashEmbedder(64))
    assert report.added == ("note.txt",)
    manifest = read_manifest(tmp_path / "idx")
    assert manifest is not None and manifest.source == str(uploads.resolve())
