"""The checked pipeline against the plain baseline (rag/plain.py), same model, index and questions, one run.

A pipeline step earns its place by beating the plain prompt; this section puts both side by side
with a paired 95% interval on every metric (`rag eval compare`), so no change is judged alone.
"""

from __future__ import annotations

from bench.common import SHARED, WORK
from eval.compare import compare_runs
from eval.runner import RunSettings, run_eval
from index.build import build_index
from index.embedding import DEFAULT_EMBEDDER
from rag.llm import LLMBackend
from rag.settings import AnswerSettings

NEWS = SHARED / "corpus" / "news"
QUESTIONS = SHARED / "eval" / "news_dev.jsonl"
SHOWN = ("correct", "contains", "short_f1", "citation_precision", "refusal_recall", "false_refusal")


def run(backend: LLMBackend | None = None) -> str:
    """`backend` None is the default local model; a scripted one checks this code quickly."""
    index = WORK / f"news-{DEFAULT_EMBEDDER}"
    build_index(NEWS, index, embedder=DEFAULT_EMBEDDER)
    runs = {}
    for pipeline in ("plain", "checked"):
        out = WORK / f"baseline-{pipeline}"
        settings = RunSettings(answer=AnswerSettings(pipeline=pipeline, log_questions=False), progress=False)
        runs[pipeline] = run_eval(QUESTIONS, index, out=out, settings=settings, backend=backend)
    c = compare_runs(runs["plain"].out_dir, runs["checked"].out_dir)
    rows = []
    for d in c.deltas:
        if d.key not in SHOWN or d.a is None or d.b is None:
            continue
        ci = f"[{d.low:+.3f}, {d.high:+.3f}]" if d.low is not None and d.high is not None else "–"
        rows.append(f"| {d.label} | {d.a:.3f} | {d.b:.3f} | {d.delta:+.3f} | {ci} |")
    cost = {p: r.summary.group("all").cost for p, r in runs.items()}
    ttft = " · ".join(f"{p} {cost[p].p50.get('first_token', 0.0):.2f} s" for p in runs)
    total = " · ".join(f"{p} {cost[p].p95.get('total', 0.0):.2f} s" for p in runs)
    return "\n".join(
        [
            "## Checked pipeline against the plain baseline (news dev)",
            "",
            f"The {c.common} questions of news_dev.jsonl, default model and retriever, answered twice: plain "
            "(the top chunks whole under one instruction, no checks) and checked (the default). "
            "B − A with a paired bootstrap 95% interval; a step earns its place by a positive interval.",
            "",
            "| metric | plain | checked | checked − plain | 95% CI |",
            "|---|---:|---:|---:|---:|",
            *rows,
            "",
            f"First token p50: {ttft}. Total p95: {total}.",
        ]
    )
