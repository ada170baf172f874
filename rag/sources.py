"""The checked pipeline's prompt: which evidence of the top hits the model reads, by `settings.evidence`.

"windows": each hit cut to a fixed window around the query's words (`source_tokens`), as tuned on
news_dev's 21 questions. "sentences": sentences chosen across the hits (rag/excerpts.py) up to what
the backend reads within `first_token_budget` seconds (rag/prompt_speed.py). Both are selectable in
one process, so `rag eval run --evidence` can compare them on the same index and questions.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rag.excerpts import Embed, select_excerpts
from rag.llm.base import LLMBackend
from rag.prompt_speed import EvidenceBudget, evidence_budget, speed_of
from rag.prompting import Prompt, build_prompt, fixed_tokens
from rag.settings import AnswerSettings
from rag.types import Hit


@dataclass(frozen=True)
class Planned:
    """A prompt and the evidence budget it was sized to (`budget.tokens` None: whole chunks, or fixed windows)."""

    prompt: Prompt
    budget: EvidenceBudget


def plan_prompt(
    question: str,
    hits: Sequence[Hit],
    backend: LLMBackend,
    settings: AnswerSettings,
    *,
    history: Sequence[str] = (),
    focus: str | None = None,
    embed: Embed | None = None,
) -> Planned:
    """The prompt for `question` over `hits` as `settings` say (evidence mode, budget, answer style)."""
    style, query, tokens = settings.answer_style, focus or question, settings.answer_tokens
    if settings.evidence == "windows":
        prompt = build_prompt(
            question, hits, backend, answer_tokens=tokens, history=history, focus=query,
            source_tokens=settings.source_tokens, style=style,
        )  # fmt: skip
        return Planned(prompt, EvidenceBudget(None, None, False))
    fixed = fixed_tokens(question, backend, history, style)
    rate = settings.prompt_tokens_per_second
    budget = evidence_budget(settings.first_token_budget, fixed, speed_of(backend), rate=rate)
    excerpts = select_excerpts(query, hits, backend.count_tokens, budget.tokens, embed=embed)
    bodies = [e.text for e in excerpts]
    prompt = build_prompt(question, hits, backend, answer_tokens=tokens, history=history, bodies=bodies, style=style)
    return Planned(prompt, budget)


def timed_first_token(pieces: Iterator[str], backend: LLMBackend, prompt_tokens: int) -> Iterator[str]:
    """`pieces` unchanged; the seconds to the first one, over `prompt_tokens`, go to the backend's speed.

    Timed from the first request for a piece, so the work before the call (retrieval, choosing the
    evidence) is not counted as reading the prompt; a wait for the model lock (one generation at a
    time) is, which makes the speed a little pessimistic under concurrency, as it should be.
    """
    start = time.perf_counter()
    first = True
    for piece in pieces:
        if first:
            speed_of(backend).observe(prompt_tokens, time.perf_counter() - start)
            first = False
        yield piece
