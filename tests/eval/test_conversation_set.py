"""eval/sets/conversations.jsonl: chat turns whose last question is scored, follow-ups and topic switches.

Schema, the halves (balanced per kind and corpus by eval/sets/split.py's rule), the project loader, and
every quote found verbatim inside one chunk of the document it names, in the corpus its builder writes
(the news articles beside the SQuAD 2.0 articles; needs ../shared).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from eval.questions import load_questions
from eval.sets import CONVERSATIONS
from eval.sets.conversations import build_corpus
from eval.sets.multihop.build_corpus import CorpusError
from eval.sets.split import assign_splits, stratum
from index.chunking import Chunker
from tests.conftest import NEWS, SQUAD2, need
from tests.eval.test_new_sets import answer_in, check_quote, chunked, records

KINDS = ("follow-up", "switch")
CORPORA = ("news", "squad2")


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return records(CONVERSATIONS)


def test_schema_kinds_and_size(rows: list[dict[str, Any]]) -> None:
    assert len({r["id"] for r in rows}) == len(rows)
    kinds = Counter(r["kind"] for r in rows)
    assert set(kinds) == set(KINDS) and kinds["follow-up"] == kinds["switch"] >= 40
    for r in rows:
        where = r["id"]
        assert r["corpus"] in CORPORA and r["type"] == f"{r['kind']}/{r['corpus']}", where
        assert r["answerable"] is True and r["answers"] and all(a.strip() for a in r["answers"]), where
        assert r["question"] == " ".join(r["question"].split()), where
        assert 1 <= len(r["history"]) <= 2 and all(isinstance(h, str) and h.strip() for h in r["history"]), where
        assert r["question"] not in r["history"], where
        assert [set(e) for e in r["evidence"]] == [{"doc", "quote"}] * len(r["evidence"]) and r["evidence"], where
        news = all(re.fullmatch(r"\d{3}_[0-9a-f]{16}\.txt", e["doc"]) for e in r["evidence"])
        assert news == (r["corpus"] == "news"), where
        assert answer_in(" ".join(e["quote"] for e in r["evidence"]), r["answers"]), where


def test_short_and_pointing_switches_are_in_the_set(rows: list[dict[str, Any]]) -> None:
    """The cases the old rule got wrong must be there to be measured."""
    switches = [r["question"] for r in rows if r["kind"] == "switch"]
    assert sum(len(q.split()) <= 5 for q in switches) >= 10
    assert sum(bool(re.search(r"\b(it|this|that|her|their)\b", q, re.I)) for q in switches) >= 8
    assert sum(q.split()[0] in ("And", "So") for q in switches) >= 4
    follow_ups = [r["question"] for r in rows if r["kind"] == "follow-up"]
    assert sum(len(r["history"]) == 2 for r in rows) >= 6
    assert any(q.startswith("Why") and len(q.split()) <= 2 for q in follow_ups)
    assert sum(q.startswith(("And ", "What about")) for q in follow_ups) >= 5


def test_halves_are_the_rule_and_balanced_per_kind(rows: list[dict[str, Any]]) -> None:
    assert {r["id"]: r["split"] for r in rows} == assign_splits(rows)
    per = Counter((stratum(r), r["split"]) for r in rows)
    for key in {stratum(r) for r in rows}:
        assert abs(per[key, "tune"] - per[key, "report"]) <= 1, key
    for kind in KINDS:
        halves = Counter(r["split"] for r in rows if r["kind"] == kind)
        assert abs(halves["tune"] - halves["report"]) <= 1 and min(halves.values()) >= 30, kind


def test_the_project_loader_reads_every_line_with_its_history(rows: list[dict[str, Any]]) -> None:
    qs = load_questions(CONVERSATIONS)
    assert qs.format == "project" and not qs.problems and len(qs.questions) == len(rows)
    for q, r in zip(qs.questions, rows, strict=True):
        assert (q.id, q.question, q.history, q.split) == (r["id"], r["question"], tuple(r["history"]), r["split"])
        assert [(e.doc, e.quote) for e in q.evidence] == [(e["doc"], e["quote"]) for e in r["evidence"]]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need(NEWS)
    shared = need(SQUAD2 / "passages.jsonl").parents[2]
    out = tmp_path_factory.mktemp("conversations-corpus")
    written = build_corpus.build(out, shared)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)
    return out


def test_every_quote_is_inside_one_chunk_of_its_document(folder: Path, rows: list[dict[str, Any]]) -> None:
    corpus = chunked(folder)
    assert len(corpus) == 18
    for r in rows:
        for item in r["evidence"]:
            check_quote(corpus, item, r["id"])


def test_the_builder_refuses_a_folder_holding_other_files(tmp_path: Path) -> None:
    need(NEWS)
    (tmp_path / "stranger.txt").write_text("x", "utf-8")
    with pytest.raises(CorpusError, match="other files"):
        build_corpus.build(tmp_path, need(SQUAD2 / "passages.jsonl").parents[2])


@pytest.mark.slow
def test_quotes_survive_the_embedders_token_limit(folder: Path, rows: list[dict[str, Any]], minilm: Any) -> None:
    corpus = chunked(folder, Chunker(limit_counter=minilm.count_tokens, limit=minilm.max_tokens))
    for r in rows:
        for item in r["evidence"]:
            check_quote(corpus, item, r["id"])
