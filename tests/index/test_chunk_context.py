"""Chunks are embedded and BM25-indexed with their document's title and nearest section heading in
front, while the text shown and cited stays their own; an index built before that is upgraded once."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from index.build import build_index
from index.chunk_table import write_chunks
from index.chunking import Chunker, ChunkerSettings
from index.documents import load_file
from index.embedding import EmbeddingCache, embed_with_cache
from index.sections import CHUNK_CONTEXT, locate_headings, markdown_headings, section_finder
from index.store import IndexStore, current_version, read_manifest
from index.types import Chunk, Document, Heading
from rag.retrieval import HybridRetriever

SMALL = ChunkerSettings(chunk_tokens=40, overlap_tokens=0)
FILLER = "The widget ships in a grey box with a printed quick start card and a spare fuse."
MANUAL = f"""# Widget manual

{FILLER}

## Installation

Mount the bracket on a dry wall with the four screws that come with it. {FILLER}

## Cleaning

Wipe the housing with a damp cloth once a month and never use solvents. {FILLER}

Dry the contacts with a soft brush before switching the widget back on. {FILLER}
"""


class Recording:
    """The real embedder, remembering every text it was asked to embed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name, self.dim, self.max_tokens = inner.name, inner.dim, inner.max_tokens
        self.texts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> Any:
        self.texts.extend(texts)
        return self.inner.encode(texts, batch_size=batch_size)


def manual_chunks(text: str = MANUAL) -> tuple[Document, list[Chunk]]:
    doc = Document("manual.md", "manual.md", "Widget manual", text, headings=markdown_headings(text))
    return doc, Chunker(SMALL).chunk(doc)


def test_markdown_headings_skip_code_and_front_matter() -> None:
    text = "---\ntitle: x\n---\n# Top #\n\n```\n# not one\n```\n\nUnder a line\n-------\n\n   ### **Deep**\n"
    assert [h.text for h in markdown_headings(text)] == ["Top", "Under a line", "Deep"]
    assert markdown_headings(text)[0] == Heading(text.index("# Top"), "Top")
    section_at = section_finder(markdown_headings(text))
    assert section_at(0) == "" and section_at(text.index("```")) == "Top" and section_at(len(text)) == "Deep"


def test_located_headings_tolerate_white_space_and_keep_order() -> None:
    text = "Intro\n\nLoad\nlimits\n\nx\n\nCare"
    assert locate_headings(text, ["Load limits", "Missing", "Care", ""]) == (
        Heading(7, "Load limits"),
        Heading(text.index("Care"), "Care"),
    )


def test_context_is_title_and_nearest_heading_while_text_stays_its_own() -> None:
    doc, chunks = manual_chunks()
    assert len(chunks) >= 3
    for chunk in chunks:
        assert chunk.text == doc.text[chunk.start : chunk.end]  # shown, cited and checked as it is
        assert chunk.indexed_text == (f"{chunk.context}\n{chunk.text}" if chunk.context else chunk.text)
        assert chunk.context.startswith("Widget manual")
    by_section = {c.section: c for c in chunks}
    assert set(by_section) == {"", "Installation", "Cleaning"}  # "" under the title itself
    cleaning = [c for c in chunks if c.section == "Cleaning"]
    # A chunk opening at its heading does not repeat it; one further down names it in its context.
    assert all(c.context == "Widget manual" for c in cleaning if c.text.startswith("## Cleaning"))
    later = [c for c in cleaning if not c.text.startswith("## Cleaning")]
    assert later and all(c.context == "Widget manual\nCleaning" for c in later)
    assert all("Cleaning" not in c.text for c in later)


def test_html_and_word_headings_become_sections(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        f"<html><title>Care guide</title><h1>Care guide</h1><p>{FILLER}</p>"
        f"<h2>Descaling  the\n tank</h2><p>Use one spoon of citric acid. {FILLER} {FILLER}</p></html>",
        encoding="utf-8",
    )
    [html_doc] = load_file(page, tmp_path).documents
    assert [h.text for h in html_doc.headings] == ["Care guide", "Descaling the tank"]
    assert "Descaling the tank" in {c.section for c in Chunker(SMALL).chunk(html_doc)}
    docx = pytest.importorskip("docx")
    word = docx.Document()
    word.add_heading("Service manual", level=0)
    word.add_paragraph(FILLER)
    word.add_heading("Replacing the fuse", level=1)
    word.add_paragraph(f"Unscrew the cap and swap the fuse. {FILLER} {FILLER}")
    word.save(str(tmp_path / "service.docx"))
    [word_doc] = load_file(tmp_path / "service.docx", tmp_path).documents
    assert [h.text for h in word_doc.headings] == ["Service manual", "Replacing the fuse"]
    assert word_doc.text[word_doc.headings[1].start :].startswith("Replacing the fuse")


@pytest.mark.slow
def test_build_embeds_and_bm25_indexes_the_context_and_records_it(tmp_path: Path, minilm: Any) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "manual.md").write_text(MANUAL, encoding="utf-8")
    emb = Recording(minilm)
    build_index(src, tmp_path / "idx", embedder=emb, settings=SMALL)
    store = IndexStore.open(tmp_path / "idx")
    assert store.manifest.chunk_context == CHUNK_CONTEXT
    version = current_version(tmp_path / "idx")
    assert version is not None
    assert json.loads((version / "manifest.json").read_text("utf-8"))["chunk_context"] == CHUNK_CONTEXT
    chunks = list(store.chunks)
    assert sorted(emb.texts) == sorted(c.indexed_text for c in chunks)  # the cache is keyed by these texts
    later = next(c for c in chunks if c.section == "Cleaning" and "Cleaning" not in c.text)
    # "cleaning" is in that chunk's heading only: BM25 finds it through its context.
    [lexical] = store.search_lexical(["cleaning"], 5)
    assert later.id in {store.chunks[r].id for r in lexical.rows}
    hits = HybridRetriever(store, embedder=minilm, k=3).retrieve("How do I do the cleaning?")
    assert any(h.chunk.section == "Cleaning" for h in hits)
    assert all(not h.chunk.text.startswith("Widget manual\n") for h in hits)  # hits carry their own text


def _as_if_built_before_context(index: Path, embedder: Any) -> None:
    """Rewrite the current version, and the embedding cache, as a build before chunk context left them:
    no manifest key, no sections, and vectors cached for the texts embedded then (title and text)."""
    version = current_version(index)
    assert version is not None
    manifest = json.loads((version / "manifest.json").read_text("utf-8"))
    del manifest["chunk_context"]
    (version / "manifest.json").write_text(json.dumps(manifest, indent=1), "utf-8")
    lines = (version / "chunks.jsonl").read_text("utf-8").splitlines()
    records = [{k: v for k, v in json.loads(line).items() if k != "section"} for line in lines]
    old_chunks = [Chunk(**r) for r in records]
    write_chunks(version, old_chunks)
    shutil.rmtree(index / "embeddings-cache")
    cache = EmbeddingCache(index / "embeddings-cache" / "cache.sqlite")
    embed_with_cache(embedder, [c.indexed_text for c in old_chunks], cache)
    cache.close()


@pytest.mark.slow
def test_an_index_built_without_context_answers_then_is_upgraded_once(tmp_path: Path, minilm: Any) -> None:
    src, index = tmp_path / "src", tmp_path / "idx"
    src.mkdir()
    (src / "manual.md").write_text(MANUAL, encoding="utf-8")
    (src / "plain.txt").write_text(f"Plain notes\n\n{FILLER}", encoding="utf-8")
    first = build_index(src, index, embedder=minilm, settings=SMALL)
    _as_if_built_before_context(index, minilm)
    old = IndexStore.open(index)  # still opens and answers
    assert old.manifest.chunk_context == 0 and all(c.section == "" for c in old.chunks)
    assert HybridRetriever(old, embedder=minilm, k=2).retrieve("wall bracket screws")
    old.close()

    emb = Recording(minilm)
    upgrade = build_index(src, index, embedder=emb, settings=SMALL)
    assert upgrade.full_rebuild_reason == "chunks now carry their section heading"
    assert upgrade.version != first.version and upgrade.chunks == first.chunks
    store = IndexStore.open(index)
    assert store.manifest.chunk_context == CHUNK_CONTEXT
    assert {c.section for c in store.chunks} == {"", "Installation", "Cleaning"}
    # Re-chunked in full, but only texts whose embedded string changed were embedded (the cache has the rest).
    with_section = [c.indexed_text for c in store.chunks if c.context.endswith(c.section) and c.section]
    assert upgrade.embedded_chunks == len(set(emb.texts)) == len(set(with_section)) > 0

    again = build_index(src, index, embedder=Recording(minilm), settings=SMALL)
    assert again.version == upgrade.version and again.embedded_chunks == 0 and not again.full_rebuild_reason
    assert read_manifest(index) == store.manifest
