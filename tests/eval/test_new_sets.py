"""The question sets of eval/sets (issue 21): schema, halves, and every quote found where it says it is.

Both corpora are built into a temporary folder by their builders and read the way `rag index` reads
them (`load_file`, then the default chunker), so a quote that passes here is one `rag eval run` can find
in a chunk of the document it names. The multi-hop corpus needs ../shared (skipped without it); the
similar-documents corpus needs this machine's .venv METADATA files (skipped when they differ).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eval.questions import load_questions
from eval.sets import MULTIHOP, SIMILAR_DOCS
from eval.sets.multihop import build_corpus as multihop_corpus
from eval.sets.similar_docs import build_corpus as similar_corpus
from eval.sets.split import SPLITS, assign_splits, stratum
from eval.sets.split import main as split_main
from index.chunking import Chunker
from index.documents import load_file
from tests.conftest import SQUAD2, need

TYPES = {MULTIHOP: {"bridge", "comparison"}, SIMILAR_DOCS: {"named", "paraphrased"}}
SETS = pytest.mark.parametrize("path", [MULTIHOP, SIMILAR_DOCS], ids=["multihop", "similar_docs"])


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def squash(text: str) -> str:
    return " ".join(text.split())


def loose(text: str) -> str:
    """Lower case, punctuation and symbols (ASCII or not) as spaces, no articles: markdown links and
    backticks in the documents do not hide an answer, and an answer must still align with whole words."""
    spaced = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text.lower())
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", spaced).split())


def answer_in(text: str, answers: list[str]) -> bool:
    hay = f" {loose(text)} "
    return any(loose(a) and f" {loose(a)} " in hay for a in answers)


# --- the files themselves -------------------------------------------------------------------------


def _check_evidence(items: Any, where: str) -> None:
    assert isinstance(items, list), where
    for item in items:
        assert isinstance(item, dict) and set(item) <= {"doc", "quote", "passage"}, (where, item)
        assert isinstance(item["doc"], str) and item["doc"], (where, item)
        assert isinstance(item["quote"], str) and item["quote"].strip() == item["quote"] and item["quote"], (
            where,
            item,
        )


@SETS
def test_schema_ids_and_size(path: Path) -> None:
    rows = records(path)
    assert len(rows) >= 80
    assert len({r["id"] for r in rows}) == len(rows), "ids repeat"
    for r in rows:
        where = str(r.get("id"))
        assert isinstance(r["id"], str) and isinstance(r["question"], str) and r["question"].strip(), where
        assert r["question"] == " ".join(r["question"].split()), where
        assert isinstance(r["answerable"], bool) and r["type"] in TYPES[path] and r["split"] in SPLITS, where
        assert isinstance(r["answers"], list) and all(isinstance(a, str) and a.strip() for a in r["answers"]), where
        _check_evidence(r["evidence"], where)
        if r["answerable"]:
            assert r["answers"] and r["evidence"], f"{where}: an answerable question needs answers and evidence"
        else:
            assert not r["answers"] and not r["evidence"], f"{where}: an unanswerable question has no gold"
            assert isinstance(r["reasoning"], str) and r["reasoning"], where
        assert "derived" not in r or (r["answerable"] and isinstance(r["derived"], str) and r["derived"]), where


@SETS
def test_halves_are_the_rule_and_balanced(path: Path) -> None:
    rows = records(path)
    expected = assign_splits(rows)
    assert {r["id"]: r["split"] for r in rows} == expected
    per = Counter((stratum(r), r["split"]) for r in rows)
    for key in {stratum(r) for r in rows}:
        assert abs(per[key, "tune"] - per[key, "report"]) <= 1, key
    halves = Counter(r["split"] for r in rows)
    assert abs(halves["tune"] - halves["report"]) <= 1 and min(halves.values()) >= 40


@SETS
def test_the_project_loader_reads_every_line(path: Path) -> None:
    rows = records(path)
    qs = load_questions(path)
    assert qs.format == "project" and not qs.problems and len(qs.questions) == len(rows)
    for q, r in zip(qs.questions, rows, strict=True):
        assert (q.id, q.question, q.answerable, q.answers) == (
            r["id"],
            r["question"],
            r["answerable"],
            tuple(r["answers"]),
        )
        assert [(e.doc, e.quote) for e in q.evidence] == [(e["doc"], e["quote"]) for e in r["evidence"]]
        assert q.history == () and q.passages == ()


@SETS
def test_answers_are_in_the_evidence_unless_derived(path: Path) -> None:
    """A gold answer appears in the quotes; comparisons and yes/no questions say how it follows instead."""
    for r in records(path):
        if r["answerable"]:
            joined = " ".join(e["quote"] for e in r["evidence"])
            assert answer_in(joined, r["answers"]) or r.get("derived"), f"{r['id']}: no answer in {joined!r}"


def test_split_writes_one_half(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tune.jsonl"
    assert split_main([str(MULTIHOP), "--check", "--split", "tune", "--out", str(out)]) == 0
    tune = records(out)
    assert tune and {r["split"] for r in tune} == {"tune"}
    assert len(tune) == sum(r["split"] == "tune" for r in records(MULTIHOP))
    assert "every split as assigned" in capsys.readouterr().out
    assert load_questions(out).questions


# --- the corpora, as the index reads them ---------------------------------------------------------


def chunked(folder: Path, chunker: Chunker | None = None) -> dict[str, tuple[str, list[str]]]:
    """Document id -> (its text, its chunks' texts), loaded and chunked as `rag index` does (without the
    embedder's own token limit unless `chunker` brings it)."""
    out: dict[str, tuple[str, list[str]]] = {}
    chunker = chunker or Chunker()
    for path in sorted(folder.iterdir()):
        result = load_file(path, folder)
        assert not result.skipped, result.skipped
        for doc in result.documents:
            out[doc.id] = (doc.text, [c.text for c in chunker.chunk(doc)])
    return out


def check_quote(corpus: dict[str, tuple[str, list[str]]], item: dict[str, str], where: str) -> None:
    assert item["doc"] in corpus, f"{where}: no document {item['doc']}"
    text, chunks = corpus[item["doc"]]
    quote = squash(item["quote"])
    assert quote in squash(text), f"{where}: quote not in {item['doc']}: {item['quote']!r}"
    assert any(quote in squash(c) for c in chunks), f"{where}: quote split across chunks: {item['quote']!r}"


@pytest.fixture(scope="module")
def multihop_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shared = need(SQUAD2 / "passages.jsonl").parents[2]
    folder = tmp_path_factory.mktemp("multihop-corpus")
    written = multihop_corpus.build(folder, shared)
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in written)
    return folder


@pytest.fixture(scope="module")
def similar_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("similar-docs-corpus")
    try:
        similar_corpus.build(folder)
    except similar_corpus.CorpusError as exc:
        pytest.skip(f"the package descriptions on this machine are not the recorded ones: {exc}")
    return folder


@pytest.fixture(scope="module")
def multihop_docs(multihop_folder: Path) -> Iterator[dict[str, tuple[str, list[str]]]]:
    yield chunked(multihop_folder)


@pytest.fixture(scope="module")
def similar_docs(similar_folder: Path) -> Iterator[dict[str, tuple[str, list[str]]]]:
    yield chunked(similar_folder)


def test_multihop_quotes_are_in_their_passages_and_documents(multihop_docs: dict[str, tuple[str, list[str]]]) -> None:
    passages = {}
    for line in (SQUAD2 / "passages.jsonl").read_text("utf-8").splitlines():
        p = json.loads(line)
        passages[p["_id"]] = p
    assert len(multihop_docs) == len(multihop_corpus.ARTICLES)
    for r in records(MULTIHOP):
        items = r["evidence"] + r.get("bridge_evidence", [])
        assert items, f"{r['id']}: cites no passage"
        for item in items:
            check_quote(multihop_docs, item, r["id"])
            p = passages[item["passage"]]
            assert item["quote"] in p["text"] and item["doc"] == multihop_corpus.article_file(p["title"]), r["id"]
        if r["answerable"]:
            assert len({e["passage"] for e in r["evidence"]}) >= 2, f"{r['id']}: one passage answers it"


def test_multihop_mix() -> None:
    rows = records(MULTIHOP)
    unanswerable = sum(not r["answerable"] for r in rows) / len(rows)
    assert 0.12 <= unanswerable <= 0.2
    assert all(r["bridge_evidence"] for r in rows if not r["answerable"])
    kinds = Counter(r["type"] for r in rows if r["answerable"])
    assert kinds["comparison"] >= 15 and kinds["bridge"] >= 40
    articles = {e["doc"] for r in rows for e in r["evidence"]}
    assert len(articles) == len(multihop_corpus.ARTICLES), "every article is cited"
    crossing = sum(len({e["doc"] for e in r["evidence"]}) > 1 for r in rows)
    assert crossing >= 15, "questions joining two articles"


def test_similar_docs_quotes_are_in_their_documents(similar_docs: dict[str, tuple[str, list[str]]]) -> None:
    manifest = {e.file for e in similar_corpus.load_manifest()}
    assert set(similar_docs) == manifest
    for r in records(SIMILAR_DOCS):
        for item in r["evidence"]:
            check_quote(similar_docs, item, r["id"])
        for item in r.get("trap_evidence", []):
            check_quote(similar_docs, item, r["id"])


def test_similar_docs_mix() -> None:
    rows = records(SIMILAR_DOCS)
    files = {e.file for e in similar_corpus.load_manifest()}
    unanswerable = [r for r in rows if not r["answerable"]]
    assert 0.17 <= len(unanswerable) / len(rows) <= 0.25
    for r in unanswerable:
        # The trap: a sibling document holds the fact; the document the question is about does not.
        assert r["about"] in files and r["trap_evidence"], r["id"]
        assert r["names"], f"{r['id']}: an unanswerable question names the document it is about"
    for r in rows:
        assert isinstance(r["names"], list) and (r["type"] == "named") == bool(r["names"]), r["id"]
        for name in r["names"]:
            assert name.split()[0].lower() in r["question"].lower(), (r["id"], name)
    named = sum(bool(r["names"]) for r in rows)
    versioned = sum(any(re.search(r"\d+\.\d+", n) for n in r["names"]) for r in rows)
    assert named >= len(rows) / 3 and versioned >= len(rows) / 3
    assert sum(r["type"] == "paraphrased" for r in rows) >= 10
    assert len({e["doc"] for r in rows for e in r["evidence"]}) == len(files), "every document is asked about"


def test_similar_docs_manifest_is_complete() -> None:
    entries = similar_corpus.load_manifest()
    assert len({e.name for e in entries}) == len(entries) == len({e.file for e in entries}) >= 10
    for e in entries:
        assert re.fullmatch(r"[0-9a-f]{64}", e.sha256) and e.bytes > 5000 and e.license, e.name
        assert e.file == f"{e.name}-{e.version}{Path(e.file).suffix}" and e.dist_info.endswith(".dist-info")


def test_similar_docs_builder_refuses_a_changed_file(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "pkg-1.0.dist-info").mkdir(parents=True)
    (site / "pkg-1.0.dist-info" / "METADATA").write_text("Name: pkg\nVersion: 1.0\n\nchanged\n", "utf-8")
    entry = similar_corpus.Entry("pkg", "1.0", "pkg-1.0.dist-info", "pkg-1.0.md", "0" * 64, 10, "MIT")
    with pytest.raises(similar_corpus.CorpusError, match="differs"):
        similar_corpus.build(tmp_path / "out", site, entries=[entry])
    written = similar_corpus.build(tmp_path / "out", site, allow_mismatch=True, entries=[entry])
    assert [p.name for p in written] == ["pkg-1.0.md"]
    with pytest.raises(similar_corpus.CorpusError, match="missing"):
        similar_corpus.build(tmp_path / "out2", tmp_path / "nowhere", entries=[entry])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["multihop", "similar_docs"])
def test_quotes_survive_the_embedders_token_limit(name: str, request: pytest.FixtureRequest, minilm: Any) -> None:
    """`rag index` splits chunks again at the embedder's limit; no quote may straddle such a cut."""
    folder: Path = request.getfixturevalue(f"{'multihop' if name == 'multihop' else 'similar'}_folder")
    corpus = chunked(folder, Chunker(limit_counter=minilm.count_tokens, limit=minilm.max_tokens))
    for r in records(MULTIHOP if name == "multihop" else SIMILAR_DOCS):
        for item in r["evidence"] + r.get("bridge_evidence", []) + r.get("trap_evidence", []):
            check_quote(corpus, item, r["id"])
