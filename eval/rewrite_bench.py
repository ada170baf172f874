"""Does the chat keep the right context? Hit@k of the query each conversation rule retrieves with.

    python -m eval.rewrite_bench --index INDEX [--set eval/sets/conversations.jsonl] [--sweep]
    python -m eval.rewrite_bench --index .rag/indexes/news --set ../shared/eval/news_dev.jsonl
    python -m eval.rewrite_bench --runs RUN_BEFORE RUN_NOW   # two `rag eval run` folders of the set, per kind

For every question with a history, the gold evidence is looked for in the top k chunks (default 3, what
the prompt shows) retrieved for: the question alone (`alone`), the rule this project used until issue 21
(`before`: carry the previous turn's terms into any question of five words or fewer or holding a word of a
fixed list), always carrying them (`carry`), and `rewrite_query` as it is now (`now`, the keyword rewrite:
no model needed). Rows are per half and per `kind` (follow-up or switch; a set without kinds counts every
question with a history as a follow-up), with Wilson 95% intervals, and `now - before` with a paired
bootstrap interval. `--sweep` retries `STANDALONE_SIMILARITY` on the tune half, the half it was chosen on.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.questions import Question, load_questions, split_of
from eval.scoring import retrieval_scores
from eval.sets import CONVERSATIONS
from eval.summary import bootstrap_indices, interval
from rag import conversation
from rag.conversation import keyword_rewrite, rewrite_query
from rag.types import Hit

RULES = ("alone", "before", "carry", "now")
DEPTH = 10
# The rule replaced in issue 21, kept here only to measure against: a short question, or one holding any
# of these words, was taken for a follow-up.
_OLD_WORDS = frozenset(
    "he him his she her hers it its they them their theirs this that these those there then one ones".split()
)


def _before(question: str, history: Sequence[str]) -> str:
    words = re.findall(r"[a-z']+", question.lower())
    short_or_pointing = len(words) <= 5 or any(w in _OLD_WORDS for w in words)
    return keyword_rewrite(question, history) if short_or_pointing else question


class CachedRetriever:
    """The real retriever, each (query, k) retrieved once: the sweep asks the same queries again."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.cache: dict[tuple[str, int | None], list[Hit]] = {}
        self.seconds: list[float] = []

    def retrieve(self, query: str, k: int | None = None, **overrides: Any) -> list[Hit]:
        if (query, k) not in self.cache:
            started = time.perf_counter()
            self.cache[query, k] = list(self.inner.retrieve(query, k, **overrides))
            self.seconds.append(time.perf_counter() - started)
        return self.cache[query, k]


@dataclass(frozen=True)
class Row:
    """One scored question: its half, kind, and per rule the query and the gold's Hit@k."""

    question: Question
    kind: str
    queries: dict[str, str]
    hits: dict[str, float]


def open_retriever(index: Path) -> CachedRetriever:
    from index.embedding import get_embedder
    from index.store import IndexStore
    from rag.retrieval import DEFAULT_RETRIEVER, get_retriever

    store = IndexStore.open(index)
    return CachedRetriever(get_retriever(DEFAULT_RETRIEVER, store, embedder=get_embedder(store.embedder_name)))


def read_set(path: Path) -> list[tuple[Question, str]]:
    """The questions with a history, each with its kind (the `kind` field; follow-up when absent)."""
    kinds = {}
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            kinds[str(record.get("id"))] = str(record.get("kind") or "follow-up")
    loaded = load_questions(path)
    return [(q, kinds.get(q.id, "follow-up")) for q in loaded.questions if q.history and q.evidence]


def score(questions: Sequence[tuple[Question, str]], retriever: CachedRetriever, k: int) -> list[Row]:
    rows = []
    for q, kind in questions:
        history = list(q.history)
        queries = {
            "alone": q.question,
            "before": _before(q.question, history),
            "carry": keyword_rewrite(q.question, history),
            "now": rewrite_query(q.question, history, None, (), retriever),
        }
        hits = {}
        for rule, text in queries.items():
            chunks = [h.chunk for h in retriever.retrieve(text, DEPTH)]
            hits[rule] = float(retrieval_scores(q, chunks, k)["hit@k"] or 0.0)
        rows.append(Row(q, kind, queries, hits))
    return rows


def wilson(right: float, n: int, z: float = 1.96) -> tuple[float, float]:
    if not n:
        return 0.0, 0.0
    p = right / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - half) / (1 + z * z / n)), min(1.0, (centre + half) / (1 + z * z / n))


def _cell(values: Sequence[float]) -> str:
    right, n = sum(values), len(values)
    low, high = wilson(right, n)
    return f"{right:.0f}/{n} {100 * right / n:3.0f}% [{100 * low:.0f}-{100 * high:.0f}]"


def _delta(now: Sequence[float], before: Sequence[float]) -> str:
    diff = np.asarray(now) - np.asarray(before)
    low, high = interval(diff[bootstrap_indices(len(diff))].mean(axis=1))
    return f"{100 * diff.mean():+.0f} [{100 * (low or 0):+.0f}, {100 * (high or 0):+.0f}]"


def table(rows: Sequence[Row], k: int) -> Iterator[str]:
    yield f"| half | kind | n | {' | '.join(f'Hit@{k} {r}' for r in RULES)} | now - before (pts) | rewritten now |"
    yield "|" + "---|" * (len(RULES) + 5)
    for half in ("tune", "report", "all"):
        for kind in sorted({r.kind for r in rows}):
            sel = [r for r in rows if r.kind == kind and half in ("all", split_of(r.question))]
            if not sel:
                continue
            cells = " | ".join(_cell([r.hits[rule] for r in sel]) for rule in RULES)
            delta = _delta([r.hits["now"] for r in sel], [r.hits["before"] for r in sel])
            rewritten = sum(r.queries["now"] != r.question.question for r in sel)
            yield f"| {half} | {kind} | {len(sel)} | {cells} | {delta} | {rewritten}/{len(sel)} |"


@contextmanager
def similarity(value: float) -> Iterator[None]:
    saved = conversation.STANDALONE_SIMILARITY
    conversation.STANDALONE_SIMILARITY = value
    try:
        yield
    finally:
        conversation.STANDALONE_SIMILARITY = saved


def sweep(questions: Sequence[tuple[Question, str]], retriever: CachedRetriever, k: int) -> Iterator[str]:
    tune = [(q, kind) for q, kind in questions if split_of(q) == "tune"]
    yield "| STANDALONE_SIMILARITY | " + " | ".join(sorted({kind for _, kind in tune})) + " |"
    for value in np.arange(0.30, 0.61, 0.05):
        with similarity(float(value)):
            rows = score(tune, retriever, k)
        cells = [_cell([r.hits["now"] for r in rows if r.kind == kind]) for kind in sorted({r.kind for r in rows})]
        yield f"| {value:.2f} | " + " | ".join(cells) + " |"


def _records(run: Path) -> dict[str, dict[str, Any]]:
    lines = (run / "records.jsonl").read_text("utf-8").splitlines()
    return {r["id"]: r for r in map(json.loads, filter(str.strip, lines))}


def runs_table(path: Path, before: Path, now: Path) -> Iterator[str]:
    """Per kind, two `rag eval run` folders of the set (before, now): right answers, refusals, and the
    citation precision ("precision") of the answers that cite, over the questions both runs hold."""
    kinds = {q.id: kind for q, kind in read_set(path)}
    runs = _records(before), _records(now)
    yield "| kind | n | right before | right now | now - before (pts) | refused before / now | precision before / now |"
    yield "|---|---|---|---|---|---|---|"
    for kind in sorted(set(kinds.values())):
        ids = [i for i in runs[0] if i in runs[1] and kinds.get(i) == kind]
        if not ids:
            continue
        right = [[float(run[i]["correct"]) for i in ids] for run in runs]
        refused = "/".join(str(sum(run[i]["refused"] for i in ids)) for run in runs)
        cited = [[run[i]["metrics"]["citation_precision"] for i in ids] for run in runs]
        precision = " / ".join(f"{np.mean([c for c in col if c is not None]):.2f}" for col in cited)
        cells = f"{_cell(right[0])} | {_cell(right[1])} | {_delta(right[1], right[0])}"
        yield f"| {kind} | {len(ids)} | {cells} | {refused} | {precision} |"


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.rewrite_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, help="an index of the set's corpus (rag index)")
    parser.add_argument("--set", type=Path, default=CONVERSATIONS, help="questions with `history` (project JSONL)")
    parser.add_argument("--k", type=int, default=3, help="passages that count (default 3, the prompt's)")
    parser.add_argument("--sweep", action="store_true", help="also retry STANDALONE_SIMILARITY on the tune half")
    parser.add_argument("--show", action="store_true", help="print every question whose rules disagree")
    parser.add_argument("--runs", nargs=2, type=Path, metavar=("BEFORE", "NOW"), help="compare two eval runs per kind")
    args = parser.parse_args(argv)
    if args.runs:
        for line in runs_table(args.set, *args.runs):
            out(line)
        return 0
    if args.index is None:
        parser.error("give --index (or --runs)")
    questions = read_set(args.set)
    if not questions:
        print(f"{args.set}: no question with a history and evidence", file=sys.stderr)
        return 1
    retriever = open_retriever(args.index)
    rows = score(questions, retriever, args.k)
    out(f"{args.set}: {len(rows)} questions with a history; index {args.index}")
    for line in table(rows, args.k):
        out(line)
    seconds = sorted(retriever.seconds)
    out(f"retrieval p50 {1000 * seconds[len(seconds) // 2]:.0f} ms per query ({len(seconds)} queries)")
    if args.show:
        for r in rows:
            if len(rows) < 20 or len(set(r.hits.values())) > 1:
                marks = " ".join(f"{rule}={r.hits[rule]:.0f}" for rule in RULES)
                out(f"{r.question.id} {r.kind} {marks} | {r.question.question} -> {r.queries['now']!r}")
    if args.sweep:
        for line in sweep(questions, retriever, args.k):
            out(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
