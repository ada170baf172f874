"""Usage figures from the question log (rag/question_log.py): questions per day, refusals, unsupported
sentences and latency. Pure: lines in, `LogStats` out; eval/stats_cli.py reads the files and prints.

The unsupported-sentence rate is computed as `rag eval` computes its "Unsupported sentences" metric
(eval.scoring.citation_scores): the share of an answer's sentences that no passage supports, averaged
over the answers that were not declined and have sentences. Latency percentiles leave out a step that
did not happen (no first token when retrieval declined), as eval.summary does.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from eval.metrics import percentile

STEPS = ("first_token", "total")


@dataclass(frozen=True)
class LoggedAnswer:
    """What the figures need from one log line."""

    day: str  # YYYY-MM-DD, in the time zone of the machine that answered
    refused: bool
    sentences: int
    unsupported: int
    timings: Mapping[str, float]


@dataclass(frozen=True)
class DayCount:
    day: str
    questions: int
    refused: int


@dataclass(frozen=True)
class LogStats:
    questions: int
    refused: int
    days: tuple[DayCount, ...]  # oldest first, days without questions left out
    unsupported_rate: float | None  # None: no answered question had sentences
    answer_sentences: int
    unsupported_sentences: int
    p50: Mapping[str, float]  # seconds by step (first_token, total)
    p95: Mapping[str, float]
    skipped_lines: int = 0  # torn or foreign lines

    @property
    def refusal_rate(self) -> float | None:
        return self.refused / self.questions if self.questions else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "refusal_rate": self.refusal_rate}


def parse_line(line: str) -> LoggedAnswer | None:
    """One log line, or None for a line that is not a question record (a crash may tear the last one)."""
    try:
        data = json.loads(line)
        timings = data.get("timings") or {}
        return LoggedAnswer(
            day=str(data["time"])[:10],
            refused=bool(data["refused"]),
            sentences=int(data.get("sentences") or 0),
            unsupported=int(data.get("unsupported") or 0),
            timings={step: float(timings[step]) for step in STEPS if timings.get(step)},
        )
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
        return None


def summarize_log(lines: Iterable[str]) -> LogStats:
    answers: list[LoggedAnswer] = []
    skipped = 0
    for line in lines:
        if not line.strip():
            continue
        parsed = parse_line(line)
        if parsed is None:
            skipped += 1
        else:
            answers.append(parsed)
    asked = Counter(a.day for a in answers)
    declined = Counter(a.day for a in answers if a.refused)
    shares = [a.unsupported / a.sentences for a in answers if not a.refused and a.sentences]
    timed = {step: [a.timings[step] for a in answers if step in a.timings] for step in STEPS}
    return LogStats(
        questions=len(answers),
        refused=sum(declined.values()),
        days=tuple(DayCount(day, asked[day], declined[day]) for day in sorted(asked)),
        unsupported_rate=sum(shares) / len(shares) if shares else None,
        answer_sentences=sum(a.sentences for a in answers if not a.refused),
        unsupported_sentences=sum(a.unsupported for a in answers if not a.refused),
        p50={step: percentile(v, 0.5) for step, v in timed.items() if v},
        p95={step: percentile(v, 0.95) for step, v in timed.items() if v},
        skipped_lines=skipped,
    )


def render(stats: LogStats, source: str, days: int = 14) -> str:
    """The figures as a short text report; the per-day table shows the last `days` days with questions."""
    if not stats.questions:
        return f"{source}: no questions logged yet"
    first, last = stats.days[0].day, stats.days[-1].day
    span = f"{len(stats.days)} days ({first} to {last})" if len(stats.days) > 1 else f"1 day ({first})"
    lines = [f"{source}: {stats.questions} questions on {span}", ""]
    shown = stats.days[-days:] if days > 0 else ()
    if shown:
        cut = f" (the last {len(shown)} of {len(stats.days)} days)" if len(shown) < len(stats.days) else ""
        lines.append(f"questions per day{cut}")
        for d in shown:
            declined = f"  ({d.refused} declined)" if d.refused else ""
            lines.append(f"  {d.day}  {d.questions:5d}{declined}")
        lines.append(f"  mean {stats.questions / len(stats.days):.1f} a day with questions")
        lines.append("")
    lines.append(f"refusal rate           {stats.refused}/{stats.questions} = {_percent(stats.refusal_rate)}")
    lines.append(
        f"unsupported sentences  {_percent(stats.unsupported_rate)} (mean share per answer, as in rag eval; "
        f"{stats.unsupported_sentences} of {stats.answer_sentences} sentences)"
    )
    lines.append("")
    lines.append(f"latency (seconds)  {'p50':>7} {'p95':>7}")
    for step in STEPS:
        if step in stats.p50:
            lines.append(f"  {step.replace('_', ' '):<16} {stats.p50[step]:7.2f} {stats.p95[step]:7.2f}")
    if stats.skipped_lines:
        lines.append(f"\n({stats.skipped_lines} unreadable lines skipped)")
    return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"
