"""Sentences with no claim of their own are not written, so they get no citation chip."""

from __future__ import annotations

import pytest

from index.types import Chunk
from rag.citations import CitationChecker
from rag.claimless import has_claim
from rag.types import Hit

TEXT = "The summit took place in Anchorage, Alaska. The video lasted 15 seconds."
HITS = [Hit(Chunk("c1", "a.txt", "a.txt", "A", TEXT, 0, len(TEXT)), 1.0, 1)]


@pytest.mark.parametrize(
    "sentence",
    [
        "This is stated in [3].",
        "According to the sources:",
        "According to the provided information, this is mentioned in passage 2.",
        "The answer can be found in source 1.",
        "This is explained in detail in the first passage [1].",
        "[2].",
        "The documents state this clearly [1].",
    ],
)
def test_a_sentence_about_the_sources_carries_no_claim(sentence: str) -> None:
    assert not has_claim(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "15 seconds [1].",
        "According to the sources, the summit took place in Anchorage [1].",
        "The second source says the video lasted 15 seconds.",
        "Yes.",
        "Anchorage [1].",
    ],
)
def test_a_sentence_that_says_something_keeps_it(sentence: str) -> None:
    assert has_claim(sentence)


def test_a_claimless_sentence_is_dropped_from_the_answer_and_not_cited() -> None:
    answer = "15 seconds [1]. The video lasted 15 seconds [1]. This is stated in [1]."
    checked = CitationChecker().check(answer, HITS, "How long was the video?")
    assert checked.text == "15 seconds [1]. The video lasted 15 seconds [1]."
    assert [c.sentence for c in checked.citations] == ["15 seconds.", "The video lasted 15 seconds."]
    assert checked.unsupported_sentences == () and checked.supported_sentences == 2


def test_an_answer_of_nothing_but_pointers_has_no_supported_sentence() -> None:
    checked = CitationChecker().check("According to the sources: this is mentioned in [1].", HITS)
    assert checked.text == "" and checked.citations == () and checked.supported_sentences == 0
