"""When a chat question is rewritten with the earlier topic (rag/conversation.py), on hand-made cases of both kinds.

A follow-up ("How old was he?", "In what year?") needs the previous turn; a topic switch ("Who is Henry
Kissinger?" after a question about Taiwan) must reach retrieval as asked. The retriever here is a stub that
returns chosen passages and scores, and records what it was asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from index.types import Chunk
from rag.conversation import (
    STANDALONE_SIMILARITY,
    keyword_rewrite,
    named_terms,
    rewrite_query,
    stands_alone,
    unresolved_reference,
)
from rag.llm.scripted import ScriptedBackend
from rag.text import content_terms
from rag.types import Hit

TAIWAN = "How much of Taiwan's energy supply came from fossil fuels this year?"


class StubRetriever:
    """Returns `passages` (text, dense cosine) as hits, whatever the query; remembers the queries."""

    def __init__(self, passages: Sequence[tuple[str, float]]) -> None:
        self.passages = passages
        self.queries: list[str] = []

    def retrieve(self, query: str, k: int | None = None, **overrides: Any) -> list[Hit]:
        self.queries.append(query)
        return [
            Hit(Chunk(f"c{i}", "doc.txt", "doc.txt", "doc", text, 0, len(text)), dense, i + 1, {"dense": dense})
            for i, (text, dense) in enumerate(self.passages[:k])
        ]


LOW = STANDALONE_SIMILARITY - 0.15
HIGH = STANDALONE_SIMILARITY + 0.1
KISSINGER = ("By January 18, 1974, US Secretary of State Henry Kissinger had negotiated a withdrawal.", LOW)
OFF_TOPIC = ("Eighty-seven percent of Taiwan's energy supply came from burning fossil fuels.", LOW)


@pytest.mark.parametrize(
    "question",
    ["How old was he?", "Who owns it?", "What did the company say about its plans?", "Who supported them?"],
)
def test_a_pronoun_with_nothing_named_before_it_points_back(question: str) -> None:
    assert unresolved_reference(question)


@pytest.mark.parametrize(
    "question",
    [
        "What did Sarah Dzafce do in the video that ended her career?",  # her: Sarah Dzafce
        "Who led the Norse raiders who gave their name to Normandy?",  # their: the Norse raiders
        "What is the name of the ship that crossed the arctic to Britain?",  # "that" relates, points nowhere
        TAIWAN,  # "this year" is no reference to an earlier turn
        "Until when?",  # no pronoun at all: other checks decide
    ],
)
def test_a_name_before_the_pronoun_or_a_demonstrative_is_no_reference(question: str) -> None:
    assert not unresolved_reference(question)


def test_named_terms_are_the_capitalised_words_after_the_first() -> None:
    assert named_terms("Who is Henry Kissinger?") == content_terms("Henry Kissinger")
    assert named_terms("And Sweden?") == content_terms("Sweden")
    assert named_terms("What was the headline?") == set() == named_terms("What did I say about it?")


def test_a_follow_up_with_a_pronoun_is_rewritten_without_a_search() -> None:
    retriever = StubRetriever([KISSINGER])
    history = ["Who commanded the Virginia militiamen at Jumonville Glen?"]
    query = rewrite_query("How old was he?", history, None, (), retriever)
    assert query == keyword_rewrite("How old was he?", history) and "Jumonville" in query
    assert retriever.queries == [], "the words decide: no passage is needed"


@pytest.mark.parametrize("question", ["In what year?", "From which city?", "Why?", "Can you give an example?"])
def test_an_elliptical_follow_up_that_finds_nothing_close_is_rewritten(question: str) -> None:
    retriever = StubRetriever([OFF_TOPIC, KISSINGER])
    assert not stands_alone(question, retriever)
    history = ["Who proclaimed the Yuan dynasty?"]
    assert rewrite_query(question, history, None, (), retriever) == keyword_rewrite(question, history)


def test_a_short_switch_naming_something_the_passages_hold_stays_as_asked() -> None:
    """MiniLM embeds a bare name poorly (cosine below the bar); the name found in a passage decides."""
    retriever = StubRetriever([OFF_TOPIC, KISSINGER])
    assert rewrite_query("Who is Henry Kissinger?", [TAIWAN], None, (), retriever) == "Who is Henry Kissinger?"
    assert retriever.queries == ["Who is Henry Kissinger?"]


def test_a_name_no_top_passage_holds_does_not_ground_the_question() -> None:
    retriever = StubRetriever([OFF_TOPIC, OFF_TOPIC, OFF_TOPIC, KISSINGER])  # the name only in the 4th passage
    assert not stands_alone("Who is Henry Kissinger?", retriever)


def test_a_descriptive_switch_with_a_close_passage_stays_as_asked() -> None:
    question = "What is the name for a problem that has only a yes or no answer?"
    passage = ("A decision problem is a computational problem whose answer is either yes or no.", HIGH)
    history = ["What does the adaptive immune system allow for?"]
    assert rewrite_query(question, history, None, (), StubRetriever([passage])) == question


def test_a_switch_starting_with_and_or_so_is_judged_like_any_other() -> None:
    retriever = StubRetriever([("Of the 129 MSPs, 73 are elected.", HIGH)])
    for question in ("And how many members does the Scottish Parliament have?", "So how many MSPs are there?"):
        assert rewrite_query(question, ["Who proclaimed the Yuan dynasty?"], None, (), retriever) == question


def test_without_a_retriever_naming_something_is_enough() -> None:
    assert stands_alone("Which refinery did Ukraine fire drones on before talks?", None)
    assert not stands_alone("Until when?", None) and not stands_alone("How long did it last?", None)
    assert not stands_alone("What was the headline?", None)


def test_no_history_is_never_rewritten_or_searched() -> None:
    retriever = StubRetriever([KISSINGER])
    assert rewrite_query("How old was he?", [], None, (), retriever) == "How old was he?"
    assert retriever.queries == []


def test_a_standalone_question_asks_the_model_nothing() -> None:
    backend = ScriptedBackend("Henry Kissinger Taiwan energy")
    retriever = StubRetriever([KISSINGER])
    assert rewrite_query("Who is Henry Kissinger?", [TAIWAN], backend, (), retriever) == "Who is Henry Kissinger?"
    assert backend.calls == []
