"""Measure a citation checker on the contradiction benchmark (eval/claims.py): the share of
contradicted claims it flags and of supported claims it keeps, by kind, with Wilson 95% intervals.

A checker is anything that says whether it flags a pair (`Judge`); `checker_judge` adapts
rag's `CitationChecker`, which sees the claim cited as [1] against its passage as a retrieved
hit, exactly as `ask()` hands it an answer sentence.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from eval.claims import ClaimPair
from index.embedding import Vectors
from index.types import Chunk
from rag.citations import CitationChecker, Embed
from rag.types import Hit

Judge = Callable[[ClaimPair], bool]  # True: the checker flags the claim as unsupported
LABELS = ("contradicted", "supported")
TARGETS = {"contradicted": 0.90, "supported": 0.95}  # issue 21: flag 90% of contradictions, keep 95% of support


@dataclass(frozen=True)
class Rate:
    """For contradicted claims the share flagged; for supported ones the share kept."""

    label: str
    kind: str  # "all" for every kind of the label
    n: int
    right: int

    @property
    def rate(self) -> float:
        return self.right / self.n if self.n else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.right, self.n)


@dataclass(frozen=True)
class ClaimReport:
    name: str
    rates: tuple[Rate, ...]

    def rate(self, label: str, kind: str = "all") -> Rate:
        return next((r for r in self.rates if r.label == label and r.kind == kind), Rate(label, kind, 0, 0))

    @property
    def meets_target(self) -> bool:
        return all(self.rate(label).rate >= target for label, target in TARGETS.items())


def wilson(right: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion: sound at 0% and 100% and for small n, unlike p ± 2se."""
    if n == 0:
        return math.nan, math.nan
    p = right / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def measure(pairs: Sequence[ClaimPair], judge: Judge, name: str = "") -> ClaimReport:
    """Run `judge` on every pair; a contradicted claim is right when flagged, a supported one when kept."""
    tally: dict[tuple[str, str], list[int]] = {}
    for pair in pairs:
        right = judge(pair) == pair.contradicted
        for key in ((pair.label, pair.kind), (pair.label, "all")):
            counts = tally.setdefault(key, [0, 0])
            counts[0] += 1
            counts[1] += right
    order = sorted(tally, key=lambda k: (LABELS.index(k[0]) if k[0] in LABELS else 9, k[1] != "all", k[1]))
    return ClaimReport(name, tuple(Rate(label, kind, *tally[label, kind]) for label, kind in order))


def pair_hit(pair: ClaimPair) -> Hit:
    """The pair's passage as the one retrieved hit, with its document's title and path."""
    chunk = Chunk(f"{pair.id}-c", pair.doc_id, pair.path, pair.title, pair.passage, 0, len(pair.passage))
    return Hit(chunk=chunk, score=1.0, rank=1)


def checker_judge(checker: CitationChecker) -> Judge:
    def judge(pair: ClaimPair) -> bool:
        checked = checker.check(f"{pair.claim} [1]", [pair_hit(pair)])
        return bool(checked.unsupported_sentences)

    return judge


class CachedEmbed:
    """An embedder that embeds each distinct text once: every passage serves several claims,
    and comparing checkers re-reads the same pairs."""

    def __init__(self, embed: Embed) -> None:
        self._embed = embed
        self._seen: dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> Vectors:
        new = list(dict.fromkeys(t for t in texts if t not in self._seen))
        if new:
            self._seen.update(zip(new, self._embed(new)))
        return np.stack([self._seen[t] for t in texts]).astype(np.float32)


def render(reports: Sequence[ClaimReport]) -> str:
    """A Markdown table: one row per label and kind, one column per checker."""
    head = "| claims | kind | n | " + " | ".join(r.name for r in reports) + " |"
    rule = "|---|---|---:|" + "---:|" * len(reports)
    rows = [head, rule]
    for rate in reports[0].rates:
        what = "flagged" if rate.label == "contradicted" else "kept"
        cells = [_cell(r.rate(rate.label, rate.kind)) for r in reports]
        kind = f"**{rate.kind}**" if rate.kind == "all" else rate.kind
        rows.append(f"| {rate.label} ({what}) | {kind} | {rate.n} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _cell(rate: Rate) -> str:
    if not rate.n:
        return "–"
    low, high = rate.interval
    return f"{rate.rate:.1%} ({low:.0%}–{high:.0%})"
