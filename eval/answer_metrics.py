"""Answer metrics by the official SQuAD 2.0 evaluation rules.

Normalisation (as in the official script): lower case, drop punctuation, drop the
articles a/an/the, fold white space. Exact match and token F1 take the best gold
answer. An unanswerable question has no gold answer: the right prediction is the
empty string (a declined answer), which scores 1, and anything else scores 0.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)
# Citation markers such as "[1]" or "[2, 3]" are the tool's, not the answer's.
_MARKERS = re.compile(r"\s*\[\d+(?:\s*(?:[-–,]|and)\s*\d+)*\]")


def normalize_answer(text: str) -> str:
    """The official SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def strip_markers(text: str) -> str:
    """The answer text without citation markers, so "[1]" never counts as an answer token."""
    return _MARKERS.sub("", text).strip()


def _tokens(text: str) -> list[str]:
    return normalize_answer(text).split() if text else []


def _f1_one(prediction: str, gold: str) -> float:
    pred, ref = _tokens(prediction), _tokens(gold)
    if not pred or not ref:
        return float(pred == ref)  # both empty (declined an unanswerable question) scores 1
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def _golds(golds: Sequence[str]) -> list[str]:
    # As the official script: gold answers that normalise to nothing count as "no answer".
    kept = [g for g in golds if normalize_answer(g)]
    return kept or [""]


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer (empty golds: prediction empty)."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in _golds(golds)))


def f1_score(prediction: str, golds: Sequence[str]) -> float:
    """Token F1 against the best gold answer (empty golds: 1.0 only for an empty prediction)."""
    return max(_f1_one(prediction, g) for g in _golds(golds))


def contains_answer(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when a normalised gold answer appears, token-aligned, inside the normalised prediction.

    Long answers from a chat model rarely match exactly; this asks whether the answer is
    in there at all. With no gold answer it is exact match (declining is right).
    """
    pred = f" {normalize_answer(prediction)} "
    kept = _golds(golds)
    if kept == [""]:
        return float(pred.strip() == "")
    return float(any(f" {normalize_answer(g)} " in pred for g in kept))
