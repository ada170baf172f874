"""`rag eval retrieval` and `python -m eval` end to end on a tiny BEIR set with the hash embedder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli import main
from eval.cli import default_index_dir

ROOT = Path(__file__).resolve().parents[2]


def beir(root: Path) -> tuple[Path, Path, Path]:
    root.mkdir(parents=True, exist_ok=True)
    docs = {
        "d1": ("Volcanoes", "Lava and magma erupt from volcanoes."),
        "d2": ("Oceans", "Tides move the oceans twice a day."),
        "d3": ("Forests", "Rain forests hold many species of trees."),
    }
    corpus = root / "corpus.jsonl"
    corpus.write_text(
        "".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, (t, x) in docs.items()), "utf-8"
    )
    queries = root / "queries.jsonl"
    queries.write_text('{"_id": "1", "text": "magma"}\n{"_id": "2", "text": "tides oceans"}\n', "utf-8")
    qrels = root / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\n1\td1\t1\n2\td2\t1\n", "utf-8")
    return corpus, queries, qrels


def eval_args(corpus: Path, queries: Path, qrels: Path, index: Path, *extra: str) -> list[str]:
    base = ["eval", "retrieval", "--corpus", str(corpus), "--queries", str(queries), "--qrels", str(qrels)]
    return [*base, "--index", str(index), "--embedder", "hash", "--quiet", *extra]


def test_rag_eval_retrieval_prints_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus, queries, qrels = beir(tmp_path / "data")
    assert main(eval_args(corpus, queries, qrels, tmp_path / "idx", "--retriever", "lexical")) == 0
    out = capsys.readouterr().out
    assert "lexical: 2 queries" in out
    assert "nDCG@10 1.0000  Recall@10 1.0000  Recall@100 1.0000  MRR@10 1.0000" in out
    assert "latency per query: p50" in out
    extra = ("--fusion", "zscore", "--mmr", "--limit", "1")
    assert main(eval_args(corpus, queries, qrels, tmp_path / "idx", *extra)) == 0
    assert "hybrid (zscore) + MMR: 1 queries" in capsys.readouterr().out


def test_eval_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus, queries, qrels = beir(tmp_path / "data")
    assert main(eval_args(corpus, queries, tmp_path / "missing.tsv", tmp_path / "idx")) == 2
    assert "error: No file at" in capsys.readouterr().err
    assert main(eval_args(corpus, queries, qrels, tmp_path / "idx", "--rerank", str(tmp_path / "no-model"))) == 2
    assert "error: No cross-encoder model in" in capsys.readouterr().err
    assert main(eval_args(corpus, queries, qrels, tmp_path / "idx", "--retriever", "dense", "--fusion", "rrf")) == 2
    assert "--fusion fuses dense and lexical results; it needs --retriever hybrid" in capsys.readouterr().err
    assert main(["eval"]) == 2
    assert "say what to evaluate: one of retrieval" in capsys.readouterr().err


def test_qrels_naming_unknown_documents_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus, queries, _ = beir(tmp_path / "data")
    qrels = tmp_path / "other.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\n1\td1\t1\n2\tX99\t1\n", "utf-8")
    assert main(eval_args(corpus, queries, qrels, tmp_path / "idx")) == 0
    captured = capsys.readouterr()
    assert "warning: 1 of 2 relevant documents in the qrels are not in the index (e.g. 'X99')" in captured.err
    assert "hybrid: 2 queries" in captured.out


def test_default_index_dir_names_files_by_their_folder(tmp_path: Path) -> None:
    corpus, _, _ = beir(tmp_path / "scifact")
    assert default_index_dir(corpus) == Path(".rag/indexes/scifact-corpus")
    assert default_index_dir(tmp_path / "scifact") == Path(".rag/indexes/scifact")


def test_python_m_eval_runs(tmp_path: Path) -> None:
    corpus, queries, qrels = beir(tmp_path / "data")
    argv = eval_args(corpus, queries, qrels, tmp_path / "idx", "--retriever", "lexical")
    argv.remove("--quiet")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "lexical: 2 queries" in proc.stdout
    assert "indexing" in proc.stderr
