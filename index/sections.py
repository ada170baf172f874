"""Section headings of a document, and the one a chunk sits under.

A chunk is embedded and BM25-indexed with its document's title and nearest heading in front
(`Chunk.context`): two versions of a manual hold passages that read alike, and only the title
("Widget manual version 2.0") or the section tells them apart. Loaders that know a format's
headings (Markdown, HTML, Word, slide titles) record them on the `Document`; others leave none.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable

from index.types import Heading

# What the embedded text of a chunk holds besides the chunk itself, recorded in the manifest
# ("chunk_context"): 0 the title only (indexes built before it was recorded), 1 the title and the
# nearest section heading. Bump it when that changes: an update then re-chunks and re-embeds once.
CHUNK_CONTEXT = 1
# Longer "headings" are paragraphs a loader mistook for one; they would drown the chunk's own words.
MAX_HEADING_CHARS = 200

_ATX = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def markdown_headings(text: str) -> tuple[Heading, ...]:
    """`# ATX` headings and underlined (setext) ones, outside fenced code blocks, with their offsets."""
    found: list[Heading] = []
    fence = "---" if text.startswith("---\n") else ""  # YAML front matter: its closing line is no underline
    offset, previous, previous_start = 0, "", 0
    for n, line in enumerate(text.split("\n")):
        marker = _FENCE.match(line)
        if fence == "---":
            fence = "" if n and line.rstrip() in ("---", "...") else fence
        elif marker and (not fence or marker.group(1) == fence):
            fence = "" if fence else marker.group(1)
        elif not fence:
            atx = _ATX.match(line)
            if atx:
                found.append(Heading(offset, atx.group(1)))
            elif _SETEXT.match(line) and previous.strip() and not previous.lstrip().startswith(("#", "-", "*", ">")):
                found.append(Heading(previous_start, previous))
        previous, previous_start = line, offset
        offset += len(line) + 1
    return _clean(found)


def locate_headings(text: str, names: Iterable[str]) -> tuple[Heading, ...]:
    """Headings a loader read apart from the text (HTML `<h2>`, Word heading styles), found in the
    text in order; white space may differ. A name not found after the previous one is left out."""
    found: list[Heading] = []
    cursor = 0
    for name in names:
        words = name.split()
        if not words:
            continue
        match = re.compile(r"\s+".join(map(re.escape, words))).search(text, cursor)
        if match:
            found.append(Heading(match.start(), name))
            cursor = match.end()
    return _clean(found)


def _clean(headings: Iterable[Heading]) -> tuple[Heading, ...]:
    out = []
    for heading in headings:
        words = " ".join(heading.text.strip("*_` \t").split())
        if words and len(words) <= MAX_HEADING_CHARS:
            out.append(Heading(heading.start, words))
    return tuple(out)


def section_finder(headings: tuple[Heading, ...]) -> Callable[[int], str]:
    """offset -> the text of the last heading starting at or before it ("" before the first)."""
    starts = [h.start for h in headings]

    def section_at(offset: int) -> str:
        i = bisect.bisect_right(starts, offset)
        return headings[i - 1].text if i else ""

    return section_at
