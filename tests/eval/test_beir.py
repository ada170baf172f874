"""BEIR loaders: queries (.jsonl and .tsv), qrels TSV with a header."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.beir import DataError, load_qrels, load_queries


def test_load_queries(tmp_path: Path) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"_id": "q1", "text": "what?", "metadata": {}}\n', "utf-8")
    assert load_queries(queries) == {"q1": "what?"}
    tsv = tmp_path / "queries.tsv"
    tsv.write_text("query-id\ttext\nq1\twhat?\nq2\twhy?\n", "utf-8")
    assert load_queries(tsv) == {"q1": "what?", "q2": "why?"}


def test_load_qrels_skips_the_header_and_keeps_grades(tmp_path: Path) -> None:
    qrels = tmp_path / "test.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\n1\t10\t1\n1\t11\t2\n2\t10\t0\n", "utf-8")
    assert load_qrels(qrels) == {"1": {"10": 1, "11": 2}, "2": {"10": 0}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1\t10\t1\n", "1: expected a header line"),
        ("query-id\tcorpus-id\tscore\n1\t10\n", "2: expected 'query-id<TAB>corpus-id<TAB>score', got 2 fields"),
        ("query-id\tcorpus-id\tscore\n1\t10\thigh\n", "2: score 'high' is not an integer"),
    ],
)
def test_bad_qrels_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "q.tsv"
    path.write_text(text, "utf-8")
    with pytest.raises(DataError, match=message):
        load_qrels(path)


def test_bad_json_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "queries.jsonl"
    path.write_text('{"_id": "1", "text": "ok"}\n{"_id": "2"}\n', "utf-8")
    with pytest.raises(DataError, match=r"queries.jsonl:2: expected a JSON object with _id, text"):
        load_queries(path)
    path.write_text("{oops\n", "utf-8")
    with pytest.raises(DataError, match=r":1: not valid JSON"):
        load_queries(path)
    with pytest.raises(FileNotFoundError, match=r"nope.tsv"):
        load_qrels(tmp_path / "nope.tsv")
