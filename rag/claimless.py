"""Sentences that carry no claim of their own: "This is stated in [3].", "According to the sources:".

Small models pad an answer with sentences about the sources rather than about the world. Cited, such a
sentence gets a chip that opens a passage supporting nothing in particular; so it is not written at all.
A sentence is claim-less when nothing is left of it once the citation markers, the references to a
numbered source ("source 2") and the words that talk about the text itself are removed. The list holds
only such discourse words, never a word of the subject matter, so it does not depend on the corpus.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rag.text import content_terms, strip_markers

# Words about the documents, the question or the act of answering, not about what the documents say.
META_WORDS = (
    "source sources document documents passage passages text context information article report "
    "stated states state mentioned mentions mention provided provide provides given according based "
    "answer answers question questions cited cite cites citation refer refers referenced found find "
    "shown show shows indicated indicates indicate described describes explained explains detail details "
    "specifically explicitly clearly directly"
)
# "source 2", "passage #3", "the first passage": a number that only names a source is no claim either.
_SOURCE_NUMBER = re.compile(
    r"\b(?:sources?|passages?|documents?|references?)\s*#?\s*\d+\b"
    r"|\b(?:first|second|third|fourth|fifth|last|other)\s+(?:sources?|passages?|documents?)\b",
    re.I,
)


@lru_cache(maxsize=1)
def _meta_terms() -> frozenset[str]:
    return frozenset(content_terms(META_WORDS))


def claim_terms(sentence: str) -> set[str]:
    """The sentence's content words (stemmed) that say something about the subject, not about the sources."""
    text = _SOURCE_NUMBER.sub(" ", strip_markers(sentence))
    return content_terms(text) - _meta_terms()


def has_claim(sentence: str) -> bool:
    """Whether `sentence` says anything beyond pointing at the sources."""
    return bool(claim_terms(sentence))
