"""Token-aware chunking on sentence and paragraph boundaries, with overlap.

Sizes are counted in tiktoken tokens; the hard ceiling is counted with the embedder's
own tokenizer so no chunk is silently truncated when embedded.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from index.sections import section_finder

# ChunkerSettings lives in index.types (the index manifest records it); re-exported for importers.
from index.types import Chunk, Document
from index.types import ChunkerSettings as ChunkerSettings

TokenCounter = Callable[[str], int]
ChunkProgress = Callable[[int, int], None]  # (characters done, characters in the document)
# Tokenising is most of chunking; a huge file reports how far it has got about this often.
_PROGRESS_EVERY_CHARS = 256_000

# A sentence ends at . ! ? (plus closing quotes/brackets) before white space.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+")
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_WORD = re.compile(r"\S+\s*")


@lru_cache(maxsize=4)
def tiktoken_counter(encoding: str) -> TokenCounter:
    import tiktoken

    enc = tiktoken.get_encoding(encoding)
    return lambda text: len(enc.encode(text, disallowed_special=()))


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    tokens: int
    paragraph_start: bool


class Chunker:
    """Split documents into `Chunk`s of at most `chunk_tokens` tiktoken tokens.

    `limit_counter`/`limit` is the embedder's tokenizer and maximum sequence length;
    any chunk over it is split again, so nothing is truncated at embedding time.
    """

    def __init__(
        self,
        settings: ChunkerSettings | None = None,
        *,
        limit_counter: TokenCounter | None = None,
        limit: int | None = None,
    ) -> None:
        self.settings = settings or ChunkerSettings()
        self._count = tiktoken_counter(self.settings.encoding)
        self._limit_counter = limit_counter
        self._limit = limit

    def chunk(self, doc: Document, on_progress: ChunkProgress | None = None) -> list[Chunk]:
        units = self._units(doc.text, on_progress)
        section_at = section_finder(doc.headings)
        spans: list[tuple[int, int]] = []
        for part in _by_slide(units, doc.page_starts if doc.slides else ()):
            for group in self._pack(part):
                spans.extend(self._enforce_limit(doc, group, section_at))
        return [self._make_chunk(doc, start, end, section_at(start)) for start, end in spans]

    def _units(self, text: str, on_progress: ChunkProgress | None = None) -> list[_Unit]:
        units: list[_Unit] = []
        reported = 0
        for p_start, p_end in _split_spans(text, _PARAGRAPH, 0, len(text)):
            first = True
            for l_start, l_end in _line_spans(text, p_start, p_end):
                for s_start, s_end in _split_spans(text, _SENTENCE_END, l_start, l_end):
                    for w_start, w_end in self._split_long(text, s_start, s_end):
                        tokens = self._count(text[w_start:w_end])
                        units.append(_Unit(w_start, w_end, tokens, first))
                        first = False
                        if on_progress and w_end - reported >= _PROGRESS_EVERY_CHARS:
                            on_progress(w_end, len(text))
                            reported = w_end
        if on_progress:
            on_progress(len(text), len(text))
        return units

    def _split_long(self, text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
        """A sentence longer than a chunk is cut between words, lazily, so a one-line file reports progress."""
        size = self.settings.chunk_tokens
        # No real token is 64 characters long, so a longer span cannot fit: skip counting it whole
        # (on a one-line file of many megabytes that count alone takes seconds).
        if end - start <= size * 64 and self._count(text[start:end]) <= size:
            yield (start, end)
            return
        piece_start, used = start, 0
        for match in _WORD.finditer(text, start, end):
            tokens = self._count(match.group())
            if used and used + tokens > size:
                if text[piece_start : match.start()].strip():
                    yield _strip(text, piece_start, match.start())
                piece_start, used = match.start(), 0
            used += tokens
        if text[piece_start:end].strip():
            yield _strip(text, piece_start, end)

    def _pack(self, units: list[_Unit]) -> list[list[_Unit]]:
        size, overlap = self.settings.chunk_tokens, self.settings.overlap_tokens
        groups: list[list[_Unit]] = []
        current: list[_Unit] = []
        used = 0
        for unit in units:
            if current and used + unit.tokens > size:
                emit, carry = _cut_at_paragraph(current, size)
                groups.append(emit)
                current = carry or _overlap_tail(emit, overlap)
                used = sum(u.tokens for u in current)
                while current and used + unit.tokens > size:
                    used -= current.pop(0).tokens
            current.append(unit)
            used += unit.tokens
        if current:
            groups.append(current)
        return groups

    def _enforce_limit(
        self, doc: Document, group: list[_Unit], section_at: Callable[[int], str]
    ) -> list[tuple[int, int]]:
        start, end = group[0].start, group[-1].end
        if self._fits(doc, start, end, section_at(start)):
            return [(start, end)]
        if len(group) > 1:
            mid = len(group) // 2
            return self._enforce_limit(doc, group[:mid], section_at) + self._enforce_limit(doc, group[mid:], section_at)
        words = [(m.start(), m.end()) for m in _WORD.finditer(doc.text, start, end)]
        if len(words) < 2:
            return [(start, end)]  # one unbreakable word; nothing smaller exists
        mid = len(words) // 2
        halves = [(words[0][0], words[mid - 1][1]), (words[mid][0], words[-1][1])]
        return [
            span
            for s, e in halves
            for span in self._enforce_limit(doc, [_Unit(*_strip(doc.text, s, e), 0, False)], section_at)
        ]

    def _fits(self, doc: Document, start: int, end: int, section: str) -> bool:
        if self._limit_counter is None or self._limit is None:
            return True
        probe = Chunk("", doc.id, doc.path, doc.title, doc.text[start:end], start, end, section=section)
        return self._limit_counter(probe.indexed_text) <= self._limit

    def _make_chunk(self, doc: Document, start: int, end: int, section: str) -> Chunk:
        text = doc.text[start:end]
        key = f"{doc.id}\x00{start}\x00{end}\x00{text}".encode()
        chunk_id = hashlib.sha1(key).hexdigest()[:16]
        section = "" if section == doc.title else section  # the title is in every chunk's context already
        return Chunk(chunk_id, doc.id, doc.path, doc.title, text, start, end, doc.page_at(start), section)


def _by_slide(units: list[_Unit], starts: tuple[int, ...]) -> list[list[_Unit]]:
    """The units of each slide apart (`starts` its offsets; empty: all together), so that a chunk, and
    the slide its citation names, never runs on into the next slide."""
    if not starts:
        return [units]
    parts: dict[int, list[_Unit]] = {}
    for unit in units:
        parts.setdefault(bisect.bisect_right(starts, unit.start), []).append(unit)
    return list(parts.values())


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _split_spans(text: str, sep: re.Pattern[str], start: int, end: int) -> list[tuple[int, int]]:
    spans, cursor = [], start
    for match in sep.finditer(text, start, end):
        spans.append(_strip(text, cursor, match.start()))
        cursor = match.end()
    spans.append(_strip(text, cursor, end))
    return [(s, e) for s, e in spans if e > s]


def _line_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Single line breaks end a unit unless they look like a soft wrap (as in PDFs)."""
    spans, cursor = [], start
    pos = text.find("\n", start, end)
    while pos != -1:
        before = text[cursor:pos].rstrip()
        after = text[pos + 1 : end].lstrip()[:1]
        if before.endswith((".", "!", "?", ":", ";", "”", '"')) or not after[:1].islower():
            spans.append(_strip(text, cursor, pos))
            cursor = pos + 1
        pos = text.find("\n", pos + 1, end)
    spans.append(_strip(text, cursor, end))
    return [(s, e) for s, e in spans if e > s]


def _cut_at_paragraph(current: list[_Unit], size: int) -> tuple[list[_Unit], list[_Unit]]:
    """Prefer ending a chunk at the last paragraph start past its middle."""
    used = 0
    best = 0
    for i, unit in enumerate(current):
        if i > 0 and unit.paragraph_start and used >= size // 2:
            best = i
        used += unit.tokens
    if best:
        return current[:best], current[best:]
    return current, []


def _overlap_tail(emitted: list[_Unit], overlap: int) -> list[_Unit]:
    tail: list[_Unit] = []
    used = 0
    for unit in reversed(emitted[1:]):
        if used + unit.tokens > overlap:
            break
        tail.insert(0, unit)
        used += unit.tokens
    return tail
