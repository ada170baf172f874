"""Answer latency: time to first token and total time of `Assistant.ask()`, and where it goes."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable

from bench.common import SHARED, WORK
from eval.metrics import percentile
from index.build import build_index
from index.embedding import DEFAULT_EMBEDDER
from index.runtime import configure_process
from rag.answer import Assistant
from rag.llm import LLMBackend
from rag.types import Answer

NEWS = SHARED / "corpus" / "news"
QUESTIONS = SHARED / "eval" / "news_dev.jsonl"
WARM_UP = "Which topics do these columns cover?"

# Each step as Answer.timings reports it. Prompt evaluation is what lies between retrieval and the
# first streamed token; generation is the rest of the model's time.
STEPS: dict[str, Callable[[Answer], float]] = {
    "rewrite": lambda a: a.timings.rewrite,
    "retrieve": lambda a: a.timings.retrieve,
    "prompt eval (to first token)": lambda a: a.timings.first_token - a.timings.rewrite - a.timings.retrieve,
    "generate (after first token)": lambda a: (
        a.timings.generate - (a.timings.first_token - a.timings.rewrite - a.timings.retrieve)
    ),
    "check citations": lambda a: a.timings.check,
    "total": lambda a: a.timings.total,
}


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def run(backend: LLMBackend | None = None) -> str:
    """`backend` None is the default local model; a scripted one checks this code quickly."""
    questions = [json.loads(line) for line in QUESTIONS.read_text("utf-8").splitlines() if line.strip()]
    index = WORK / f"news-{DEFAULT_EMBEDDER}"
    build_index(NEWS, index, embedder=DEFAULT_EMBEDDER)
    configure_process(serving=True)  # answered as `rag chat` answers: one thread a query for torch and FAISS
    assistant = Assistant(index, backend=backend)
    # Loads the model outside every clock. The warm-up question is not one of the timed ones: a timed
    # repeat would hit the model's cached prompt prefix and report a first token in milliseconds.
    assistant.ask(WARM_UP)
    # Follow-ups carry their history, as in a chat: without it "Until when?" has nothing to retrieve.
    answers = [assistant.ask(q["question"], history=q.get("history") or None) for q in questions]
    streamed = [a for a in answers if a.timings.first_token > 0]  # refusals before generation have none
    first = [a.timings.first_token for a in streamed]
    totals = [a.timings.total for a in answers]
    rows = [
        f"| {name} | {_median([step(a) for a in streamed]):.2f} | {percentile([step(a) for a in streamed], 0.95):.2f} |"
        for name, step in STEPS.items()
    ]
    prompt_tokens = _median([float(a.usage.prompt_tokens) for a in streamed])
    answer_tokens = _median([float(a.usage.answer_tokens) for a in streamed])
    gen = [a.usage.answer_tokens / max(STEPS["generate (after first token)"](a), 1e-6) for a in streamed]
    prefill = [a.usage.prompt_tokens / max(STEPS["prompt eval (to first token)"](a), 1e-6) for a in streamed]
    model = str(getattr(assistant.backend, "name", "") or type(assistant.backend).__name__)
    return "\n".join(
        [
            "## Answering (reference corpus)",
            "",
            f"`Assistant.ask()` on the {len(questions)} questions of news_dev.jsonl against the reference "
            f"corpus, default settings and default local model ({model}), 2 threads, one question "
            "at a time (follow-ups with their history) after one untimed warm-up. "
            f"{len(streamed)} answers streamed text; "
            f"{len(answers) - len(streamed)} refused before generation, "
            f"{sum(a.refused for a in answers)} refused in all.",
            "",
            f"Time to first token: p50 **{_median(first):.2f} s**, mean {statistics.fmean(first or [0.0]):.2f} s, "
            f"p95 {percentile(first, 0.95):.2f} s. Total "
            f"(all {len(answers)} questions): p50 {_median(totals):.2f} s, p95 {percentile(totals, 0.95):.2f} s.",
            "",
            "Where the time goes, for the answers that streamed text (seconds):",
            "",
            "| step | p50 | p95 |",
            "|---|---:|---:|",
            *rows,
            "",
            f"Median prompt {prompt_tokens:.0f} tokens and answer {answer_tokens:.0f} tokens; prompt evaluation "
            f"runs at a median {_median(prefill):.0f} tokens/s (counting the system prompt, which llama.cpp "
            f"reads once and then reuses from its cache) and generation at {_median(gen):.1f} tokens/s. "
            "The prompt is the main lever on time to first token.",
        ]
    )
