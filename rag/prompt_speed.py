"""How fast the backend at hand reads a prompt, and so how much evidence fits a first-token budget.

Reading the prompt is most of a CPU model's time to first token, and that speed differs by machine,
model and server by orders of magnitude, so it is measured rather than assumed: every answer reports
its prompt tokens and the seconds from the call to its first token, and the estimate is the median of
the last few answers' tokens per second. Before the first answer there is a prior: the local llama.cpp
model's speed as measured here, or none for a server (an unknown, probably hosted, model reads whole
chunks until its own answers say it is slower). `prompt_tokens_per_second` fixes the speed instead,
which makes a run's prompts independent of the machine's load (evaluations that compare configurations).
"""

from __future__ import annotations

import statistics
import threading
import weakref
from collections import deque
from dataclasses import dataclass

from rag.llm.base import LLMBackend

# The default 1.5B model on 2 AVX-512 cores read news_dev prompts (274 tokens, the system prompt cached
# by llama.cpp) in a first-token mean of 1.76 s: about 155 prompt tokens per second over the whole prompt.
LOCAL_PRIOR = 155.0
# Answers whose speed is kept: enough that one slow answer (a busy moment) does not swing the next prompt.
WINDOW = 9
# The least evidence a prompt gets, however slow the backend seems: about two sentences with neighbours.
MIN_EVIDENCE_TOKENS = 80


@dataclass(frozen=True)
class EvidenceBudget:
    """Evidence tokens for one prompt and where the number came from; `tokens` None means whole chunks."""

    tokens: int | None
    rate: float | None
    measured: bool


class PromptSpeed:
    """The running median of one backend's prompt tokens per second, from its own answers."""

    def __init__(self, prior: float | None = None, window: int = WINDOW) -> None:
        self.prior = prior
        self._seen: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()

    def observe(self, prompt_tokens: int, seconds: float) -> None:
        """One answer's prompt size and its time from the call to the first token."""
        if prompt_tokens > 0 and seconds > 0:
            with self._lock:
                self._seen.append(prompt_tokens / seconds)

    @property
    def measured(self) -> bool:
        return bool(self._seen)

    def rate(self) -> float | None:
        """Tokens per second: the median of the recent answers, else the prior (None: unknown, assume fast)."""
        with self._lock:
            return statistics.median(self._seen) if self._seen else self.prior


# Keyed weakly, so a backend that is dropped takes its measurements with it; by id for objects without weakrefs.
_SPEEDS: weakref.WeakKeyDictionary[object, PromptSpeed] = weakref.WeakKeyDictionary()
_SPEEDS_BY_ID: dict[int, PromptSpeed] = {}
_SPEEDS_LOCK = threading.Lock()


def prior_for(backend: LLMBackend) -> float | None:
    """The speed assumed before a backend's first answer: measured for the in-process llama.cpp model only."""
    return LOCAL_PRIOR if str(getattr(backend, "name", "")).startswith("llama-cpp") else None


def speed_of(backend: LLMBackend) -> PromptSpeed:
    """The one `PromptSpeed` of a backend object, shared by every Assistant that answers with it."""
    with _SPEEDS_LOCK:
        try:
            speed = _SPEEDS.get(backend)
            if speed is None:
                speed = _SPEEDS[backend] = PromptSpeed(prior_for(backend))
        except TypeError:
            speed = _SPEEDS_BY_ID.setdefault(id(backend), PromptSpeed(prior_for(backend)))
        return speed


def evidence_budget(
    seconds: float, fixed_tokens: int, speed: PromptSpeed, *, rate: float | None = None
) -> EvidenceBudget:
    """Evidence tokens that keep a prompt of `fixed_tokens` plus evidence within `seconds` to the first token.

    `rate` (tokens/s) overrides the measured speed. Without a rate (an unmeasured server) the evidence is
    bounded only by the context window: whole chunks.
    """
    measured = rate is None and speed.measured
    rate = rate if rate is not None else speed.rate()
    if rate is None:
        return EvidenceBudget(None, None, False)
    tokens = max(MIN_EVIDENCE_TOKENS, int(seconds * rate) - fixed_tokens)
    return EvidenceBudget(tokens, rate, measured)
