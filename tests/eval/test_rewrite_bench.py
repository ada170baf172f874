"""eval/rewrite_bench.py: the rules it compares, and its table, over a stub retriever."""

from __future__ import annotations

from typing import Any

import pytest

from eval import rewrite_bench
from eval.questions import Evidence, Question
from index.types import Chunk
from rag.conversation import keyword_rewrite
from rag.types import Hit

GOLD = "Yuriy Shchygol, a Ukrainian Brigadier General"


class Stub:
    """The gold passage first for any query naming Shchygol or strikes, an unrelated one otherwise."""

    def retrieve(self, query: str, k: int | None = None, **overrides: Any) -> list[Hit]:
        gold = any(w in query for w in ("Shchygol", "strikes"))
        text = GOLD if gold else "The Istanbul Bridge arrived in Britain in October."
        return [Hit(Chunk("c", "n.txt", "n.txt", "n", text, 0, len(text)), 1.0, 1, {"dense": 0.2})]


def question(qid: str, text: str, history: tuple[str, ...], split: str) -> Question:
    return Question(qid, text, ("Brigadier General",), True, (Evidence(GOLD, "n.txt"),), history=history, split=split)


def test_the_old_rule_took_every_short_question_for_a_follow_up() -> None:
    history = ["Which ship crossed the arctic?"]
    assert rewrite_bench._before("Who is Shchygol?", history) == keyword_rewrite("Who is Shchygol?", history)
    long_one = "Which Ukrainian general vowed to keep up the drone strikes?"
    assert rewrite_bench._before(long_one, history) == long_one
    assert rewrite_bench._before(long_one + " this year", history) != long_one + " this year"


def test_rows_and_table_per_half_and_kind() -> None:
    retriever = rewrite_bench.CachedRetriever(Stub())
    qs = [
        (question("f", "What is his rank?", ("Who vowed to continue drone strikes?",), "tune"), "follow-up"),
        (question("s", "Who is Yuriy Shchygol?", ("Which ship crossed the arctic?",), "report"), "switch"),
    ]
    rows = rewrite_bench.score(qs, retriever, 3)
    follow, switch = rows
    assert follow.hits == {"alone": 0.0, "before": 1.0, "carry": 1.0, "now": 1.0}
    assert switch.queries["now"] == "Who is Yuriy Shchygol?" and switch.hits["now"] == 1.0
    lines = list(rewrite_bench.table(rows, 3))
    assert lines[0].startswith("| half | kind | n | Hit@3 alone")
    assert any(line.startswith("| tune | follow-up | 1 | 0/1") for line in lines)
    assert any(line.startswith("| all | switch | 1 |") for line in lines)


@pytest.mark.parametrize(("right", "n"), [(0, 10), (5, 10), (10, 10), (33, 36)])
def test_wilson_interval_holds_the_rate(right: int, n: int) -> None:
    low, high = rewrite_bench.wilson(right, n)
    assert 0.0 <= low <= right / n <= high <= 1.0 and high - low < 0.7
