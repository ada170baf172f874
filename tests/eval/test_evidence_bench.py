"""Gold-in-prompt per evidence mode, with hand-made hits and no model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from eval.evidence_bench import Mode, measure, memo, table
from eval.questions import Question
from index.types import Chunk, Vectors
from rag.llm.scripted import ScriptedBackend
from rag.types import Hit

FILLER = " ".join(f"Filler sentence number {n} says nothing much." for n in range(12))
TEXT = f"The summit was held in Alaska. {FILLER} It ended after Anchorage hosted it."


def embed(texts: Sequence[str]) -> Vectors:
    return np.asarray([[1.0, 0.0] if i == 0 or "Anchorage" in t else [0.0, 1.0] for i, t in enumerate(texts)], "f4")


def test_each_mode_is_scored_on_the_same_retrieved_hits() -> None:
    question = Question(id="q1", question="Which city hosted the summit?", answers=("Anchorage",))
    hits = [Hit(Chunk("c1", "a.txt", "a.txt", "A", TEXT, 0, len(TEXT)), 1.0, 1)]
    modes = [Mode("windows", 20), Mode("sentences", 40), Mode("whole", None)]
    found = measure([question], lambda q: hits, modes, ScriptedBackend().count_tokens, embed)
    assert {m.label: got for m, (got, _) in found.items()} == {
        "windows 20": [False],
        "sentences 40 (0.5/0.4/0.1)": [True],
        "whole": [True],
    }
    assert found[modes[0]][1][0] <= 20 + 6 < found[modes[2]][1][0]  # the window and its label
    assert "| sentences 40 (0.5/0.4/0.1) | 1/1 (100.0%)" in "\n".join(table(found))


def test_memo_embeds_each_text_once() -> None:
    seen: list[str] = []

    def counting(texts: Sequence[str]) -> Vectors:
        seen.extend(texts)
        return embed(texts)

    cached = memo(counting)
    first = cached(["a", "Anchorage"])
    again = cached(["Anchorage", "a", "b"])
    assert seen == ["a", "Anchorage", "b"] and (first[1] == again[0]).all()


def test_the_command_line_sweeps_sizes_and_weights() -> None:
    from eval.evidence_bench import _parser, modes_of

    args = _parser().parse_args(["q.jsonl", "--index", "i", "--windows", "60,90", "--sentences", "200"])
    assert [m.label for m in modes_of(args)] == ["windows 60", "windows 90", "sentences 200 (0.5/0.4/0.1)", "whole"]
    args = _parser().parse_args(["q.jsonl", "--index", "i", "--sentences", "200", "--dense-weights", "0,0.9"])
    assert [m.label for m in modes_of(args)][1:3] == ["sentences 200 (0/0.9/0.1)", "sentences 200 (0.9/0/0.1)"]
