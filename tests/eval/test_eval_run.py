"""`run_eval`, resume, compare and the command line, with a hash embedder and a scripted model (fast)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from cli import main
from eval.compare import compare_runs, render_comparison
from eval.runner import ConfigMismatch, RunSettings, run_eval, select
from index.build import build_index
from index.chunking import ChunkerSettings
from index.embedding import HashEmbedder
from rag.llm.base import Message
from rag.llm.scripted import ScriptedBackend
from rag.prompting import REFUSAL
from rag.settings import AnswerSettings

DOCS = {
    "alaska.txt": "Alaska summit\n\nThe summit took place in Anchorage, Alaska. Putin arrived by plane on Friday.",
    "pokrovsk.txt": "Front line\n\nRussian forces seized 10km of territory around Pokrovsk before the talks.",
    "taiwan.txt": "Energy\n\nTaiwan burned fossil fuels for 87 percent of its energy supply this year.",
}
QUESTIONS = [
    {
        "id": "q1",
        "question": "Where did the summit take place?",
        "answers": ["Anchorage"],
        "evidence": [{"doc": "alaska.txt", "quote": "took place in Anchorage"}],
    },
    {
        "id": "q2",
        "question": "How much territory did Russian forces seize around Pokrovsk?",
        "answers": ["10km"],
        "evidence": [{"doc": "pokrovsk.txt", "quote": "seized 10km of territory"}],
    },
    {
        "id": "q3",
        "question": "What share of Taiwan energy came from fossil fuels?",
        "answers": ["87 percent"],
        "evidence": [{"doc": "taiwan.txt", "quote": "87 percent"}],
    },
    {"id": "q4", "question": "Who won the football cup in Taiwan?", "answers": [], "answerable": False},
    {
        "id": "q5",
        "question": "And how did Putin arrive there at the summit?",
        "answers": ["by plane"],
        "history": ["Where did the summit take place?"],
        "evidence": [{"doc": "alaska.txt", "quote": "Putin arrived by plane"}],
    },
]
# What the scripted model says to each question (found by a word of the question in the prompt).
REPLIES = {
    "summit take place": "The summit took place in Anchorage, Alaska [1].",
    "Pokrovsk": "Russian forces seized 10km of territory around Pokrovsk [1].",
    "fossil": "Taiwan burned fossil fuels for 87 percent of its energy supply [1].",
    "football": REFUSAL,
    "Putin arrive": "Putin arrived by plane on Friday [1].",
}


class Model(ScriptedBackend):
    """Answers by keyword, counts answer calls per question, and can stop after N answers like a Ctrl-C."""

    def __init__(self, replies: dict[str, str], stop_after: int | None = None) -> None:
        super().__init__(self._answer, name="scripted-eval")
        self.table = replies
        self.stop_after = stop_after
        self.answered: Counter[str] = Counter()

    def _answer(self, messages: Sequence[Message]) -> str:
        last = messages[-1].content
        if "Rewritten question" in last:
            return ""  # the conversation rewrite: fall back to keywords
        question = re.findall(r"Question: (.*)", last)
        key = next(k for k in self.table if k in (question[-1] if question else last))
        if self.stop_after is not None and sum(self.answered.values()) >= self.stop_after:
            raise KeyboardInterrupt
        self.answered[key] += 1
        return self.table[key]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    src = tmp_path_factory.mktemp("docs")
    for name, text in DOCS.items():
        (src / name).write_text(text, encoding="utf-8")
    index = tmp_path_factory.mktemp("index")
    build_index(src, index, embedder=HashEmbedder(64), settings=ChunkerSettings(64, 8))
    questions = tmp_path_factory.mktemp("q") / "dev.jsonl"
    lines = [json.dumps(q) for q in QUESTIONS]
    lines.insert(2, "{this line is broken")
    questions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return questions, index


SETTINGS = RunSettings(top_k=3, answer=AnswerSettings(min_evidence=0.0), progress=False)


def test_run_scores_every_question_and_writes_the_run_folder(data: tuple[Path, Path], tmp_path: Path) -> None:
    questions, index = data
    run = run_eval(questions, index, out=tmp_path / "run", settings=SETTINGS, backend=Model(REPLIES))
    assert [r.id for r in run.records] == ["q1", "q2", "q3", "q4", "q5"]
    assert [str(p) for p in run.question_set.problems] == [
        "line 3: not valid JSON (Expecting property name enclosed in double quotes at column 2)"
    ]
    by_id = {r.id: r for r in run.records}
    assert by_id["q4"].refused and by_id["q4"].correct and by_id["q4"].metrics["refusal_recall"] == 1.0
    assert by_id["q2"].correct and by_id["q2"].metrics["contains"] == 1.0
    assert by_id["q2"].citations and by_id["q2"].citations[0].doc_id == "pokrovsk.txt"
    assert by_id["q2"].citations[0].correct is True and by_id["q2"].metrics["citation_precision"] == 1.0
    assert by_id["q5"].multi_turn and by_id["q5"].metrics["hit@k"] is not None
    summary = run.summary
    assert [g.name for g in summary.groups] == ["all", "single-turn", "multi-turn"]
    assert summary.group("all").metric("refusal_recall").mean == 1.0
    assert "line 3: not valid JSON" in summary.problems[0]
    for name in ("config.json", "records.jsonl", "summary.json", "report.md", "report.html"):
        assert (run.out_dir / name).is_file()
    page = (run.out_dir / "report.html").read_text("utf-8")
    assert page.count("data:image/png;base64,") == 2 and "http" not in page.replace("charset", "")
    report = (run.out_dir / "report.md").read_text("utf-8")
    assert "| Contains gold |" in report and "## Worst questions" in report and "multi-turn (1)" in report
    assert json.loads((run.out_dir / "summary.json").read_text("utf-8"))["questions"] == 5


def test_interrupted_run_resumes_without_repeating_a_question(data: tuple[Path, Path], tmp_path: Path) -> None:
    questions, index = data
    run_eval(questions, index, out=tmp_path / "full", settings=SETTINGS, backend=Model(REPLIES))
    first = Model(REPLIES, stop_after=2)
    with pytest.raises(KeyboardInterrupt):
        run_eval(questions, index, out=tmp_path / "resumed", settings=SETTINGS, backend=first)
    assert len((tmp_path / "resumed" / "records.jsonl").read_text("utf-8").splitlines()) == 2
    second = Model(REPLIES)
    resumed = run_eval(questions, index, out=tmp_path / "resumed", settings=SETTINGS, backend=second)
    assert resumed.reused == 2
    assert sum(first.answered.values()) == 2 and sum(second.answered.values()) == 3
    assert first.answered + second.answered == Counter(dict.fromkeys(REPLIES, 1))
    assert len((tmp_path / "resumed" / "records.jsonl").read_text("utf-8").splitlines()) == 5
    assert _same_metrics(tmp_path / "resumed", tmp_path / "full")


def _same_metrics(a: Path, b: Path) -> bool:
    """Summaries agree except timings, which differ from run to run."""

    def strip(path: Path) -> list[object]:
        groups = json.loads((path / "summary.json").read_text("utf-8"))["groups"]
        return [{k: v for k, v in g.items() if k != "cost"} for g in groups]

    return strip(a) == strip(b)


def test_resume_refuses_another_configuration(
    data: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    questions, index = data
    run_eval(questions, index, out=tmp_path / "run", settings=SETTINGS, backend=Model(REPLIES))
    other = RunSettings(top_k=2, answer=AnswerSettings(min_evidence=0.0), progress=False)
    with pytest.raises(ConfigMismatch, match="differs in: top_k"):
        run_eval(questions, index, out=tmp_path / "run", settings=other, backend=Model(REPLIES))
    with monkeypatch.context() as patch:
        patch.setattr("eval.runner.code_digest", lambda: "edited")
        with pytest.raises(ConfigMismatch, match="differs in: code"):
            run_eval(questions, index, out=tmp_path / "run", settings=SETTINGS, backend=Model(REPLIES))
    # A different selection of the same configuration reuses the records: nothing is asked again.
    again = Model(REPLIES)
    limited = RunSettings(top_k=3, answer=AnswerSettings(min_evidence=0.0), progress=False, limit=2)
    run = run_eval(questions, index, out=tmp_path / "run", settings=limited, backend=again)
    assert run.summary.questions == 2 and run.reused == 2 and not again.answered


def test_parallel_workers_give_the_same_records(data: tuple[Path, Path], tmp_path: Path) -> None:
    questions, index = data
    one = run_eval(questions, index, out=tmp_path / "one", settings=SETTINGS, backend=Model(REPLIES))
    parallel = RunSettings(top_k=3, answer=AnswerSettings(min_evidence=0.0), progress=False, workers=3)
    three = run_eval(questions, index, out=tmp_path / "three", settings=parallel, backend=Model(REPLIES))
    assert [(r.id, r.answer, r.metrics) for r in one.records] == [(r.id, r.answer, r.metrics) for r in three.records]


def test_sample_is_a_prefix_of_one_seeded_shuffle() -> None:
    from eval.questions import Question

    qs = [Question(str(i), "?") for i in range(50)]
    small = select(qs, limit=None, sample=10, seed=3)
    large = select(qs, limit=None, sample=30, seed=3)
    assert large[:10] == small and len({q.id for q in large}) == 30
    assert select(qs, limit=None, sample=10, seed=4) != small
    assert select(qs, limit=5, sample=10, seed=3) == small[:5]


def test_compare_reports_deltas_and_flips(data: tuple[Path, Path], tmp_path: Path) -> None:
    questions, index = data
    run_eval(questions, index, out=tmp_path / "a", settings=SETTINGS, backend=Model(REPLIES))
    worse = {
        **REPLIES,
        "Pokrovsk": "Russian forces seized some territory around Pokrovsk [1].",
        "football": "Taiwan burned fossil fuels [1].",
    }
    better_q = {**worse, "fossil": REFUSAL}
    run_eval(questions, index, out=tmp_path / "b", settings=SETTINGS, backend=Model(better_q))
    c = compare_runs(tmp_path / "a", tmp_path / "b")
    assert c.common == 5
    # A: q1-q5 all right. B: q2 lost its answer, q3 declined, q4 answered an unanswerable question.
    assert sorted(f.id for f in c.right_to_wrong) == ["q2", "q3", "q4"] and c.wrong_to_right == ()
    right = next(d for d in c.deltas if d.key == "correct")
    assert (right.a, right.b, right.delta, right.n_a, right.n_b) == pytest.approx((1.0, 0.4, -0.6, 5, 5))
    # Refusal precision: A declined only q4 (unanswerable) -> 1.0; B declined q3 (answerable) -> 0.0.
    refusal = next(d for d in c.deltas if d.key == "refusal_precision")
    assert (refusal.a, refusal.b, refusal.delta, refusal.n_a, refusal.n_b) == (1.0, 0.0, -1.0, 1, 1)
    assert right.low is not None and right.high is not None and right.low <= -0.6 <= right.high < 0
    text = render_comparison(c)
    assert "| Right | 1.000 | 0.400 | -0.600 |" in text and "## Right in A, wrong in B (3)" in text
    assert "backend" not in text  # same configuration name: no change listed


def test_command_line_run_and_compare(
    data: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions, index = data
    args = ["eval", "run", str(questions), "--index", str(index), "--backend", "scripted", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "a"), "--limit", "2"]) == 0
    out = capsys.readouterr()
    assert "2 questions ->" in out.out and "all (2): right" in out.out
    assert "warning:" in out.err and "line 3: not valid JSON" in out.err
    assert main([*args, "--out", str(tmp_path / "a"), "--top-k", "2"]) == 2
    assert "another configuration (differs in: top_k)" in capsys.readouterr().err
    assert main(["eval", "compare", str(tmp_path / "a"), str(tmp_path / "a"), "--out", str(tmp_path / "c.md")]) == 0
    assert "| Right |" in capsys.readouterr().out and (tmp_path / "c.md").is_file()
    assert main(["eval", "compare", str(tmp_path / "a"), str(tmp_path / "none")]) == 2
    assert "No records.jsonl in" in capsys.readouterr().err
    assert main(["eval", "run", str(tmp_path / "missing.jsonl"), "--index", str(index)]) == 2
    assert "No question file" in capsys.readouterr().err


def test_beir_questions_are_scored_on_retrieval_alone(tmp_path: Path) -> None:
    corpus = tmp_path / "beir" / "corpus.jsonl"
    corpus.parent.mkdir()
    docs = {"d1": "Lava and magma erupt from volcanoes.", "d2": "Tides move the oceans twice a day."}
    corpus.write_text("".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n" for i, t in docs.items()), "utf-8")
    queries = tmp_path / "beir" / "queries.jsonl"
    queries.write_text('{"_id": "1", "text": "magma volcanoes"}\n{"_id": "2", "text": "tides oceans"}\n', "utf-8")
    qrels = tmp_path / "beir" / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\n1\td1\t1\n2\td2\t1\n", "utf-8")
    index = tmp_path / "index"
    build_index(corpus, index, embedder=HashEmbedder(64))
    # No backend is loaded for retrieval-only questions: the openai backend (no server here) is never built.
    settings = RunSettings(
        answer=AnswerSettings(backend="openai", retriever="lexical"), qrels=str(qrels), progress=False
    )
    run = run_eval(queries, index, out=tmp_path / "run", settings=settings)
    assert run.question_set.format == "beir" and run.summary.k == 10
    assert [(r.id, r.metrics["hit@k"], r.metrics["mrr@10"], r.metrics.get("f1")) for r in run.records] == [
        ("1", 1.0, 1.0, None),
        ("2", 1.0, 1.0, None),
    ]
    assert run.summary.group("all").metric("ndcg@10").mean == 1.0
    assert run.summary.group("all").metric("f1").mean is None and run.config["fields"]["backend"] == ""


def test_plain_baseline_and_checked_pipeline_in_one_comparison(data: tuple[Path, Path], tmp_path: Path) -> None:
    """`--pipeline plain` is the baseline every checked step is compared with, in the same run folder format."""
    questions, index = data
    plain_replies = {**REPLIES, "football": "I don't know."}
    plain = RunSettings(top_k=3, answer=AnswerSettings(min_evidence=0.0, pipeline="plain"), progress=False)
    base = run_eval(questions, index, out=tmp_path / "plain", settings=plain, backend=Model(plain_replies))
    checked = run_eval(questions, index, out=tmp_path / "checked", settings=SETTINGS, backend=Model(REPLIES))
    by_id = {r.id: r for r in base.records}
    assert by_id["q4"].refused and by_id["q4"].refusal_reason == "the model said it does not know"
    assert by_id["q2"].citations == () and by_id["q2"].metrics["citation_precision"] is None
    assert base.config["fields"]["answer_settings"]["pipeline"] == "plain"
    everything = base.summary.group("all")
    assert everything.metric("false_refusal").mean == 0.0 and everything.metric("short_f1").mean is not None
    text = render_comparison(compare_runs(tmp_path / "plain", tmp_path / "checked"))
    assert "Short F1" in text and "False refusals" in text
    assert checked.summary.group("all").metric("citation_precision").mean == 1.0


def test_rag_eval_run_takes_the_pipeline(data: tuple[Path, Path], tmp_path: Path) -> None:
    questions, index = data
    args = ["eval", "run", str(questions), "--index", str(index), "--pipeline", "fancy"]
    with pytest.raises(SystemExit):
        main(args)


def test_rag_eval_run_takes_the_evidence_and_answer_style(
    data: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The two evidence modes and answer styles compare in one `rag eval compare` of two runs."""
    questions, index = data
    args = ["eval", "run", str(questions), "--index", str(index), "--backend", "scripted", "--quiet", "--limit", "2"]
    chosen = ["--evidence", "sentences", "--first-token-budget", "1.5", "--prompt-speed", "200"]
    chosen += ["--answer-style", "direct"]
    assert main([*args, "--out", str(tmp_path / "s"), *chosen]) == 0
    config = json.loads((tmp_path / "s" / "config.json").read_text("utf-8"))["fields"]["answer_settings"]
    assert (config["evidence"], config["first_token_budget"]) == ("sentences", 1.5)
    assert (config["prompt_tokens_per_second"], config["answer_style"]) == (200.0, "direct")
    assert main([*args, "--out", str(tmp_path / "s"), "--first-token-budget", "0"]) == 2
    assert "first_token_budget=0.0 is invalid" in capsys.readouterr().err


def test_split_runs_one_half_and_the_halves_partition_the_set(data: tuple[Path, Path], tmp_path: Path) -> None:
    from eval.questions import load_questions, split_of

    questions, index = data
    halves = {}
    for split in ("tune", "report"):
        settings = RunSettings(top_k=3, answer=AnswerSettings(min_evidence=0.0), split=split, progress=False)
        run = run_eval(questions, index, out=tmp_path / split, settings=settings, backend=Model(REPLIES))
        halves[split] = {r.id for r in run.records}
    assert halves["tune"].isdisjoint(halves["report"])
    assert halves["tune"] | halves["report"] == {q["id"] for q in QUESTIONS}
    loaded = load_questions(questions).questions
    assert {q.id for q in loaded if split_of(q) == "tune"} == halves["tune"]
    with pytest.raises(ValueError, match="split='half' must be one of tune, report"):
        RunSettings(split="half")
