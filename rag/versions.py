"""A question that names a version prefers the documents of that version.

Two editions of a manual hold passages that read alike: their embeddings differ by a hair (MiniLM
scores "version 1.1" and "version 2.0" within 0.01 of each other), and BM25 cannot tell them apart,
since its tokenizer drops one-character tokens, "1.1" and "2.0" among them. The title in each chunk's
context still names its version, so candidates whose title, section or path names only other versions
than the question go below the rest, in their order. Nothing moves unless some candidate names a
version the question asks about: "Python 3.11" in a question about a widget demotes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from index.types import Chunk

T = TypeVar("T")
# Dotted numbers (1.1, 2.0, 3.10.2), and plain ones written as a version ("version 2", "v3", "release 4").
_VERSION = re.compile(r"(?<![\w.])v?(\d+(?:\.\d+)+)\b|\b(?:version|release|v)\s?(\d+)(?!\.\d)\b", re.IGNORECASE)


def versions(text: str) -> frozenset[str]:
    """The version numbers `text` names, normalised ("2" and "2.0" stay apart: they need not be the same)."""
    return frozenset(m.group(1) or m.group(2) for m in _VERSION.finditer(text))


def chunk_versions(chunk: Chunk) -> frozenset[str]:
    """The versions a chunk's document names where it says what it is: its title, section and path."""
    return versions(f"{chunk.title}\n{chunk.section}\n{chunk.path.replace('_', ' ')}")


def prefer_asked_versions(query: str, pool: Sequence[T], chunk_of: Callable[[T], Chunk]) -> list[T]:
    """`pool` (best first) with the candidates of other versions than `query` names moved below the rest."""
    asked = versions(query)
    if not asked:
        return list(pool)
    named = [chunk_versions(chunk_of(item)) for item in pool]
    if not any(own & asked for own in named):
        return list(pool)
    other = [bool(own) and not own & asked for own in named]
    return [item for item, off in zip(pool, other, strict=True) if not off] + [
        item for item, off in zip(pool, other, strict=True) if off
    ]
