"""The loop guard (rag/repetition.py): hand-made loops are caught and cut to one copy, normal answers
(tests/data/normal_answers.jsonl) never are, and a looping model is stopped on the real answer path."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from eval.records import QuestionRecord
from rag.answer import Assistant
from rag.llm.base import Message
from rag.llm.scripted import ScriptedBackend
from rag.question_log import log_path
from rag.repetition import LoopGuard, LoopRules, find_loop, guarded
from rag.settings import AnswerSettings

NORMAL = Path(__file__).resolve().parent.parent / "data" / "normal_answers.jsonl"
PHRASE = "The summit took place in Anchorage, Alaska [1]. "


def normal_answers() -> list[str]:
    return [json.loads(line)["text"] for line in NORMAL.read_text("utf-8").splitlines() if line.strip()]


def feed(text: str, seed: int = 0, guard: LoopGuard | None = None) -> tuple[LoopGuard, int]:
    """`text` fed in random 1-9 character pieces until the guard fires; the guard and the characters read."""
    guard = guard or LoopGuard()
    rng = random.Random(seed)
    read = 0
    while read < len(text) and not guard.looped:
        size = rng.randint(1, 9)
        guard.feed(text[read : read + size])
        read += size
    return guard, read


def test_a_phrase_said_twenty_times_is_cut_to_one_copy_and_stopped_early() -> None:
    intro = "Putin and Trump met on Friday. "
    guard, read = feed(intro + PHRASE * 20)
    assert guard.looped and guard.loop is not None
    assert guard.text == intro + PHRASE.strip()
    assert guard.loop.unit == PHRASE.strip() and guard.loop.repeats >= 3
    assert read < len(intro) + 5 * len(PHRASE), "stopped within a few copies, not after twenty"


@pytest.mark.parametrize("seed", range(8))
def test_the_cut_does_not_depend_on_how_the_stream_is_split(seed: int) -> None:
    guard, _ = feed("Answer: " + PHRASE * 20, seed)
    assert guard.text == "Answer: " + PHRASE.strip()


def test_a_single_word_repeated_is_a_loop() -> None:
    guard, _ = feed("The capital is Juneau " + "Juneau " * 40)
    assert guard.looped and guard.text == "The capital is Juneau"


def test_a_sentence_repeated_keeps_one_whole_sentence() -> None:
    # The loop's first word repeats the word before it ("sat"): the cut still ends where the sentence does.
    guard, _ = feed("He sat. The big cat sat. " + "The big cat sat. " * 10)
    assert guard.text == "He sat. The big cat sat."
    assert guard.loop is not None and guard.loop.unit == "The big cat sat."


def test_a_loop_that_only_changes_its_markers_is_still_a_loop() -> None:
    text = "".join(f"Putin arrived by plane on Friday [{n % 3 + 1}]. " for n in range(12))
    guard, _ = feed(text)
    assert guard.text == "Putin arrived by plane on Friday [1]."


def test_a_loop_without_sentence_ends_is_cut_after_its_first_copy() -> None:
    guard, _ = feed("The results: " + "the talks went on and on, " * 8)
    assert guard.text == "The results: the talks went on and on"


def test_a_loop_after_a_long_answer_is_cut_at_the_right_place() -> None:
    """Past the window the guard reads only the tail; the cut is still an offset into the whole text."""
    prefix = "\n\n".join(normal_answers()) + "\n\n"
    assert len(prefix) > 2 * LoopGuard().rules.window_chars
    guard, _ = feed(prefix + PHRASE * 10, seed=3)
    assert guard.text == prefix + PHRASE.strip()


def test_the_normal_answers_fixture_is_varied() -> None:
    texts = normal_answers()
    assert len(texts) >= 30
    assert any("|---" in t for t in texts) and any("\n- " in t for t in texts) and any("][" in t for t in texts)


@pytest.mark.parametrize("seed", range(3))
def test_normal_answers_never_fire(seed: int) -> None:
    for text in normal_answers():
        guard, _ = feed(text, seed)
        assert not guard.looped, f"fired on a normal answer: {text!r} -> {guard.loop}"
        assert find_loop(text, complete=True) is None, text
        one_by_one = LoopGuard(stride=1)
        assert not any(one_by_one.feed(ch) for ch in text), f"fired character by character on {text!r}"
        assert guard.text == text


def test_short_repetitions_that_are_not_loops_pass() -> None:
    for text in (
        "It was very, very, very close [1].",
        "[1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1]",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0",
        "The vote was 50-50. The vote was 50-50. Then it was 51-49 [2].",
    ):
        assert find_loop(text, complete=True) is None, text


def test_rules_that_cannot_tell_a_loop_from_one_copy_are_refused() -> None:
    with pytest.raises(ValueError, match="min_repeats"):
        LoopRules(min_repeats=1)
    with pytest.raises(ValueError, match="window_chars"):
        LoopRules(window_chars=10)
    with pytest.raises(ValueError, match="stride"):
        LoopGuard(stride=0)


class Source:
    """A generator of pieces that records whether it was closed."""

    def __init__(self, pieces: Sequence[str]) -> None:
        self.pieces = pieces
        self.closed = False
        self.pulled = 0

    def __call__(self) -> Iterator[str]:
        try:
            for piece in self.pieces:
                self.pulled += 1
                yield piece
        finally:
            self.closed = True


def test_guarded_closes_the_source_when_it_fires_and_when_the_reader_leaves() -> None:
    looping = Source([PHRASE] * 50)
    passed = list(guarded(looping(), guard := LoopGuard()))
    assert guard.looped and looping.closed and looping.pulled == len(passed) < 50
    normal = Source(["A normal ", "answer [1]."])
    reader = guarded(normal(), LoopGuard())
    assert next(reader) == "A normal "
    reader.close()
    assert normal.closed


class LoopingBackend(ScriptedBackend):
    """A deterministic model stuck in a loop: an opening, then one sentence for ever (bounded, so a broken
    guard fails the test instead of hanging it). Records how many pieces were read and whether it was closed."""

    def __init__(self, opening: str, loop: str, limit: int = 5000) -> None:
        super().__init__("")
        self.opening, self.loop, self.limit = opening, loop, limit
        self.pulled = 0
        self.closed = False

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Iterator[str]:
        text = self.opening + self.loop * self.limit
        try:
            for start in range(0, len(text), 5):
                self.pulled += 1
                yield text[start : start + 5]
        finally:
            self.closed = True


def test_a_looping_model_is_stopped_on_the_answer_path(small_index: Path) -> None:
    backend = LoopingBackend("Putin arrived by plane on Friday [1]. ", PHRASE)
    assistant = Assistant(small_index, AnswerSettings(min_evidence=0.0), backend=backend)
    answer = assistant.ask("Where did the summit take place?")
    assert answer.looped and backend.closed and backend.pulled < 100
    assert answer.raw_text == "Putin arrived by plane on Friday [1]. The summit took place in Anchorage, Alaska [1]."
    assert not answer.refused and answer.citations and answer.text.count("Anchorage") == 1
    (line,) = [json.loads(x) for x in log_path(small_index).read_text("utf-8").splitlines()]
    assert line["looped"] is True


def test_the_plain_pipeline_stops_a_loop_too(small_index: Path) -> None:
    backend = LoopingBackend("", PHRASE)
    settings = AnswerSettings(pipeline="plain", log_questions=False)
    answer = Assistant(small_index, settings, backend=backend).ask("Where did the summit take place?")
    assert answer.looped and backend.closed and answer.text == PHRASE.strip()


def test_a_normal_answer_is_not_marked(small_index: Path) -> None:
    backend = ScriptedBackend(PHRASE)
    answer = Assistant(small_index, AnswerSettings(min_evidence=0.0, log_questions=False), backend=backend).ask(
        "Where did the summit take place?"
    )
    assert not answer.looped and answer.raw_text == PHRASE.strip()


def test_eval_records_written_before_looped_existed_still_read() -> None:
    old: dict[str, Any] = {
        "id": "q1",
        "question": "?",
        "history": [],
        "answerable": True,
        "gold_answers": [],
        "answer": "",
        "refused": False,
        "correct": False,
        "metrics": {},
    }
    assert QuestionRecord.from_dict(old).looped is False
    assert QuestionRecord.from_dict({**old, "looped": True}).looped is True


def test_llama_cpp_asks_for_the_repeat_penalty() -> None:
    from rag.llm.llama_cpp import REPEAT_PENALTY, LlamaCppBackend

    seen: dict[str, Any] = {}

    class Llm:
        def create_chat_completion(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
            seen.update(kwargs)
            yield {"choices": [{"delta": {"content": "Anchorage."}}]}

    backend = LlamaCppBackend.__new__(LlamaCppBackend)  # no model file: only the call's arguments matter here
    backend._llm = Llm()  # type: ignore[assignment]
    backend.seed = 0
    backend._lock = threading.Lock()
    assert "".join(backend.complete([Message("user", "Where?")])) == "Anchorage."
    assert seen["repeat_penalty"] == REPEAT_PENALTY > 1.0


def test_a_decimal_point_is_not_taken_for_a_sentence_end() -> None:
    guard, _ = feed("Rates: " + "inflation fell to 2.1 percent in March, " * 6)
    assert guard.text == "Rates: inflation fell to 2.1 percent in March"
