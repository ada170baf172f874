"""A loop detector for a streamed answer: catches a model writing the same words over and over.

A small model at temperature 0 can fall into a loop ("The summit took place in Anchorage. The summit
took place in Anchorage. ...") and write it until `max_tokens` runs out: one user watched a phrase
repeat about 20 times for 62 s. llama.cpp's repeat penalty (rag/llm/llama_cpp.py) makes loops rarer;
this guard ends the ones that still happen, for every backend.

Pure: text in, verdict out, no I/O, so it is tested on hand-made text (tests/rag/test_repetition.py).
It reads words, not characters: the tail is split into lower-cased word tokens, and citation markers
("[1]", "[2, 3]") and punctuation are left out, so a loop that changes only its markers is still a
loop, while rows of a table, lines of a list ("- 2019: ...") and runs of markers never repeat word for
word. A span repeated consecutively is a loop when

- it has `min_unit_tokens` words or more and `min_unit_chars` characters, and is written
  `min_repeats` times in a row (a sentence or phrase said three times), or
- it is shorter (one to three words) and the run reaches `min_run_tokens` words ("the the the ...").

A span must hold a word with a letter in it: a table of zeros is not a loop.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass

# A citation marker is matched whole so it can be skipped; any other run of letters or digits is a word.
_TOKEN = re.compile(r"\[[\d\s,;–-]+\]|[^\W_]+")
# Where an answer may be cut cleanly: after the end of a sentence or a line (not the point of "2.1").
_SENTENCE_END = re.compile(r"[.!?]\s|\n")
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class LoopRules:
    """What counts as a loop; the defaults never fire on tests/data/normal_answers.jsonl."""

    min_unit_tokens: int = 4
    min_unit_chars: int = 12
    min_repeats: int = 3
    min_run_tokens: int = 16
    # Only this tail of the text is read: a loop longer than a third of it is left to max_tokens.
    window_chars: int = 1500

    def __post_init__(self) -> None:
        if self.min_repeats < 2 or self.min_unit_tokens < 1 or self.min_run_tokens < 2:
            raise ValueError(f"{self} cannot tell a loop from a single copy; use min_repeats >= 2")
        if self.window_chars < 3 * self.min_unit_chars:
            raise ValueError(f"window_chars={self.window_chars} cannot hold three spans of {self.min_unit_chars}")


DEFAULT_RULES = LoopRules()


@dataclass(frozen=True)
class Loop:
    """A repetition found at the end of the text.

    `cut` is where to cut the text so that it keeps one copy (cut at a sentence end when the
    span holds one); `unit` is that copy as first written; `repeats` counts the whole copies seen.
    """

    cut: int
    unit: str
    repeats: int


# One word of the tail: (lower-cased word, start, end), offsets into the text read.
_Token = tuple[str, int, int]


def _tokens(text: str, start: int) -> list[_Token]:
    """The words of `text[start:]`, with offsets into `text`; a word cut by `start` is dropped."""
    found = [(m.group().casefold(), m.start(), m.end()) for m in _TOKEN.finditer(text, start) if m.group()[0] != "["]
    if found and start > 0 and found[0][1] == start and text[start - 1].isalnum():
        found.pop(0)
    return found


def find_loop(text: str, rules: LoopRules = DEFAULT_RULES, *, complete: bool = False) -> Loop | None:
    """The loop the end of `text` is stuck in, or None.

    Unless `complete`, the last word may still be growing (a stream stopped mid-word) and is not read.
    Cost: one pass over the last `rules.window_chars` characters, then, for each span length, a
    comparison of the last word with the one a span before (most lengths stop there).
    """
    tokens = _tokens(text, max(0, len(text) - rules.window_chars))
    if tokens and not complete and tokens[-1][2] == len(text):
        tokens.pop()
    words = [t[0] for t in tokens]
    n = len(words)
    lengths: dict[int, int] = {}
    for period in range(1, n // rules.min_repeats + 1):
        i = n - 1
        while i >= period and words[i] == words[i - period]:
            i -= 1
        # The last `length` words repeat with this period (the last copy may be unfinished).
        lengths[period] = length = n - 1 - i + period
        if length < rules.min_repeats * period or not _enough(tokens, period, length, rules):
            continue
        if any(lengths[d] >= length for d in range(1, period) if period % d == 0):
            continue  # a shorter span repeats here: it is judged on its own length
        return _loop(text, tokens, period, length)
    return None


def _enough(tokens: list[_Token], period: int, length: int, rules: LoopRules) -> bool:
    first = len(tokens) - length
    unit = tokens[first : first + period]
    if not any(_LETTER.search(t[0]) for t in unit):
        return False
    chars = tokens[first + period][1] - unit[0][1]
    if period >= rules.min_unit_tokens and chars >= rules.min_unit_chars:
        return length >= rules.min_repeats * period
    return length >= max(rules.min_run_tokens, rules.min_repeats * period)


def _loop(text: str, tokens: list[_Token], period: int, length: int) -> Loop:
    """Keep the text before the loop and one copy, ending where a sentence of the copy ends if one does."""
    first = len(tokens) - length
    second = first + period
    # The periodic run may start mid-sentence (its first word repeats the word before the loop), so the
    # copy kept may run on into the second one by up to a period, to end where a sentence ends.
    shift = next(
        (q for q in range(period) if _SENTENCE_END.search(text, tokens[second + q - 1][2], tokens[second + q][1])),
        0,
    )
    kept = len(text[: tokens[second + shift][1]].rstrip().rstrip(",;"))
    unit = text[tokens[first + shift][1] : tokens[second + shift][1]].strip()
    return Loop(kept, unit, length // period)


class LoopGuard:
    """Fed a stream's text pieces one by one, says when the text has fallen into a loop.

    Checks run once `stride` characters have come in since the last, each reading only the
    tail window: amortised O(window / stride) per character. Once a loop is found the guard
    stops reading; `text` is then cut after the loop's first copy.
    """

    def __init__(self, rules: LoopRules = DEFAULT_RULES, *, stride: int = 8) -> None:
        if stride < 1:
            raise ValueError(f"stride={stride}; use 1 or more characters")
        self.rules = rules
        self.stride = stride
        self.loop: Loop | None = None
        self._pieces: list[str] = []
        self._tail = ""  # the last characters of the text, at least a window's worth
        self._dropped = 0  # characters of the text before `_tail`
        self._unchecked = 0

    @property
    def looped(self) -> bool:
        return self.loop is not None

    @property
    def text(self) -> str:
        """All the text fed, or, after a loop, the text up to the end of its first copy."""
        whole = "".join(self._pieces)
        return whole if self.loop is None else whole[: self.loop.cut]

    def feed(self, delta: str) -> bool:
        """Read one more piece; True once the text is in a loop."""
        if self.loop is not None or not delta:
            return self.loop is not None
        self._pieces.append(delta)
        self._tail += delta
        if len(self._tail) > 2 * self.rules.window_chars:
            # Trimmed in one go every window's worth of text: each character is copied a bounded number of times.
            # One character more than a window, so the check sees that its first word may be cut short.
            keep = self.rules.window_chars + 1
            self._dropped += len(self._tail) - keep
            self._tail = self._tail[-keep:]
        self._unchecked += len(delta)
        if self._unchecked >= self.stride:
            self._unchecked = 0
            found = find_loop(self._tail, self.rules)
            if found is not None:
                self.loop = Loop(found.cut + self._dropped, found.unit, found.repeats)
        return self.loop is not None


def guarded(deltas: Iterator[str], guard: LoopGuard) -> Generator[str, None, None]:
    """`deltas` passed through until `guard` sees a loop; then, or when the reader stops, the source is closed.

    Closing the backend's generator is what stops the model: llama.cpp generates only while it is read.
    """
    try:
        for delta in deltas:
            yield delta
            if guard.feed(delta):
                return
    finally:
        close = getattr(deltas, "close", None)
        if callable(close):
            close()
