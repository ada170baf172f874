"""`rag eval run QUESTIONS --index DIR ...` and `rag eval compare RUN_A RUN_B`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_run(parser: argparse.ArgumentParser) -> None:
    from eval.questions import FORMATS
    from rag.retrieval import DEFAULT_RETRIEVER, RETRIEVERS

    parser.add_argument("questions", help="question set: project or SQuAD-style .jsonl, .csv, or BEIR queries / folder")
    parser.add_argument("--index", required=True, help="index folder the questions are answered from")
    parser.add_argument("--backend", help="LLM backend name (default: $RAG_BACKEND, else llama-cpp, the local model)")
    parser.add_argument("--model", help="model for the backend: catalogue name, GGUF path, or server model")
    parser.add_argument("--out", help="run folder (default: .rag/eval/NAME-FINGERPRINT); rerun it to resume")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="questions in flight at once (default: %(default)s). Generation itself is serialised by one "
        "model lock, so more workers only overlap retrieval and citation checking with generation",
    )
    parser.add_argument("--limit", type=int, help="only the first N questions (after --sample)")
    parser.add_argument("--sample", type=int, help="a fixed random sample of N questions (see --seed)")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (default: %(default)s)")
    parser.add_argument(
        "--split",
        choices=["tune", "report"],
        help="only one half of the set: its `split` field, else a fixed hash of the question id; "
        "choose defaults on tune, report on report",
    )
    parser.add_argument(
        "--retriever", choices=list(RETRIEVERS), help=f"default: $RAG_RETRIEVER, else {DEFAULT_RETRIEVER}"
    )
    parser.add_argument("--top-k", type=int, help="passages given to the model, and k of Hit@k / Recall@k")
    parser.add_argument(
        "--pipeline",
        choices=["checked", "plain"],
        help="checked (default): evidence windows, refusal gate, citation check; plain: the baseline, the top "
        "chunks whole under one instruction with no checks (run both and `rag eval compare` them)",
    )
    parser.add_argument(
        "--evidence",
        choices=["windows", "sentences"],
        help="what the checked pipeline shows of the top chunks: windows (default) of fixed size around the "
        "query's words, or sentences chosen by meaning and words up to the first-token budget",
    )
    parser.add_argument(
        "--first-token-budget",
        type=float,
        metavar="SECONDS",
        help="with --evidence sentences: seconds from the model call to its first token the evidence is sized to",
    )
    parser.add_argument(
        "--prompt-speed",
        type=float,
        metavar="TOKENS_PER_S",
        help="with --evidence sentences: the backend's prompt tokens per second, fixed (default: measured from "
        "its answers, so prompts depend on the machine's load; fix it to compare configurations)",
    )
    parser.add_argument(
        "--answer-style",
        choices=["brief", "direct"],
        help="brief (default): one or two cited sentences; direct: the short answer first, then its support",
    )
    parser.add_argument("--format", choices=FORMATS, help="question file format (default: detected)")
    parser.add_argument("--qrels", help="BEIR qrels TSV (default: qrels/SPLIT.tsv beside the queries)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--no-log", action="store_true", help="do not log the questions in INDEX/logs/questions.jsonl")


def run_run(args: argparse.Namespace) -> int:
    from eval.runner import RunSettings, run_eval
    from index.runtime import configure_process
    from index.store import StoreError
    from rag.llm.base import LLMError
    from rag.settings import AnswerSettings

    try:
        answer = AnswerSettings.from_env().with_overrides(
            backend=args.backend,
            model=args.model,
            retriever=args.retriever,
            pipeline=args.pipeline,
            evidence=args.evidence,
            first_token_budget=args.first_token_budget,
            prompt_tokens_per_second=args.prompt_speed,
            answer_style=args.answer_style,
            log_questions=False if args.no_log else None,
        )
        settings = RunSettings(
            answer=answer,
            top_k=args.top_k,
            workers=args.workers,
            limit=args.limit,
            sample=args.sample,
            seed=args.seed,
            split=args.split,
            format=args.format,
            qrels=args.qrels,
            progress=not args.quiet,
        )
        # The runner's entry: questions are answered as the chat answers them, one thread each.
        configure_process(serving=True)
        run = run_eval(args.questions, args.index, out=args.out, settings=settings)
    except (StoreError, LLMError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for problem in run.question_set.problems:
        print(f"warning: {run.question_set.path}: {problem}", file=sys.stderr)
    for error in run.errors:
        print(f"failed: {error}", file=sys.stderr)
    print(headline(run.out_dir))
    return 1 if run.errors else 0


def headline(out_dir: Path) -> str:
    """The run's main numbers in a few lines, read back from summary.json."""
    from eval.report import metric_label
    from eval.summary import summary_from_dict

    summary = summary_from_dict(json.loads((out_dir / "summary.json").read_text("utf-8")))
    lines = [f"{summary.questions} questions -> {out_dir}/report.html"]
    for group in summary.groups:
        shown = [f"{metric_label(m.key, summary.k)} {m.mean:.3f}" for m in group.metrics if m.mean is not None]
        lines.append(f"  {group.name} ({group.questions}): right {group.correct:.3f}; " + ", ".join(shown))
        cost = group.cost
        for step in ("first_token", "total"):
            if step in cost.p50:
                mean = f"mean {cost.mean[step]:.2f} s, " if step in cost.mean else ""
                p50, p95 = cost.p50[step], cost.p95[step]
                lines.append(f"    {step.replace('_', ' ')}: {mean}p50 {p50:.2f} s, p95 {p95:.2f} s")
    return "\n".join(lines)


def add_compare(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_a", help="run folder A (the baseline)")
    parser.add_argument("run_b", help="run folder B (the change); deltas are B - A")
    parser.add_argument("--out", help="also write the comparison to this Markdown file")


def run_compare(args: argparse.Namespace) -> int:
    from eval.compare import compare_runs, render_comparison

    try:
        text = render_comparison(compare_runs(args.run_a, args.run_b))
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).write_text(text, "utf-8")
    print(text, end="")
    return 0
