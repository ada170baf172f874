"""Prompt layout: what the model reads before its first token, token for token."""

from __future__ import annotations

from index.types import Chunk
from rag.llm.scripted import ScriptedBackend
from rag.prompting import build_prompt, focus_window, source_label
from rag.types import Hit

TEXT = (
    "The weather was mild. Officials met in the capital on Monday. "
    "The summit took place in Anchorage, Alaska, on Friday. Nobody expected a deal. Markets were calm."
)


def words(text: str) -> int:
    return len(text.split())


def hit(text: str = TEXT, *, title: str = "Putin will be laughing", page: int | None = None) -> Hit:
    chunk = Chunk("c1", "column.txt", "column.txt", title, text, 0, len(text), page)
    return Hit(chunk, 1.0, 1)


def test_label_leaves_the_title_to_the_citation_and_keeps_the_page() -> None:
    assert source_label(2, hit()) == "[2]:"
    assert source_label(1, hit(page=7)) == "[1] (page 7):"


def test_window_centres_on_the_matching_sentence_without_cut_marks() -> None:
    window = focus_window(TEXT, "Where did the summit take place?", 20, words)
    assert "Anchorage, Alaska" in window and words(window) <= 20
    assert "…" not in window and not window.startswith("The weather")


def test_window_keeps_a_passage_that_fits_whole() -> None:
    assert focus_window(TEXT, "summit", 200, words) == TEXT


def test_prompt_holds_question_numbered_sources_and_no_title() -> None:
    backend = ScriptedBackend("unused")
    prompt = build_prompt("Where was the summit?", [hit()], backend, source_tokens=20)
    user = prompt.messages[-1].content
    assert "[1]: " in user and "<<<" not in user and "Anchorage" in user and "Putin will be laughing" not in user
    assert user.endswith("Question: Where was the summit?\nAnswer (cite sources like [1]):")
    assert prompt.sources[0].chunk.title == "Putin will be laughing"


def overlapping_hits() -> list[Hit]:
    """Two neighbouring chunks of one document sharing a sentence, and one of another document."""
    first = "Officials met in the capital. The summit took place in Anchorage."
    second = "The summit took place in Anchorage. Nobody expected a deal."
    chunks = [
        Chunk("c1", "a.txt", "a.txt", "A", first, 0, len(first), None),
        Chunk("c2", "a.txt", "a.txt", "A", second, 30, 30 + len(second), None),
        Chunk("c3", "b.txt", "b.txt", "B", second, 0, len(second), None),
    ]
    return [Hit(c, 1.0 - i / 10, i + 1) for i, c in enumerate(chunks)]


def test_a_sentence_repeated_by_overlapping_chunks_is_read_once() -> None:
    prompt = build_prompt("Where was the summit?", overlapping_hits(), ScriptedBackend("unused"))
    user = prompt.messages[-1].content
    assert "[2]: Nobody expected a deal." in user
    # Another document saying the same thing is another source, so it stays.
    assert "[3]: The summit took place in Anchorage. Nobody expected a deal." in user
    assert [h.chunk.id for h in prompt.sources] == ["c1", "c2", "c3"]


def test_a_chunk_with_nothing_new_is_left_out() -> None:
    hits = overlapping_hits()
    dup = Hit(Chunk("c4", "a.txt", "a.txt", "A", "Nobody expected a deal.", 60, 83, None), 0.5, 4)
    prompt = build_prompt("Where was the summit?", [hits[0], hits[1], dup], ScriptedBackend("unused"))
    assert [h.chunk.id for h in prompt.sources] == ["c1", "c2"]
