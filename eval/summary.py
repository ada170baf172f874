"""Totals over per-question records: metric means with bootstrap 95% CIs, by group, and cost.

Every metric is the mean of a per-question value over the questions it applies to, so a
question is the unit of resampling for every confidence interval, paired ones included.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eval.metrics import percentile
from eval.questions import QuestionSet
from eval.records import QuestionRecord


@dataclass(frozen=True)
class MetricInfo:
    label: str
    family: str
    higher_is_better: bool = True


# key in QuestionRecord.metrics -> how reports name and group it
METRICS: dict[str, MetricInfo] = {
    "hit@k": MetricInfo("Hit@k", "retrieval"),
    "recall@k": MetricInfo("Recall@k", "retrieval"),
    "mrr@10": MetricInfo("MRR@10", "retrieval"),
    "ndcg@10": MetricInfo("nDCG@10", "retrieval"),
    "em": MetricInfo("Exact match", "answer"),
    "f1": MetricInfo("F1", "answer"),
    "contains": MetricInfo("Contains gold", "answer"),
    "short_em": MetricInfo("Short EM", "answer"),
    "short_f1": MetricInfo("Short F1", "answer"),
    "false_refusal": MetricInfo("False refusals", "refusal", higher_is_better=False),
    "citation_precision": MetricInfo("Citation precision", "citations"),
    "citation_recall": MetricInfo("Citation recall", "citations"),
    "unsupported": MetricInfo("Unsupported sentences", "citations", higher_is_better=False),
    "refusal_precision": MetricInfo("Refusal precision", "refusal"),
    "refusal_recall": MetricInfo("Refusal recall", "refusal"),
}
TIMINGS = ("retrieve", "first_token", "total")
BOOTSTRAP_SAMPLES = 2000


@dataclass(frozen=True)
class MetricSummary:
    key: str
    mean: float | None  # None: the metric applies to no question here
    low: float | None  # bootstrap 95% CI
    high: float | None
    n: int  # questions it applies to

    @property
    def info(self) -> MetricInfo:
        return METRICS[self.key]


@dataclass(frozen=True)
class Cost:
    p50: Mapping[str, float]  # seconds by step (retrieve, first_token, total)
    p95: Mapping[str, float]
    prompt_tokens: float  # mean per question that reached the model
    answer_tokens: float
    total_tokens: int
    mean: Mapping[str, float] = field(default_factory=dict)  # absent from summaries written before it
    looped: int = 0  # answers stopped because the model repeated itself (rag/repetition.py)


@dataclass(frozen=True)
class GroupSummary:
    name: str  # all | single-turn | multi-turn
    questions: int
    correct: float  # share right: contains a gold answer or declined an unanswerable one (retrieval: a hit)
    metrics: tuple[MetricSummary, ...]
    cost: Cost

    def metric(self, key: str) -> MetricSummary:
        return next(m for m in self.metrics if m.key == key)


@dataclass(frozen=True)
class Summary:
    questions: int
    k: int
    groups: tuple[GroupSummary, ...]
    problems: tuple[str, ...] = ()  # malformed lines and gold found nowhere in the index

    def group(self, name: str) -> GroupSummary:
        return next(g for g in self.groups if g.name == name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EvalRun:
    """One finished run as `eval.runner.run_eval` returns it and `eval.report` renders it."""

    out_dir: Path
    config: Mapping[str, Any]
    question_set: QuestionSet
    records: tuple[QuestionRecord, ...]  # the selected questions in file order
    summary: Summary
    reused: int  # records found from an earlier, interrupted run
    errors: tuple[str, ...] = ()  # questions that failed; not recorded, so a rerun retries them


def values(records: Sequence[QuestionRecord], key: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The per-question values of one metric, NaN where it does not apply."""
    raw = [r.metrics.get(key) for r in records]
    return np.array([math.nan if v is None else float(v) for v in raw], dtype=np.float64)


def resampled_means(
    vals: np.ndarray[Any, np.dtype[np.float64]], idx: np.ndarray[Any, np.dtype[np.int64]]
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Mean over the defined values of each resample (NaN where a resample has none)."""
    sample = vals[idx]
    defined = ~np.isnan(sample)
    counts = defined.sum(axis=1)
    sums = np.where(defined, sample, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def bootstrap_indices(n: int, seed: int = 0, samples: int = BOOTSTRAP_SAMPLES) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Resampled question positions, fixed by the seed so reports are reproducible."""
    return np.random.default_rng(seed).integers(0, n, size=(samples, n))


def interval(means: np.ndarray[Any, np.dtype[np.float64]]) -> tuple[float | None, float | None]:
    kept = means[~np.isnan(means)]
    if not len(kept):
        return None, None
    return float(np.percentile(kept, 2.5)), float(np.percentile(kept, 97.5))


def summarize_metric(records: Sequence[QuestionRecord], key: str, seed: int = 0) -> MetricSummary:
    vals = values(records, key)
    n = int((~np.isnan(vals)).sum())
    if n == 0:
        return MetricSummary(key, None, None, None, 0)
    low, high = interval(resampled_means(vals, bootstrap_indices(len(vals), seed)))
    return MetricSummary(key, float(np.nanmean(vals)), low, high, n)


def _cost(records: Sequence[QuestionRecord]) -> Cost:
    # A step that did not happen (no token when retrieval declined) has no time, not a zero one.
    timed = {step: [r.timings[step] for r in records if r.timings.get(step)] for step in TIMINGS}
    used = [r for r in records if r.prompt_tokens]
    return Cost(
        p50={step: percentile(v, 0.5) for step, v in timed.items() if v},
        p95={step: percentile(v, 0.95) for step, v in timed.items() if v},
        prompt_tokens=sum(r.prompt_tokens for r in used) / len(used) if used else 0.0,
        answer_tokens=sum(r.answer_tokens for r in used) / len(used) if used else 0.0,
        total_tokens=sum(r.prompt_tokens + r.answer_tokens for r in records),
        mean={step: sum(v) / len(v) for step, v in timed.items() if v},
        looped=sum(r.looped for r in records),
    )


def summarize_group(name: str, records: Sequence[QuestionRecord], seed: int = 0) -> GroupSummary:
    return GroupSummary(
        name=name,
        questions=len(records),
        correct=sum(r.correct for r in records) / len(records) if records else 0.0,
        metrics=tuple(summarize_metric(records, key, seed) for key in METRICS),
        cost=_cost(records),
    )


def summarize(records: Sequence[QuestionRecord], *, k: int, problems: Sequence[str] = (), seed: int = 0) -> Summary:
    """All questions, then single-turn and multi-turn ones separately when both kinds are present."""
    groups = [summarize_group("all", records, seed)]
    multi = [r for r in records if r.multi_turn]
    if multi and len(multi) < len(records):
        groups.append(summarize_group("single-turn", [r for r in records if not r.multi_turn], seed))
        groups.append(summarize_group("multi-turn", multi, seed))
    return Summary(len(records), k, tuple(groups), tuple(problems))


def summary_from_dict(data: Mapping[str, Any]) -> Summary:
    """A summary read back from summary.json."""
    groups = tuple(
        GroupSummary(
            g["name"],
            g["questions"],
            g["correct"],
            tuple(MetricSummary(**m) for m in g["metrics"]),
            Cost(**g["cost"]),
        )
        for g in data["groups"]
    )
    return Summary(data["questions"], data["k"], groups, tuple(data.get("problems") or ()))
