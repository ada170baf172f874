"""`documents=[...]`: paths and globs resolved against the index, bad names reported before any model
loads, and hybrid retrieval (real MiniLM, FAISS and BM25) narrowed to the chosen documents."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rag.retrieval
from index.build import build_index
from index.chunking import ChunkerSettings
from index.embedding import HashEmbedder
from index.store import IndexStore, read_manifest
from index.types import Chunk, DocumentEntry, EmbedderInfo, FileEntry, Manifest
from rag.answer import Assistant, ask
from rag.documents import (
    DocumentCatalog,
    UnknownDocuments,
    catalog,
    check_patterns,
    resolve_documents,
)
from rag.llm.scripted import ScriptedBackend
from rag.retrieval import HybridRetriever, LexicalRetriever
from rag.versions import prefer_asked_versions, versions

FILLER = "Rangers walk the same tracks each morning and write down what they see."
DOCS = {
    **{
        f"reports/r{i}.txt": f"Report {i}\n\nZebra sightings in district {i}. Zebra herds grow. {FILLER}"
        for i in range(6)
    },
    "licences/mit.txt": "MIT License\n\nPermission is granted, free of charge, to deal in the software.",
    "licences/apache.md": "# Apache License\n\nLicensed under the Apache License; zebra logos are trademarks.",
    "guide/install.md": "# Install\n\nRun the installer, then count zebra sightings with the app.",
    "corpus.jsonl": "\n".join(
        json.dumps({"_id": rid, "title": title, "text": text})
        for rid, title, text in (
            ("z1", "Zebra stripes", "Each zebra has its own stripe pattern, like a fingerprint."),
            ("z2", "Zebra foals", "A zebra foal can stand within an hour of its birth."),
        )
    ),
}


def write(folder: Path, docs: dict[str, str]) -> Path:
    for rel, text in docs.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, minilm: Any) -> Path:
    src = write(tmp_path_factory.mktemp("src"), DOCS)
    out = tmp_path_factory.mktemp("idx")
    build_index(src, out, embedder=minilm, settings=ChunkerSettings(chunk_tokens=64, overlap_tokens=8))
    return out


@pytest.fixture(scope="module")
def store(index_dir: Path) -> IndexStore:
    return IndexStore.open(index_dir)


def docs_of(hits: Any) -> set[str]:
    return {h.chunk.doc_id for h in hits}


def test_paths_ids_folders_and_globs_resolve_in_index_order(store: IndexStore) -> None:
    found = catalog(store)
    assert found.resolve(None) == () and found.resolve([]) == ()
    assert found.resolve("reports/r3.txt") == ("reports/r3.txt",)
    assert found.resolve(["./licences/mit.txt"]) == ("licences/mit.txt",)
    assert found.resolve(["licences/*"]) == found.resolve("licences/") == ("licences/apache.md", "licences/mit.txt")
    assert found.resolve("*.md") == ("guide/install.md", "licences/apache.md")
    assert found.resolve("corpus.jsonl") == ("corpus.jsonl#z1", "corpus.jsonl#z2")  # a corpus file: its records
    assert found.resolve(["corpus.jsonl#z2", "reports/r[01].txt"]) == (
        "corpus.jsonl#z2",
        "reports/r0.txt",
        "reports/r1.txt",
    )
    assert check_patterns(["a.md", "./a.md", "dir\\b.md"]) == ("a.md", "dir/b.md")
    assert [d.id for d in found.listing()][:2] == ["corpus.jsonl#z1", "corpus.jsonl#z2"]


def test_a_name_matching_nothing_is_named_with_what_the_index_holds(store: IndexStore) -> None:
    with pytest.raises(UnknownDocuments) as caught:
        catalog(store).resolve(["reports/r1.txt", "install.md", "nothing/*"])
    message = str(caught.value)
    assert caught.value.patterns == ("install.md", "nothing/*")
    assert "'install.md', 'nothing/*' match no indexed document" in message
    assert "Did you mean 'guide/install.md'?" in message
    assert "corpus.jsonl, guide/install.md, licences/apache.md" in message and "(and 2 more)" in message
    assert "globs such as '*.md'" in message
    for bad in ([""], [3], 7):
        with pytest.raises(ValueError, match=r"documents=.* is invalid: give a list of document paths or globs"):
            catalog(store).resolve(bad)  # type: ignore[arg-type]


def test_a_manifest_alone_checks_names_and_a_missing_index_is_left_to_opening(index_dir: Path) -> None:
    manifest = read_manifest(index_dir)
    assert resolve_documents(manifest, ["licences/*"]) == ("licences/apache.md", "licences/mit.txt")
    with pytest.raises(UnknownDocuments, match=r"'gone\.txt' matches no indexed document"):
        resolve_documents(manifest, ["gone.txt"])
    assert resolve_documents(None, ["gone.txt"]) == ()
    hand_made = Manifest(source="", embedder=EmbedderInfo("hash-64", 64), faiss=read_manifest(index_dir).faiss)  # type: ignore[union-attr]
    assert resolve_documents(hand_made, ["gone.txt"]) == ()


def test_rows_come_from_chunk_counts_and_are_read_when_counts_mislead(store: IndexStore) -> None:
    scanned: dict[str, set[int]] = {}
    for row, chunk in enumerate(store.chunks):
        scanned.setdefault(chunk.doc_id, set()).add(row)
    counted = DocumentCatalog.of(store.manifest, store.chunks)
    shuffled = DocumentCatalog(list(reversed(counted.documents)), store.chunks)  # counts no longer give rows
    for pattern in ("reports/r2.txt", "licences/*", "corpus.jsonl"):
        want = frozenset(r for d in counted.resolve(pattern) for r in scanned[d])
        assert counted.rows(pattern) == shuffled.rows(pattern) == want
    entries = {"a.txt": DocumentEntry("0" * 64, 2, "A"), "b.txt": DocumentEntry("1" * 64, 1, "B")}
    files = {"a.txt": FileEntry(1, 1, ("a.txt",)), "b.txt": FileEntry(1, 1, ("b.txt",))}
    manifest = Manifest(
        source="", embedder=EmbedderInfo("h", 8), faiss=store.manifest.faiss, documents=entries, files=files
    )
    with pytest.raises(ValueError, match="give the store's chunks"):
        DocumentCatalog.of(manifest).rows("a.txt")


def test_filter_narrows_hybrid_retrieval_before_the_top_k(store: IndexStore, minilm: Any) -> None:
    hybrid = HybridRetriever(store, embedder=minilm, k=4)
    unfiltered = docs_of(hybrid.retrieve("zebra sightings in a district"))
    assert "reports/r0.txt" in unfiltered and not unfiltered & {"licences/apache.md", "licences/mit.txt"}
    assert docs_of(hybrid.retrieve("zebra sightings", documents=["licences/*"])) == {
        "licences/apache.md",
        "licences/mit.txt",
    }
    assert docs_of(hybrid.retrieve("zebra sightings", documents="corpus.jsonl")) == {
        "corpus.jsonl#z1",
        "corpus.jsonl#z2",
    }
    only = hybrid.retrieve("zebra sightings", documents=["reports/r3.txt"])
    assert docs_of(only) == {"reports/r3.txt"} and only[0].scores.keys() >= {"dense", "lexical"}
    narrowed = HybridRetriever(store, embedder=minilm, k=4, documents=["guide/*"])  # a default, per call overridable
    assert docs_of(narrowed.retrieve("zebra")) == {"guide/install.md"}
    assert len(docs_of(narrowed.retrieve("zebra", documents=[]))) > 1
    both = hybrid.retrieve("zebra", documents=["licences/*", "reports/*"], paths=["*.md"])  # the filters combine
    assert docs_of(both) == {"licences/apache.md"}
    with pytest.raises(UnknownDocuments, match=r"nope\.md"):
        hybrid.retrieve("zebra", documents=["nope.md"])


def test_exact_search_of_the_kept_rows_matches_over_fetching(store: IndexStore, minilm: Any, monkeypatch: Any) -> None:
    hybrid, lexical = HybridRetriever(store, embedder=minilm, k=5), LexicalRetriever(store, k=5)
    query, only = "zebra herds grow", ["reports/*", "corpus.jsonl"]
    exact = [(h.chunk.id, h.scores) for h in hybrid.retrieve(query, documents=only)]
    exact_lexical = [(h.chunk.id, h.score) for h in lexical.retrieve(query, documents=only)]
    monkeypatch.setattr(rag.retrieval, "EXACT_FILTER_ROWS", 0)  # over-fetch from the whole index, then filter
    fetched = [(h.chunk.id, h.scores) for h in hybrid.retrieve(query, documents=only)]
    assert [i for i, _ in exact] == [i for i, _ in fetched]
    for (_, a), (_, b) in zip(exact, fetched, strict=True):
        assert a == pytest.approx(b, abs=1e-5)
    assert [(i, pytest.approx(s)) for i, s in exact_lexical] == [
        (h.chunk.id, h.score) for h in lexical.retrieve(query, documents=only)
    ]
    rows = np.asarray(sorted(catalog(store).rows(only)), dtype=np.int64)
    [everything] = store.search_lexical([query], len(store))
    kept = [(r, s) for r, s in zip(everything.rows, everything.scores, strict=True) if r in set(rows.tolist())][:3]
    got = store.lexical.search_rows(query, rows, 3)
    assert list(got.rows) == [r for r, _ in kept] and got.scores == pytest.approx([s for _, s in kept])


def test_ask_names_an_unknown_document_before_any_model_loads(index_dir: Path, monkeypatch: Any) -> None:
    def no_model(*_: Any, **__: Any) -> Any:
        raise AssertionError("a model was loaded before the documents were checked")

    monkeypatch.setattr("rag.answer.get_assistant", no_model)
    with pytest.raises(UnknownDocuments, match=r"'licence\.txt' matches no indexed document"):
        ask("What does the licence permit?", index=index_dir, documents=["licence.txt"])


def test_an_answer_draws_only_on_the_chosen_documents(index_dir: Path) -> None:
    backend = ScriptedBackend("Permission is granted, free of charge, to deal in the software [1].")
    assistant = Assistant(index_dir, backend=backend, min_evidence=0.0, log_questions=False)
    answer = assistant.ask("What is granted free of charge?", documents=["licences/mit.txt"])
    assert docs_of(answer.hits) == {"licences/mit.txt"} and docs_of(answer.sources) == {"licences/mit.txt"}
    assert not answer.refused and answer.citations[0].chunk.doc_id == "licences/mit.txt"
    with pytest.raises(UnknownDocuments):
        assistant.stream("What is granted?", documents=["mit.txt"])  # checked when called, not when read
    assert docs_of(assistant.ask("How many zebra sightings in district 4?").hits) >= {"reports/r4.txt"}


VERSIONS = {
    version: (
        f"# Widget manual version {version}\n\n"
        f"This manual covers setting up and caring for the widget. {FILLER}\n\n"
        "## Limits\n\n"
        f"The widget lifts loads of at most {load} kilograms. Heavier loads trip the safety switch "
        "and stop the motor until it is reset by hand."
    )
    for version, load in (("1.1", 40), ("2.0", 55))
}


@pytest.fixture(scope="module")
def manuals(tmp_path_factory: pytest.TempPathFactory, minilm: Any) -> IndexStore:
    src = tmp_path_factory.mktemp("manuals")
    write(src, {f"widget-{v}.md": text for v, text in VERSIONS.items()})
    out = tmp_path_factory.mktemp("manuals-idx")
    build_index(src, out, embedder=minilm, settings=ChunkerSettings(chunk_tokens=40, overlap_tokens=0))
    return IndexStore.open(out)


QUESTIONS = (
    "What is the maximum load of the widget in version {v} of the manual?",
    "Widget manual version {v}: maximum load",
    "How heavy a load can the widget lift in v{v}?",
)


@pytest.mark.parametrize("question", QUESTIONS)
@pytest.mark.parametrize(("version", "other"), [("2.0", "1.1"), ("1.1", "2.0")])
def test_a_question_naming_a_version_retrieves_that_version_first(
    manuals: IndexStore, minilm: Any, question: str, version: str, other: str
) -> None:
    """The passages read alike; only their context (the title, "Widget manual version 2.0") differs."""
    limits = [c for c in manuals.chunks if c.section == "Limits"]
    assert len(limits) == 2 and all(version not in c.text and other not in c.text for c in limits)
    hits = HybridRetriever(manuals, embedder=minilm, k=3).retrieve(question.format(v=version))
    assert hits[0].chunk.doc_id == f"widget-{version}.md" and hits[0].chunk.section == "Limits"
    assert hits[0].chunk.text.startswith("## Limits")  # shown and cited without the title in front
    only = HybridRetriever(manuals, embedder=minilm, k=3).retrieve(question.format(v=version), documents=[f"*{other}*"])
    assert docs_of(only) == {f"widget-{other}.md"}  # a filter overrides the preference


def test_versions_embed_alike_so_the_named_version_is_preferred_explicitly(manuals: IndexStore, minilm: Any) -> None:
    """Why `prefer_versions` exists: MiniLM scores the two passages within a hair of each other, and BM25
    cannot tell them apart at all (its tokenizer drops the one-character tokens of "1.1" and "2.0")."""
    question = "Widget manual version 1.1: maximum load"
    plain = HybridRetriever(manuals, embedder=minilm, k=4, dedup=False, prefer_versions=False).retrieve(question)
    limits = [h for h in plain if h.chunk.section == "Limits"]
    assert len(limits) == 2 and abs(limits[0].scores["dense"] - limits[1].scores["dense"]) < 0.02
    assert limits[0].scores["lexical"] == pytest.approx(limits[1].scores["lexical"])
    preferred = HybridRetriever(manuals, embedder=minilm, k=4, dedup=False).retrieve(question)
    assert [h.chunk.doc_id for h in preferred[:2]] == ["widget-1.1.md", "widget-1.1.md"]


def test_version_preference_moves_only_other_versions_and_only_when_one_is_named() -> None:
    assert versions("Widget manual version 1.1") == {"1.1"} and versions("see widget-2.0.md, v3") == {"2.0", "3"}
    assert versions("Python 3.11, version 2 and release 4") == {"3.11", "2", "4"} and versions("40 kg, 2.0x") == set()

    def chunk(title: str, path: str = "a.md") -> Chunk:
        return Chunk(title, path, path, title, "text", 0, 4)

    pool = [chunk("Manual 2.0"), chunk("Notes"), chunk("Manual 1.1"), chunk("Guide", "guide-1.1.md")]
    order = [c.id for c in prefer_asked_versions("limits in 1.1?", pool, lambda c: c)]
    assert order == ["Notes", "Manual 1.1", "Guide", "Manual 2.0"]
    assert prefer_asked_versions("limits?", pool, lambda c: c) == pool
    assert prefer_asked_versions("on Python 3.11?", pool, lambda c: c) == pool  # names nothing indexed


def test_a_hash_embedded_index_filters_the_same_way(tmp_path: Path) -> None:
    """The deterministic double beside the real-model tests: filtering needs no model."""
    src = write(tmp_path / "src", {k: v for k, v in DOCS.items() if k.startswith(("reports/", "licences/"))})
    build_index(src, tmp_path / "idx", embedder=HashEmbedder(64), settings=ChunkerSettings(64, 8))
    store = IndexStore.open(tmp_path / "idx")
    hits = HybridRetriever(store, embedder=HashEmbedder(64), k=3).retrieve("zebra", documents=["licences/*"])
    assert docs_of(hits) <= {"licences/apache.md", "licences/mit.txt"} and hits


def test_rag_ask_doc_narrows_the_answer_and_names_a_typo_before_loading_a_model(
    index_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli import main

    question = "What is granted free of charge?"
    argv = ["ask", question, "--index", str(index_dir), "--backend=scripted", "--no-log", "--no-stream"]
    assert main([*argv, "--doc", "licences/mit.txt"]) == 0
    shown = re.findall(r"^\[\d+\] .* — (\S+), ", capsys.readouterr().out, re.MULTILINE)
    assert shown and set(shown) == {"licences/mit.txt"}

    def no_model(*_: Any, **__: Any) -> Any:
        raise AssertionError("a model was loaded before --doc was checked")

    monkeypatch.setattr("rag.answer.Assistant", no_model)
    assert main([*argv, "--doc", "licences/*", "--doc", "mit.txt"]) == 2
    assert "'mit.txt' matches no indexed document. Did you mean 'licences/mit.txt'?" in capsys.readouterr().err
