"""The stages of one answer, timed: what `Answer.timings` reports."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rag.types import Timings


@dataclass
class Clock:
    """Moments (perf_counter seconds) of one answer's stages; 0.0 for a stage that did not happen."""

    start: float = field(default_factory=time.perf_counter)
    rewrite: float = 0.0
    retrieve: float = 0.0
    first: float = 0.0
    generated: float = 0.0

    def timings(self) -> Timings:
        now = time.perf_counter()
        first = self.first - self.start if self.first else 0.0
        generate = self.generated - self.retrieve if self.generated else 0.0
        check = now - self.generated if self.generated else 0.0
        return Timings(
            rewrite=self.rewrite - self.start,
            retrieve=self.retrieve - self.rewrite,
            first_token=first,
            generate=generate,
            check=check,
            total=now - self.start,
        )
