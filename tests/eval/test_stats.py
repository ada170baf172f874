"""`rag stats`: the figures from hand-made log lines, and on the log a `rag eval run` wrote, the same
counts as the run's summary."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from cli import main
from eval.runner import RunSettings, run_eval
from eval.stats import parse_line, render, summarize_log
from rag.llm.base import Message
from rag.llm.scripted import ScriptedBackend
from rag.prompting import REFUSAL
from rag.question_log import log_path
from rag.settings import AnswerSettings

QUESTIONS = [
    {"id": "q1", "question": "Where did the summit take place?", "answers": ["Anchorage"]},
    {"id": "q2", "question": "How much territory did Russian forces seize around Pokrovsk?", "answers": ["10km"]},
    {"id": "q3", "question": "What share of Taiwan energy came from fossil fuels?", "answers": ["87 percent"]},
    {"id": "q4", "question": "Who won the football cup in Taiwan?", "answers": [], "answerable": False},
]
REPLIES = {
    "summit": "The summit took place in Anchorage, Alaska [1]. It was sunny and warm all week.",
    "Pokrovsk": "Russian forces seized 10km of territory around Pokrovsk [1].",
    "fossil": "Taiwan burned fossil fuels for 87 percent of its energy supply [1].",
    "football": REFUSAL,
}


def _reply(messages: Sequence[Message]) -> str:
    question = re.findall(r"Question: (.*)", messages[-1].content)[-1]
    return next(reply for key, reply in REPLIES.items() if key in question)


def _line(day: str, refused: bool = False, sentences: int = 2, unsupported: int = 0, total: float = 1.0) -> str:
    timings = {"first_token": 0.0 if refused else total / 2, "total": total}
    record = {"time": f"{day}T09:30:00+02:00", "refused": refused, "sentences": sentences}
    return json.dumps({**record, "unsupported": unsupported, "timings": timings})


def test_figures_from_log_lines() -> None:
    lines = [
        _line("2025-05-01", total=1.0),
        _line("2025-05-01", unsupported=1, total=2.0),
        _line("2025-05-02", refused=True, sentences=0, total=0.1),
        '{"time": "2025-05-02T1',  # torn by a crash
        "",
        _line("2025-05-03", sentences=4, unsupported=1, total=3.0),
    ]
    stats = summarize_log(lines)
    assert stats.questions == 4 and stats.refused == 1 and stats.refusal_rate == 0.25 and stats.skipped_lines == 1
    assert [(d.day, d.questions, d.refused) for d in stats.days] == [
        ("2025-05-01", 2, 0),
        ("2025-05-02", 1, 1),
        ("2025-05-03", 1, 0),
    ]
    # The mean share per answer, as rag eval's "Unsupported sentences": (0 + 1/2 + 1/4) / 3.
    assert stats.unsupported_rate == pytest.approx(0.25)
    assert (stats.unsupported_sentences, stats.answer_sentences) == (2, 8)
    assert stats.p50["total"] == 1.5 and stats.p50["first_token"] == 1.0  # no first token when declined
    assert stats.p95["total"] == pytest.approx(2.85)
    text = render(stats, "questions.jsonl", days=2)
    assert "4 questions on 3 days (2025-05-01 to 2025-05-03)" in text and "the last 2 of 3 days" in text
    assert "2025-05-01" not in text.split("questions per day")[1] and "1/4 = 25.0%" in text
    assert parse_line("[1, 2]") is None and parse_line('{"time": "x"}') is None
    assert render(summarize_log([]), "q.jsonl") == "q.jsonl: no questions logged yet"


def test_stats_on_an_eval_runs_log_match_its_summary(
    small_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "dev.jsonl"
    questions.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS), encoding="utf-8")
    settings = RunSettings(top_k=3, answer=AnswerSettings(min_evidence=0.0), progress=False)
    run = run_eval(questions, small_index, out=tmp_path / "run", settings=settings, backend=ScriptedBackend(_reply))
    summary = json.loads((run.out_dir / "summary.json").read_text("utf-8"))
    refused = sum(r.refused for r in run.records)
    assert summary["questions"] == 4 and refused == 1

    assert main(["stats", "--index", str(small_index), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["questions"], stats["refused"]) == (summary["questions"], refused)
    unsupported = next(m for m in summary["groups"][0]["metrics"] if m["key"] == "unsupported")
    assert stats["unsupported_rate"] == pytest.approx(unsupported["mean"]) and unsupported["mean"] > 0

    assert main(["stats", "--log", str(log_path(small_index))]) == 0
    shown = capsys.readouterr().out
    assert f"{summary['questions']} questions on 1 day (" in shown
    assert f"{refused}/{summary['questions']} = 25.0%" in shown
    assert re.search(r"total\s+\d+\.\d\d\s+\d+\.\d\d", shown)


def test_eval_run_no_log_and_stats_without_a_log(
    small_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "dev.jsonl"
    questions.write_text(json.dumps(QUESTIONS[0]) + "\n", encoding="utf-8")
    monkeypatch.setenv("RAG_BACKEND", "scripted")
    args = ["eval", "run", str(questions), "--index", str(small_index), "--quiet", "--no-log"]
    assert main([*args, "--out", str(tmp_path / "quiet")]) == 0
    assert not log_path(small_index).exists()
    assert main(["stats", "--index", str(small_index)]) == 2
    assert "no question log at" in capsys.readouterr().err
    assert main([*args[:-1], "--out", str(tmp_path / "logged")]) == 0
    assert len(log_path(small_index).read_text("utf-8").splitlines()) == 1
