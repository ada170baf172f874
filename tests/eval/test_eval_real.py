"""A real evaluation run: real MiniLM index, the real default llama.cpp model, a few news_dev questions (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.runner import RunSettings, run_eval
from tests.conftest import NEWS_DEV, need

pytestmark = pytest.mark.slow


def test_real_run_on_news_dev_questions(news_index: Path, tmp_path: Path) -> None:
    questions = tmp_path / "few.jsonl"
    rows = [json.loads(line) for line in need(NEWS_DEV).read_text("utf-8").splitlines() if line.strip()]
    chosen = [r for r in rows if r["id"] in ("dev-03", "dev-19", "dev-23")]  # answerable, unanswerable, follow-up
    questions.write_text("".join(json.dumps(r) + "\n" for r in chosen), encoding="utf-8")
    run = run_eval(questions, news_index, out=tmp_path / "run", settings=RunSettings(progress=False))
    assert not run.errors and [r.id for r in run.records] == ["dev-03", "dev-19", "dev-23"]
    by_id = {r.id: r for r in run.records}
    # The refinery question: retrieval finds the quote and the model names the refinery, with a correct citation.
    syzran = by_id["dev-03"]
    assert syzran.metrics["hit@k"] == 1.0 and syzran.correct
    assert any(c.correct for c in syzran.citations)
    assert by_id["dev-19"].metrics["refusal_recall"] is not None
    assert by_id["dev-23"].multi_turn and by_id["dev-23"].metrics["hit@k"] is not None
    assert run.summary.group("all").cost.p50["total"] > 0
    assert (run.out_dir / "report.html").stat().st_size > 10_000
    # Rerunning resumes: every record is reused and the model is not asked again.
    again = run_eval(questions, news_index, out=tmp_path / "run", settings=RunSettings(progress=False))
    assert again.reused == 3 and [r.answer for r in again.records] == [r.answer for r in run.records]
