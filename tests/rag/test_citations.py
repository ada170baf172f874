from __future__ import annotations

import pytest

from index.types import Chunk
from rag.citations import CitationChecker, lexical_support, parse_markers
from rag.text import split_sentences, strip_markers
from rag.types import Hit


def hit(n: int, text: str, doc: str = "d.txt", start: int = 0) -> Hit:
    chunk = Chunk(f"c{n}", doc, doc, "Title", text, start, start + len(text))
    return Hit(chunk=chunk, score=1.0 / n, rank=n, scores={"dense": 0.5})


HITS = [
    hit(1, "The summit took place in Alaska. Putin arrived by plane on Friday.", start=100),
    hit(2, "Russian forces seized 10km of territory around Pokrovsk. Ukraine fired drones.", "e.txt"),
    hit(3, "Taiwan burned fossil fuels for 87 percent of its energy this year.", "f.txt"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a [1] b", [1]),
        ("a [1, 3]", [1, 3]),
        ("a [1-3]", [1, 2, 3]),
        ("a [2–3] and [9]", [2, 3]),
        ("[0] [4]", []),
        ("a [3][1] [1]", [3, 1]),
    ],
)
def test_parse_markers(text: str, expected: list[int]) -> None:
    assert parse_markers(text, 3) == expected


def test_split_sentences_moves_trailing_markers_into_their_sentence() -> None:
    assert split_sentences("One thing. [1] Two things [2].\nThree") == ["One thing [1].", "Two things [2].", "Three"]
    assert strip_markers("Two things [2, 3].") == "Two things."


def test_lexical_support_counts_content_words() -> None:
    assert lexical_support("Russian forces seized 10km.", HITS[1].chunk.text) == 1.0
    assert lexical_support("Bananas are yellow.", HITS[1].chunk.text) == 0.0


def test_correct_citation_is_kept() -> None:
    checked = CitationChecker().check("Russian forces seized 10km of territory [2].", HITS)
    [c] = checked.citations
    assert (c.marker, c.reattributed) == (2, False)
    assert c.evidence == "Russian forces seized 10km of territory around Pokrovsk."
    assert checked.text == "Russian forces seized 10km of territory [2]."


def test_wrong_citation_is_moved_to_the_supporting_chunk() -> None:
    checked = CitationChecker().check("Fossil fuels gave 87 percent of Taiwan's energy [1].", HITS)
    [c] = checked.citations
    assert (c.marker, c.reattributed, c.chunk.doc_id) == (3, True, "f.txt")
    assert checked.text == "Fossil fuels gave 87 percent of Taiwan's energy [3]."


def test_missing_citation_is_added_and_evidence_offsets_are_document_offsets() -> None:
    checked = CitationChecker().check("Putin arrived by plane on Friday.", HITS)
    [c] = checked.citations
    assert c.marker == 1 and c.reattributed
    doc_text = " " * 100 + HITS[0].chunk.text
    assert doc_text[c.evidence_start : c.evidence_end] == "Putin arrived by plane on Friday."


def test_unsupported_sentence_is_flagged_not_cited() -> None:
    checked = CitationChecker().check("The summit took place in Alaska [1]. Bananas cure the flu [2].", HITS)
    assert [c.marker for c in checked.citations] == [1]
    assert checked.unsupported_sentences == ("Bananas cure the flu.",)
    assert checked.supported_sentences == 1


def test_markers_pointing_nowhere_are_dropped() -> None:
    checked = CitationChecker().check("Ukraine fired drones [7].", HITS)
    assert [c.marker for c in checked.citations] == [2]
    assert "[7]" not in checked.text


def test_threshold_is_validated() -> None:
    with pytest.raises(ValueError, match=r"threshold=1\.5"):
        CitationChecker(threshold=1.5)


@pytest.mark.parametrize(
    ("claim", "passage"),
    [
        ("The factory is about 440 kilometers east of Moscow.", "The factory lies about 440km east of Moscow."),
        ("It is 440km away.", "It is 440 kilometres away."),
        ("Fossil fuels made up 87% of supply.", "Fossil fuels made up 87 percent of supply."),
        ("Fossil fuels made up 87 per cent of supply.", "Fossil fuels made up 87% of supply."),
    ],
)
def test_numbers_with_units_support_each_other_however_written(claim: str, passage: str) -> None:
    assert lexical_support(claim, passage) == 1.0


def test_a_different_number_is_not_support() -> None:
    assert lexical_support("It is 450km away.", "It is 440 kilometres away.") < 1.0


def test_a_quotation_the_passage_does_not_hold_is_unsupported() -> None:
    hits = [hit(1, "Zelenskiy was kept out of the room. The US-Russia summit took place in Alaska.")]
    checker = CitationChecker()
    invented = checker.check('Zelenskiy said he was "disappointed" at the US-Russia summit in Alaska [1].', hits)
    assert invented.supported_sentences == 0 and invented.citations == ()
    hits = [hit(1, "RIA Novosti ran the headline “Kyiv is going to surrender.” A bit hyperbolic.")]
    verbatim = checker.check('RIA Novosti claimed "Kyiv is going to surrender" [1].', hits)
    assert verbatim.supported_sentences == 1
