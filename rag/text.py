"""Text tools shared by prompts, citation checks and query rewriting: words, sentences, markers.

`STOPWORDS` is NLTK's English list plus a few reporting verbs ("said", "according"): words that
say nothing about whether a passage supports a claim. BM25 (`index/lexical.py`) keeps bm25s's
own English list on purpose: its term ids are saved in every index, and changing that list
would force a rebuild of every index for no gain in ranking.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

# The marker of a cited source: [1], [1, 2], [1-3], [1 and 2].
# How a model says the passages hold no answer; such an answer is a refusal, whatever else it says.
DECLINE = re.compile(
    r"(documents?|sources?|context|passages?|text)\s+(do(es)?n['’]?t|do(es)? not|did not|didn['’]?t)\s+"
    r"(say|contain|mention|provide|include|specify|state)|no (information|mention)|not (mentioned|provided|stated)"
    r"|cannot (be )?(answer|determine|found)|can['’]t (answer|determine)|unable to (answer|determine|find)",
    re.I,
)
MARKER = re.compile(r"\s*\[(\d+(?:\s*(?:[-–,]|and)\s*\d+)*)\]")
SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+|\n+")
_WORD = re.compile(r"[^\W_]+(?:[.,'’][^\W_]+)*", re.UNICODE)

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been before being
    below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down
    during each few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here
    here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself
    let's me more most mustn't my myself no nor not of off on once only or other ought our ours ourselves out
    over own same shan't she she'd she'll she's should shouldn't so some such than that that's the their
    theirs them themselves then there there's these they they'd they'll they're they've this those through to
    too under until up very was wasn't we we'd we'll we're we've were weren't what what's when when's where
    where's which while who who's whom why why's will with won't would wouldn't you you'd you'll you're you've
    your yours yourself yourselves said says say according
    """.split()
)


def strip_markers(text: str) -> str:
    return MARKER.sub("", text).strip()


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of a passage, white space trimmed."""
    spans, cursor = [], 0
    for match in [*SENTENCE_END.finditer(text), None]:
        end = match.start() if match else len(text)
        piece = text[cursor:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((cursor + lead, cursor + len(piece.rstrip())))
        cursor = match.end() if match else len(text)
    return spans


def split_sentences(text: str) -> list[str]:
    """Sentences of an answer, each keeping the markers that follow it."""
    text = re.sub(r"([.!?])((?:\s*\[[\d\s,\-–and]+\])+)", r"\2\1", text)
    return [s.strip() for s in SENTENCE_END.split(text) if s and s.strip()]


@lru_cache(maxsize=1)
def _stemmer() -> Callable[[str], str]:
    import Stemmer

    stem: Callable[[str], str] = Stemmer.Stemmer("english").stemWord
    return stem


# Units written out or abbreviated: "440km" and "440 kilometres" must support each other.
_UNITS = {
    "kilometre": "km",
    "kilometres": "km",
    "kilometer": "km",
    "kilometers": "km",
    "metre": "m",
    "metres": "m",
    "meter": "m",
    "meters": "m",
    "mile": "mi",
    "miles": "mi",
    "percent": "%",
    "percentage": "%",
    "pct": "%",
}
_NUMBER_UNIT = re.compile(r"(\d)([^\W\d_]+)|(\d)\s*%")


def _split_unit(match: re.Match[str]) -> str:
    return f"{match[1]} {match[2]}" if match[1] else f"{match[3]} percent"


def content_terms(text: str) -> set[str]:
    stem, stop = _stemmer(), STOPWORDS
    text = _NUMBER_UNIT.sub(_split_unit, text.replace("per cent", "percent"))
    words = (w.lower().replace("’", "'") for w in _WORD.findall(text))
    return {_UNITS.get(w) or stem(w) for w in words if w not in stop and (len(w) > 1 or w.isdigit())}
