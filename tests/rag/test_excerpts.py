"""Evidence chosen sentence by sentence: budget, neighbours, document order, two documents, meaning."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from index.types import Chunk, Vectors
from rag.excerpts import LABEL_TOKENS, MAX_PIECE_TOKENS, select_excerpts, split_hits
from rag.llm.scripted import ScriptedBackend
from rag.types import Hit

COUNT = ScriptedBackend().count_tokens


def hit(text: str, *, doc: str = "a.txt", rank: int = 1, start: int = 0, chunk_id: str = "") -> Hit:
    chunk = Chunk(chunk_id or f"{doc}-{start}", doc, doc, doc, text, start, start + len(text), None)
    return Hit(chunk, 1.0 / rank, rank)


def cost(texts: Sequence[str]) -> int:
    return sum(COUNT(t) + LABEL_TOKENS for t in texts if t)


FILLER = [
    "The weather in the capital was mild all week.",
    "Traffic moved slowly through the old town.",
    "A new bakery opened near the station.",
    "Schools reopened after the long holiday.",
    "The river rose after two days of rain.",
    "Fishermen mended their nets on the quay.",
]


@pytest.mark.parametrize("budget", [30, 60, 100, 160])
def test_the_evidence_stays_within_the_token_budget(budget: int) -> None:
    hits = [
        hit(" ".join(FILLER[:4]) + " The summit took place in Anchorage.", doc="a.txt", rank=1),
        hit(" ".join(FILLER[2:]) + " Putin arrived by plane for the summit.", doc="b.txt", rank=2),
        hit(" ".join(reversed(FILLER)), doc="c.txt", rank=3),
    ]
    excerpts = select_excerpts("Where was the summit?", hits, COUNT, budget)
    texts = [e.text for e in excerpts]
    assert 0 < cost(texts) <= budget
    assert [e.hit for e in excerpts] == hits


def test_a_chosen_sentence_keeps_its_neighbours_and_the_chunks_spacing() -> None:
    text = "\n".join([*FILLER[:3], "The summit took place in Anchorage.", *FILLER[3:]])
    room = cost([FILLER[2], "The summit took place in Anchorage.", FILLER[3]]) - 2 * LABEL_TOKENS
    [excerpt] = select_excerpts("Where did the summit take place?", [hit(text)], COUNT, room)
    assert excerpt.text == f"{FILLER[2]}\nThe summit took place in Anchorage.\n{FILLER[3]}"


def test_sentences_keep_document_order_whatever_their_scores() -> None:
    best, second = "The summit took place in Anchorage on Friday.", "Anchorage is in Alaska."
    text = " ".join([second, *FILLER, best])
    [excerpt] = select_excerpts("When did the summit take place in Anchorage?", [hit(text)], COUNT, 40)
    assert second in excerpt.text and best in excerpt.text
    assert excerpt.text.index(second) < excerpt.text.index(best)
    assert FILLER[2] not in excerpt.text


def test_the_two_best_documents_are_both_covered() -> None:
    """A question that joins two things: the second document matches fewer words but is still shown."""
    first = "The governor hosted the summit in Anchorage. The summit in Anchorage was hosted at a hotel."
    more = "Anchorage hosted the summit in August. The summit hosted in Anchorage drew protesters."
    other = " ".join([*FILLER[:3], "Critics said the summit achieved little.", *FILLER[3:]])
    hits = [hit(first, rank=1), hit(more, rank=2, start=200), hit(other, doc="b.txt", rank=3)]
    excerpts = select_excerpts("Who hosted the summit in Anchorage?", hits, COUNT, 40)
    assert "Critics said the summit achieved little." in excerpts[2].text
    assert "The governor hosted the summit in Anchorage." in excerpts[0].text
    assert cost([e.text for e in excerpts]) <= 40


def test_without_a_budget_every_chunk_is_shown_whole() -> None:
    text = "The summit took place in Anchorage.\n\nPutin arrived by plane."
    assert select_excerpts("Where?", [hit(text)], COUNT, None)[0].text == text
    assert select_excerpts("Where?", [hit(text)], COUNT, 1000)[0].text == text


def test_a_sentence_an_overlapping_chunk_already_holds_is_shown_once() -> None:
    shared = "The summit took place in Anchorage."
    hits = [hit(f"Officials met. {shared}", rank=1), hit(f"{shared} Nobody expected a deal.", rank=2, start=15)]
    excerpts = select_excerpts("Where was the summit?", hits, COUNT, None)
    assert [e.text for e in excerpts] == [f"Officials met. {shared}", "Nobody expected a deal."]


def test_a_very_long_sentence_is_cut_into_pieces_that_fit() -> None:
    text = " ".join(f"word{i}" for i in range(3 * MAX_PIECE_TOKENS)) + " summit."
    pieces = split_hits([hit(text)], COUNT)
    assert len(pieces) >= 3 and all(p.tokens <= MAX_PIECE_TOKENS for p in pieces)
    [excerpt] = select_excerpts("summit", [hit(text)], COUNT, MAX_PIECE_TOKENS + LABEL_TOKENS)
    assert excerpt.text.endswith("summit.")


def test_the_query_vector_is_used_when_given() -> None:
    """A sentence that shares no word with the question is chosen when its embedding is the nearest."""

    def embed(texts: Sequence[str]) -> Vectors:
        # Every text is far from the query but the one about Anchorage, which shares none of its words.
        rows = [[1.0, 0.0] if i == 0 or "Anchorage" in t else [0.0, 1.0] for i, t in enumerate(texts)]
        return np.asarray(rows, dtype=np.float32)

    text = " ".join(["Rain fell.", *FILLER, "It was held in Anchorage."])
    room = COUNT("It was held in Anchorage.") + LABEL_TOKENS
    assert "Anchorage" in select_excerpts("Where did the summit meet?", [hit(text)], COUNT, room, embed=embed)[0].text
    assert "Anchorage" not in select_excerpts("Where did the summit meet?", [hit(text)], COUNT, room)[0].text


def test_the_answer_sentence_sharing_no_word_with_the_question_is_chosen_by_meaning() -> None:
    """The issue's case ("How long was the video ...?" against "a 15-second video"), with the real embedder:
    the answer sentence has none of the question's words, and windows around its words miss it."""
    from index.embedding import get_embedder

    question = "How long was the video that ended Sarah Dzafce's public career?"
    top = [
        "Sarah Dzafce was crowned Miss Finland in September after a national vote.",
        "Her public career ended within days of the scandal breaking online.",
        "The pageant's organisers issued a short statement on Tuesday morning.",
    ]
    answer = "The recording lasted only fifteen seconds."
    text = " ".join([*top, "Sponsors left quickly.", *FILLER[:3], answer, "Critics condemned the gesture."])
    room = sum(COUNT(s) for s in top) + LABEL_TOKENS + COUNT(answer)
    encode = get_embedder().encode
    with_meaning = select_excerpts(question, [hit(text)], COUNT, room, embed=encode)[0].text
    words_only = select_excerpts(question, [hit(text)], COUNT, room)[0].text
    assert answer in with_meaning and top[1] in with_meaning
    assert answer not in words_only
